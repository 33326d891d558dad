import { describe, expect, it } from "vitest";
import {
  SENSITIVITY_THRESHOLDS,
  classify,
  criticalDurationMs,
  escalate,
  evaluateDuration,
  flooredSigma,
  summarize,
  thresholdFor,
} from "./outliers";
import { SENSITIVITIES } from "../domain/states";

describe("the brief's threshold table, row by row", () => {
  it.each([
    ["conservative", 7, 5],
    ["normal", 5, 3.3],
    ["aggressive", 3, 2.5],
  ] as const)("%s: %d below 20 samples, %d from 20", (s, small, large) => {
    expect(SENSITIVITY_THRESHOLDS[s]).toEqual({ belowLargeSample: small, largeSample: large });
  });
});

// Each sensitivity × n ∈ {4, 5, 19, 20, 100} × z just below / at / above T and 2T.
const N = [4, 5, 19, 20, 100];
const cases = SENSITIVITIES.flatMap((s) =>
  N.flatMap((n) => {
    const T = n < 5 ? null : n < 20 ? SENSITIVITY_THRESHOLDS[s].belowLargeSample : SENSITIVITY_THRESHOLDS[s].largeSample;
    const base = T ?? 3;
    return [
      [s, n, base - 0.01, T === null ? null : null],
      [s, n, base, T === null ? null : "SLOW"],
      [s, n, base + 0.01, T === null ? null : "SLOW"],
      [s, n, 2 * base - 0.01, T === null ? null : "SLOW"],
      [s, n, 2 * base, T === null ? null : "CRITICAL"],
      [s, n, 2 * base + 0.01, T === null ? null : "CRITICAL"],
    ] as const;
  }),
);

describe("evaluateDuration", () => {
  const mean = 10_000;
  const stddev = 1_000; // above the 5 % floor, so σ is used as is
  it.each(cases)("%s, n=%d, z=%d → %s", (s, n, z, expected) => {
    const d = mean + z * stddev;
    const ev = evaluateDuration(d, { mean, stddev, samples: n }, s);
    if (n < 5) {
      expect(ev).toBeNull();
      return;
    }
    expect(ev!.warning).toBe(expected);
    expect(ev!.threshold).toBe(thresholdFor(s, n));
    expect(ev!.zScore).toBeCloseTo(z, 9);
  });

  it("floors σ at 5 % of the mean: a σ = 0 baseline does not flag jitter", () => {
    expect(flooredSigma(1000, 0)).toBe(50);
    expect(evaluateDuration(1010, { mean: 1000, stddev: 0, samples: 50 }, "aggressive")!.warning).toBeNull();
    // 2.5 floored σ above the mean is SLOW for aggressive at n ≥ 20.
    expect(evaluateDuration(1125, { mean: 1000, stddev: 0, samples: 50 }, "aggressive")!.warning).toBe("SLOW");
  });

  it("floors σ at 1 ms for tiny tasks", () => {
    expect(flooredSigma(4, 0)).toBe(1);
    const ev = evaluateDuration(9, { mean: 4, stddev: 0, samples: 30 }, "normal")!;
    expect(ev.zScore).toBe(5);
    expect(ev.warning).toBe("SLOW");
  });

  it("a fast task is never flagged", () => {
    expect(evaluateDuration(1, { mean: 1000, stddev: 10, samples: 100 }, "aggressive")!.warning).toBeNull();
  });
});

describe("helpers", () => {
  it("classify at the boundaries", () => {
    expect(classify(3.3, 3.3)).toBe("SLOW");
    expect(classify(6.6, 3.3)).toBe("CRITICAL");
    expect(classify(3.29, 3.3)).toBeNull();
  });
  it("criticalDurationMs is μ + 2Tσ", () => {
    expect(criticalDurationMs({ mean: 1000, stddev: 100, samples: 20 }, "normal")).toBeCloseTo(1000 + 2 * 3.3 * 100, 9);
    expect(criticalDurationMs({ mean: 1000, stddev: 100, samples: 4 }, "normal")).toBeNull();
  });
  it("summarize is mean and population σ", () => {
    expect(summarize([2, 4, 4, 4, 5, 5, 7, 9])).toEqual({ mean: 5, stddev: 2, samples: 8 });
    expect(summarize([])).toEqual({ mean: 0, stddev: 0, samples: 0 });
  });
  it("warnings only escalate", () => {
    expect(escalate(null, "SLOW")).toBe("SLOW");
    expect(escalate("SLOW", "CRITICAL")).toBe("CRITICAL");
    expect(escalate("CRITICAL", "SLOW")).toBe("CRITICAL");
    expect(escalate("CRITICAL", null)).toBe("CRITICAL");
    expect(escalate(null, null)).toBeNull();
  });
});
