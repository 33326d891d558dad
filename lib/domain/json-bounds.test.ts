import { describe, expect, it } from "vitest";
import { checkJsonBounds, dataObject } from "./json-bounds";

const nest = (levels: number, leaf: unknown = 1, key?: string): unknown => {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = key ? { [key]: v } : [v];
  return v;
};

describe("checkJsonBounds", () => {
  it.each([
    ["a scalar", 1, 0, null],
    ["null", null, 0, null],
    ["an empty object at the limit", nest(3, {}), 4, null],
    ["one level too deep", nest(4, {}), 4, "(body).0.0.0.0"],
  ] as const)("%s", (_name, value, maxDepth, field) => {
    const v = checkJsonBounds(value, { maxDepth: maxDepth || 64 });
    if (field === null) expect(v).toBeNull();
    else expect(v?.field).toBe(field.replace("(body).", ""));
  });

  it("counts depth from the top-level value: 64 levels pass, 65 do not", () => {
    expect(checkJsonBounds(nest(63, [1]))).toBeNull();
    expect(checkJsonBounds(nest(64, [1]))).toMatchObject({ message: "nested deeper than 64 levels" });
  });

  it("names the field down from the prefix, cut to four segments", () => {
    const body = { parameters: { p: nest(100, 1, "k") } };
    const v = checkJsonBounds(body);
    expect(v).toEqual({ field: "parameters.p.k.k", message: "nested deeper than 64 levels" });
    expect(checkJsonBounds({ p: nest(100) }, { prefix: "parameters" })?.field).toBe("parameters.p.0.0");
  });

  it("walks a million levels without touching the stack", () => {
    const deep = JSON.parse("[".repeat(1_000_000) + "]".repeat(1_000_000));
    expect(checkJsonBounds(deep)?.message).toBe("nested deeper than 64 levels");
  });

  it("bounds the number of values", () => {
    expect(checkJsonBounds(new Array(10).fill(0), { maxNodes: 11 })).toBeNull();
    expect(checkJsonBounds(new Array(11).fill(0), { maxNodes: 11 })?.message).toMatch(/too many JSON values/);
  });

  it("treats __proto__ and constructor keys as data", () => {
    const v = JSON.parse('{"__proto__": [[[1]]], "constructor": 2}');
    expect(checkJsonBounds(v, { maxDepth: 2 })?.field).toBe("__proto__.0");
  });
});

describe("dataObject", () => {
  it("keeps __proto__ as an own key and answers `in` only for own keys", () => {
    const o = dataObject(JSON.parse('{"__proto__": {"x": 1}, "a": 2}'));
    expect(Object.keys(o)).toEqual(["__proto__", "a"]);
    expect(Object.getPrototypeOf(o)).toBeNull();
    expect("constructor" in o).toBe(false);
    expect(JSON.parse(JSON.stringify(o))).toEqual(JSON.parse('{"__proto__": {"x": 1}, "a": 2}'));
  });
});
