/** The schedule form's pure model: interval units, stored parameters, where a 400 lands. */
import { describe, expect, it } from "vitest";
import { fieldsOf } from "../../components/flows/parameter-form-model";
import { inputForField, intervalSecondsOf, splitInterval, withoutDefaults } from "../../components/flows/schedule-form-model";

describe("schedule form model", () => {
  it.each([
    [1, "1", "seconds"],
    [59, "59", "seconds"],
    [60, "1", "minutes"],
    [900, "15", "minutes"],
    [3600, "1", "hours"],
    [5400, "90", "minutes"],
    [86400, "24", "hours"],
    [3601, "3601", "seconds"],
  ] as const)("%i s is shown as %s %s", (seconds, value, unit) => {
    expect(splitInterval(seconds)).toEqual({ value, unit });
  });

  it.each([
    ["15", "minutes", { seconds: 900 }],
    ["1.5", "hours", { seconds: 5400 }],
    [" 2 ", "seconds", { seconds: 2 }],
    ["", "seconds", { error: "required" }],
    ["0", "minutes", { error: "a positive number" }],
    ["-3", "hours", { error: "a positive number" }],
    ["abc", "seconds", { error: "a positive number" }],
    ["1.5", "seconds", { error: "a whole number of seconds" }],
  ] as const)("%j %s → %j", (value, unit, want) => {
    expect(intervalSecondsOf(value, unit)).toEqual(want);
  });

  it("keeps only what differs from the flow's defaults, and required parameters always", () => {
    const fields = fieldsOf([
      { name: "label", type: "str", default: "hello", required: false },
      { name: "limit", type: "int", default: 10, required: false },
      { name: "options", type: "dict", default: { a: 1 }, required: false },
      { name: "region", type: "str", required: true },
    ]);
    expect(withoutDefaults(fields, { label: "hello", limit: 11, options: { a: 1 }, region: "eu" })).toEqual({ limit: 11, region: "eu" });
    expect(withoutDefaults(fields, { extra: 1 })).toEqual({ extra: 1 });
  });

  it.each([
    ["cron", { kind: "field", name: "cron" }],
    ["timezone", { kind: "field", name: "timezone" }],
    ["intervalSeconds", { kind: "field", name: "intervalSeconds" }],
    ["anchor", { kind: "field", name: "intervalSeconds" }],
    ["parameters.limit", { kind: "parameter", name: "limit" }],
    ["parameters.unknown", null],
    ["count", null],
    [undefined, null],
  ] as const)("a 400 naming %s lands on %j", (field, want) => {
    expect(inputForField(field, ["limit"])).toEqual(want);
  });
});
