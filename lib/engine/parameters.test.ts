import { describe, expect, it } from "vitest";
import { PerfectError } from "./errors";
import { parseTypeHint, resolveParameters } from "./parameters";

const specs = [
  { name: "day", type: "str", default: "today", required: false },
  { name: "limit", type: "int", default: 100, required: false },
  { name: "ratio", type: "float", required: false },
  { name: "dry", type: "bool", default: false, required: false },
  { name: "opts", type: "dict", required: false },
  { name: "ids", type: "list[int]", required: false },
  { name: "maybe", type: "Optional[int]", required: false },
  { name: "region", type: "str", required: true },
];

describe("resolveParameters", () => {
  it("fills defaults and keeps given values", () => {
    expect(resolveParameters(specs, { region: "eu", limit: 5 })).toEqual({ day: "today", limit: 5, dry: false, region: "eu" });
  });
  it.each([
    [{}, "parameters.region"],
    [{ region: "eu", limit: "5" }, "parameters.limit"],
    [{ region: "eu", limit: 1.5 }, "parameters.limit"],
    [{ region: "eu", ratio: "x" }, "parameters.ratio"],
    [{ region: "eu", dry: "yes" }, "parameters.dry"],
    [{ region: "eu", opts: [] }, "parameters.opts"],
    [{ region: "eu", ids: {} }, "parameters.ids"],
    [{ region: null }, "parameters.region"],
    [{ region: "eu", bogus: 1 }, "parameters.bogus"],
  ])("%j is refused naming %s", (given, field) => {
    try {
      resolveParameters(specs, given);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PerfectError);
      expect((e as PerfectError).details).toEqual({ field });
      expect((e as PerfectError).message.startsWith(field)).toBe(true);
    }
  });
  it("accepts null for Optional and numbers for float", () => {
    expect(resolveParameters(specs, { region: "eu", maybe: null, ratio: 2 })).toMatchObject({ maybe: null, ratio: 2 });
  });
  it.each([
    ["int", "int", false],
    ["typing.Optional[str]", "str", true],
    ["str | None", "str", true],
    ["Dict[str, int]", "dict", false],
    ["pandas.DataFrame", "any", false],
    ["any", "any", false],
  ])("parseTypeHint(%s)", (hint, kind, nullable) => {
    expect(parseTypeHint(hint)).toEqual({ kind, nullable });
  });
});
