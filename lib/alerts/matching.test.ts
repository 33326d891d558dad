// Rule matching is pure: a table of subjects against rules, and the one-delivery-per-destination rule.
import { describe, expect, it } from "vitest";
import type { AlertRule } from "./alerts-file";
import { matchTargets, ruleMatches, throttleKey, type AlertSubject } from "./matching";

const rule = (over: Partial<AlertRule> = {}): AlertRule => ({ index: 0, on: ["run.failed"], flows: null, tags: null, clients: null, to: ["a"], throttleSeconds: 0, ...over });
const run = (over: Partial<AlertSubject> = {}): AlertSubject => ({ flow: "etl", tags: { team: "data", env: "prod" }, clientId: "acme", ...over });
const protoTags = JSON.parse('{"__proto__": "x"}') as Record<string, string>;

describe("ruleMatches", () => {
  it.each([
    ["no filters", rule(), run(), true],
    ["flow listed", rule({ flows: ["etl", "other"] }), run(), true],
    ["flow not listed", rule({ flows: ["other"] }), run(), false],
    ["every tag equal", rule({ tags: { team: "data", env: "prod" } }), run(), true],
    ["one tag differs", rule({ tags: { team: "data", env: "dev" } }), run(), false],
    ["tag missing on the run", rule({ tags: { owner: "x" } }), run(), false],
    ["inherited key is not a tag", rule({ tags: { toString: "x" } }), run(), false],
    ["__proto__ is a plain tag", rule({ tags: protoTags }), run({ tags: protoTags }), true],
    ["client listed", rule({ clients: ["acme"] }), run(), true],
    ["client not listed", rule({ clients: ["other"] }), run(), false],
    ["all filters", rule({ flows: ["etl"], tags: { team: "data" }, clients: ["acme"] }), run(), true],
    ["no flow (worker.lost): flow and tag filters do not apply", rule({ flows: ["etl"], tags: { team: "x" } }), run({ flow: null, tags: null }), true],
    ["no flow, client filter applies", rule({ clients: ["other"] }), run({ flow: null, tags: null }), false],
  ])("%s", (_name, r, s, expected) => {
    expect(ruleMatches(r, s)).toBe(expected);
  });
});

describe("matchTargets", () => {
  it("one target per destination, the first matching rule (in file order) deciding", () => {
    const rules = [rule({ index: 0, flows: ["other"], to: ["a"] }), rule({ index: 1, to: ["a", "b"], throttleSeconds: 60 }), rule({ index: 2, to: ["b", "c"] })];
    expect(matchTargets(rules, run()).map((t) => [t.destinationId, t.rule.index])).toEqual([
      ["a", 1],
      ["b", 1],
      ["c", 2],
    ]);
    expect(matchTargets([], run())).toEqual([]);
  });

  it("throttle buckets are per rule, destination and flow (per client without a flow); none without throttleSeconds", () => {
    const [t] = matchTargets([rule({ index: 3, throttleSeconds: 60 })], run());
    expect(throttleKey(t, run())).toBe("rule3:a:etl");
    expect(throttleKey(t, run({ flow: null }))).toBe("rule3:a:client:acme");
    expect(throttleKey(matchTargets([rule()], run())[0], run())).toBeNull();
  });
});
