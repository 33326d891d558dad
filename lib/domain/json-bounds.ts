/**
 * Bounds on a parsed JSON value: how deep it nests and how many values it holds. Everything a
 * request carries passes through here before zod sees it, so no stored value can later break a
 * recursive reader (JSON.stringify in a response, the Python SDK's json decoder, the report).
 * The walk is iterative: a value nested a million levels deep costs a loop, never the stack.
 */
export const MAX_JSON_DEPTH = 64;
/** Values (objects, arrays, scalars) in one body; 1 MiB of `[0,0,…]` is ~500,000. */
export const MAX_JSON_NODES = 200_000;

export interface JsonBoundsViolation {
  /** Dotted path of the field that holds the offending value (object keys, then array indexes). */
  field: string;
  message: string;
}

/**
 * The first place `value` passes `maxDepth` levels of nesting (the top-level value is depth 0,
 * so `{ "a": [1] }` has depth 2) or the whole holds more than `maxNodes` values; null when it is
 * within bounds. The field named is the path down to where the limit was crossed, cut to its
 * first `fieldSegments` segments so a deeply nested answer stays short.
 */
export function checkJsonBounds(
  value: unknown,
  { maxDepth = MAX_JSON_DEPTH, maxNodes = MAX_JSON_NODES, prefix = "", fieldSegments = 4 } = {},
): JsonBoundsViolation | null {
  // Frames point at their parent instead of carrying a path: the path is built only to name
  // the field of a violation, so a wide value costs O(values), not O(values × depth).
  type Frame = { v: unknown; depth: number; key: string | null; parent: Frame | null };
  const stack: Frame[] = [{ v: value, depth: 0, key: prefix || null, parent: null }];
  let nodes = 0;
  const name = (f: Frame) => {
    const path: string[] = [];
    for (let x: Frame | null = f; x; x = x.parent) if (x.key !== null) path.push(x.key);
    return path.reverse().slice(0, fieldSegments).join(".") || "(body)";
  };
  while (stack.length) {
    const f = stack.pop()!;
    const { v, depth } = f;
    if (++nodes > maxNodes) return { field: name(f), message: `too many JSON values (more than ${maxNodes})` };
    if (typeof v !== "object" || v === null) continue;
    if (depth >= maxDepth) return { field: name(f), message: `nested deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth: depth + 1, key: String(i), parent: f });
    } else {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ v: (v as Record<string, unknown>)[keys[i]], depth: depth + 1, key: keys[i], parent: f });
      }
    }
  }
  return null;
}

/** Serialized size in bytes (UTF-8) of a value already known to be within depth bounds. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "", "utf8");
}

/**
 * A copy of a JSON object whose keys are data: a null-prototype object, so `__proto__`,
 * `constructor` and `toString` are ordinary own keys (a `{}` would turn `__proto__` into a
 * prototype change and answer `"constructor" in o` with true). Only the top level is copied:
 * JSON.parse already defines nested `__proto__` keys as own properties.
 */
export function dataObject<T = unknown>(value: Record<string, T>): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const key of Object.keys(value)) {
    Object.defineProperty(out, key, { value: value[key], enumerable: true, writable: true, configurable: true });
  }
  return out;
}
