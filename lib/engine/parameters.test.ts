import { describe, expect, it } from "vitest";
import { PerfectError } from "./errors";
import { parseTypeHint, resolveParameters } from "./parameters";
import type { ParameterSpec } from "../contracts/worker";

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

describe("choices, dates, **kwargs and user keys (issue 10 item 7, issue 11 item 5)", () => {
  const spec = (over: Partial<ParameterSpec>): ParameterSpec => ({ name: "p", type: "any", required: false, ...over });

  it("Literal[...] from the hint and Enum choices from the SDK: a value outside them is 400 naming the parameter", () => {
    const lit = [spec({ name: "color", type: "Literal['red', 'green']", default: "red" })];
    expect(resolveParameters(lit, { color: "green" })).toEqual({ color: "green" });
    expect(() => resolveParameters(lit, { color: "purple" })).toThrow(/parameters\.color: expected one of "red", "green", got "purple"/);
    const en = [spec({ name: "mode", type: "Mode", choices: [1, 2] })];
    expect(resolveParameters(en, { mode: 2 })).toEqual({ mode: 2 });
    expect(() => resolveParameters(en, { mode: "2" })).toThrow(/parameters\.mode/);
    const opt = [spec({ name: "c", type: "Optional[Literal['a']]" })];
    expect(resolveParameters(opt, { c: null })).toEqual({ c: null });
  });

  it("datetime and date parameters take ISO strings only", () => {
    const s = [spec({ name: "at", type: "datetime" }), spec({ name: "day", type: "datetime.date" })];
    expect(resolveParameters(s, { at: "2026-12-01T10:00:00Z", day: "2026-12-01" })).toEqual({ at: "2026-12-01T10:00:00Z", day: "2026-12-01" });
    expect(() => resolveParameters(s, { at: "tomorrow" })).toThrow(/parameters\.at: expected an ISO datetime string/);
    expect(() => resolveParameters(s, { day: "2026-13-45" })).toThrow(/parameters\.day/);
    expect(() => resolveParameters(s, { at: 1700000000 })).toThrow(/parameters\.at/);
  });

  it("a flow with **kwargs accepts extra names; one without refuses them", () => {
    const kw = [spec({ name: "limit", type: "int", default: 1 }), spec({ name: "kwargs", type: "Any", kind: "var_keyword" })];
    expect(resolveParameters(kw, { extra: "x" })).toEqual({ limit: 1, extra: "x" });
    expect(resolveParameters(kw, {})).toEqual({ limit: 1 });
    expect(() => resolveParameters([spec({ name: "limit", type: "int" })], { extra: 1 })).toThrow(/parameters\.extra: unknown parameter/);
  });

  it("parameter names like constructor and __proto__ are data", () => {
    const s = [spec({ name: "constructor", type: "str", default: "c" }), spec({ name: "__proto__", type: "str", default: "p" }), spec({ name: "toString", type: "int", default: 3 })];
    const out = resolveParameters(s, {});
    expect(Object.keys(out)).toEqual(["constructor", "__proto__", "toString"]);
    expect(JSON.parse(JSON.stringify(out))).toEqual(JSON.parse('{"constructor":"c","__proto__":"p","toString":3}'));
    const given = JSON.parse('{"__proto__": "x", "constructor": "y"}');
    expect(JSON.stringify(resolveParameters(s, given))).toBe('{"constructor":"y","__proto__":"x","toString":3}');
    expect(() => resolveParameters([], JSON.parse('{"__proto__": 1}'))).toThrow(/parameters\.__proto__: unknown parameter/);
  });
});
