/**
 * Checks trigger parameters against a flow's parameter schema (from the Python signature) and
 * fills in defaults. Errors name the parameter: `parameters.limit: expected int`.
 */
import type { ParameterSpec } from "../contracts/worker";
import { invalid } from "./errors";

type Kind = "str" | "int" | "float" | "bool" | "dict" | "list" | "any";

/** Reads a Python type hint as text: `int`, `Optional[int]`, `list[str]`, `str | None`, … */
export function parseTypeHint(hint: string): { kind: Kind; nullable: boolean } {
  let h = hint.replace(/\btyping\./g, "").replace(/\s+/g, "");
  let nullable = false;
  const opt = /^Optional\[(.*)\]$/.exec(h);
  if (opt) {
    h = opt[1];
    nullable = true;
  }
  const parts = h.split("|");
  if (parts.length > 1 && parts.includes("None")) {
    nullable = true;
    const rest = parts.filter((p) => p !== "None");
    h = rest.length === 1 ? rest[0] : "any";
  }
  const base = h.replace(/\[.*$/, "").toLowerCase();
  const kinds: Record<string, Kind> = {
    str: "str", int: "int", float: "float", bool: "bool",
    dict: "dict", mapping: "dict", list: "list", sequence: "list", tuple: "list",
  };
  return { kind: kinds[base] ?? "any", nullable };
}

function matches(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case "str":
      return typeof v === "string";
    case "int":
      return typeof v === "number" && Number.isInteger(v);
    case "float":
      return typeof v === "number" && Number.isFinite(v);
    case "bool":
      return typeof v === "boolean";
    case "dict":
      return typeof v === "object" && v !== null && !Array.isArray(v);
    case "list":
      return Array.isArray(v);
    case "any":
      return true;
  }
}

export function resolveParameters(specs: ParameterSpec[], given: Record<string, unknown>): Record<string, unknown> {
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (const key of Object.keys(given)) {
    if (!byName.has(key)) throw invalid(`parameters.${key}`, "unknown parameter");
  }
  const out: Record<string, unknown> = {};
  for (const spec of specs) {
    const field = `parameters.${spec.name}`;
    if (!(spec.name in given) || given[spec.name] === undefined) {
      if (spec.required) throw invalid(field, "required");
      if (spec.default !== undefined) out[spec.name] = spec.default;
      continue;
    }
    const v = given[spec.name];
    const { kind, nullable } = parseTypeHint(spec.type);
    if (v === null ? !nullable && kind !== "any" : !matches(kind, v)) {
      throw invalid(field, `expected ${spec.type}, got ${v === null ? "null" : Array.isArray(v) ? "list" : typeof v}`);
    }
    out[spec.name] = v;
  }
  return out;
}
