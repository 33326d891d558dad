import { describe, expect, it } from "vitest";
import { RUN_STATES, TRANSITIONS, canTransition, isTerminal, type RunState } from "./states";

// The full matrix, written out: every allowed and every refused transition.
const ALLOWED: [RunState, RunState][] = [
  ["PENDING", "RUNNING"],
  ["PENDING", "CANCELLED"],
  ["PENDING", "FAILED"],
  ["RUNNING", "RUNNING"],
  ["RUNNING", "COMPLETED"],
  ["RUNNING", "FAILED"],
  ["RUNNING", "CANCELLED"],
  ["RUNNING", "PENDING"],
];

describe("transition table", () => {
  const cases = RUN_STATES.flatMap((from) => RUN_STATES.map((to) => [from, to] as const));
  it.each(cases)("%s → %s", (from, to) => {
    const allowed = ALLOWED.some(([f, t]) => f === from && t === to);
    expect(canTransition(from, to)).toBe(allowed);
  });

  it("terminal states are final: no way out of COMPLETED, FAILED or CANCELLED", () => {
    for (const s of ["COMPLETED", "FAILED", "CANCELLED"] as const) {
      expect(isTerminal(s)).toBe(true);
      expect(TRANSITIONS[s]).toEqual([]);
    }
    expect(isTerminal("PENDING")).toBe(false);
    expect(isTerminal("RUNNING")).toBe(false);
  });

  it("only a claim (RUNNING) goes back to PENDING: never a finished run, never PENDING itself", () => {
    for (const s of RUN_STATES) expect(canTransition(s, "PENDING")).toBe(s === "RUNNING");
  });
});
