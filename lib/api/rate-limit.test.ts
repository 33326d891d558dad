import { describe, expect, it } from "vitest";
import { InFlight, TokenBuckets } from "./rate-limit";

describe("TokenBuckets", () => {
  it("lets a burst through, then refuses with the seconds until the next token", () => {
    const b = new TokenBuckets(2, 3);
    for (let i = 0; i < 3; i++) expect(b.spend("a", 0).ok).toBe(true);
    expect(b.spend("a", 0)).toEqual({ ok: false, retryAfterSec: 1 });
    expect(b.spend("b", 0).ok).toBe(true); // keys are independent
  });

  it("refills at the rate and never above the burst", () => {
    const b = new TokenBuckets(2, 3);
    for (let i = 0; i < 3; i++) b.spend("a", 0);
    expect(b.spend("a", 499).ok).toBe(false);
    expect(b.spend("a", 500).ok).toBe(true); // 0.5 s × 2/s = one token
    expect(b.spend("a", 500).ok).toBe(false);
    for (let i = 0; i < 3; i++) expect(b.spend("a", 100_000).ok).toBe(true);
    expect(b.spend("a", 100_000).ok).toBe(false);
  });

  it("rounds Retry-After up at slow rates", () => {
    const b = new TokenBuckets(0.1, 1);
    b.spend("a", 0);
    expect(b.spend("a", 0).retryAfterSec).toBe(10);
  });

  it("keeps at most maxKeys keys (least recently used first out)", () => {
    const b = new TokenBuckets(1, 1, 3);
    for (const k of ["a", "b", "c", "d"]) b.spend(k, 0);
    expect(b.size).toBe(3);
    // "a" was evicted: it starts full again (what waiting would have given it anyway).
    expect(b.spend("a", 0).ok).toBe(true);
    expect(b.spend("d", 0).ok).toBe(false);
  });

  it("has() looks without spending", () => {
    const b = new TokenBuckets(1, 1);
    expect(b.has("a", 0)).toBe(true);
    b.spend("a", 0);
    expect(b.has("a", 0)).toBe(false);
    expect(b.has("a", 1000)).toBe(true);
  });
});

describe("InFlight", () => {
  it("caps per key and in total; leave() frees exactly once", () => {
    const f = new InFlight(2, 3);
    const a1 = f.enter("a")!;
    const a2 = f.enter("a")!;
    expect(f.enter("a")).toBeNull(); // per key
    const b1 = f.enter("b")!;
    expect(f.enter("c")).toBeNull(); // in total
    a1();
    a1(); // twice changes nothing
    expect(f.count("a")).toBe(1);
    expect(f.count()).toBe(2);
    expect(f.enter("c")).not.toBeNull();
    a2();
    b1();
    expect(f.keys).toBe(1);
  });
});
