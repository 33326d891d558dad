import { describe, expect, it } from "vitest";
import { HeartbeatThrottle } from "./heartbeat-throttle";

describe("HeartbeatThrottle", () => {
  it("lets a burst through, then paces the excess at the configured rate", () => {
    const t = new HeartbeatThrottle(10, 5, 2000);
    const now = 1_000_000;
    for (let i = 0; i < 5; i++) expect(t.delayFor("a", now)).toBe(0);
    expect(t.delayFor("a", now)).toBeCloseTo(100, 6);
    expect(t.delayFor("a", now)).toBeCloseTo(200, 6);
    expect(t.delayFor("b", now)).toBe(0); // clients are paced independently
  });
  it("refills over time and caps the delay", () => {
    const t = new HeartbeatThrottle(10, 1, 300);
    expect(t.delayFor("a", 0)).toBe(0);
    for (let i = 0; i < 10; i++) t.delayFor("a", 0);
    expect(t.delayFor("a", 0)).toBe(300);
    expect(t.delayFor("a", 10_000)).toBe(0);
  });
});
