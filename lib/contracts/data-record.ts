/**
 * A zod record whose keys are data. `z.record` builds its answer in a `{}`, where a key named
 * `__proto__` becomes a prototype change (the key silently vanishes) and `constructor` is
 * already "there"; this one checks every entry with the given schemas and returns a
 * null-prototype object, so user-chosen keys (tag keys, parameter names) behave like any other.
 */
import { z } from "zod";

export function dataRecord<V extends z.ZodType>(key: z.ZodType<string>, value: V, opts: { maxKeys?: number } = {}) {
  return z.unknown().transform((input, ctx): Record<string, z.infer<V>> => {
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      ctx.addIssue({ code: "custom", message: `expected an object, got ${input === null ? "null" : Array.isArray(input) ? "list" : typeof input}` });
      return z.NEVER;
    }
    const keys = Object.keys(input);
    if (opts.maxKeys !== undefined && keys.length > opts.maxKeys) {
      ctx.addIssue({ code: "custom", message: `at most ${opts.maxKeys} entries` });
      return z.NEVER;
    }
    const out = Object.create(null) as Record<string, z.infer<V>>;
    for (const k of keys) {
      const kr = key.safeParse(k);
      if (!kr.success) {
        ctx.addIssue({ code: "custom", message: `invalid key: ${kr.error.issues[0].message}`, path: [k] });
        return z.NEVER;
      }
      const vr = value.safeParse((input as Record<string, unknown>)[k]);
      if (!vr.success) {
        const issue = vr.error.issues[0];
        ctx.addIssue({ code: "custom", message: issue.message, path: [k, ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))] });
        return z.NEVER;
      }
      Object.defineProperty(out, k, { value: vr.data, enumerable: true, writable: true, configurable: true });
    }
    return out;
  });
}
