import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ClientRegistry, parseClientsFile } from "../clients-file";
import { dataRecord } from "./data-record";
import { triggerRunSchema } from "./dashboard";
import { flowDefinitionSchema } from "./worker";

describe("dataRecord", () => {
  const schema = dataRecord(z.string().max(11), z.number());
  it("keeps __proto__, constructor and toString as ordinary keys (z.record drops __proto__)", () => {
    const input = JSON.parse('{"__proto__": 1, "constructor": 2, "toString": 3}');
    const out = schema.parse(input);
    expect(Object.keys(out)).toEqual(["__proto__", "constructor", "toString"]);
    expect(Object.getPrototypeOf(out)).toBeNull();
    expect(JSON.stringify(out)).toBe('{"__proto__":1,"constructor":2,"toString":3}');
    expect(Object.keys(z.record(z.string(), z.number()).parse(input))).not.toContain("__proto__");
  });
  it("names the bad entry", () => {
    const r = schema.safeParse({ ok: 1, bad: "x" });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].path).toEqual(["bad"]);
    expect(schema.safeParse({ "far-too-long-key": 1 }).error!.issues[0].path).toEqual(["far-too-long-key"]);
    expect(schema.safeParse([1]).success).toBe(false);
  });
  it("is what tags and trigger parameters are parsed with", () => {
    const flow = flowDefinitionSchema.parse({ name: "f", tags: JSON.parse('{"__proto__": "x"}') });
    expect(Object.keys(flow.tags)).toEqual(["__proto__"]);
    const { parameters } = triggerRunSchema.parse({});
    expect("constructor" in parameters).toBe(false);
    expect(flowDefinitionSchema.safeParse({ name: "f", tags: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, "v"])) }).success).toBe(false);
  });
});

describe("clients.json previousToken", () => {
  it("accepts the current and the previous token, and only those", () => {
    const reg = new ClientRegistry(parseClientsFile(JSON.stringify({ clients: [{ id: "a", name: "A", token: "new", previousToken: "old" }, { id: "b", name: "B", token: "bee" }] }), "t"));
    expect(reg.authenticate("a", "new")).toBe(true);
    expect(reg.authenticate("a", "old")).toBe(true);
    expect(reg.authenticate("a", "bee")).toBe(false);
    expect(reg.authenticate("b", "bee")).toBe(true);
    expect(reg.authenticate("b", "old")).toBe(false);
    expect(reg.authenticate("c", "new")).toBe(false);
    expect(reg.authenticate("a", null)).toBe(false);
  });
});
