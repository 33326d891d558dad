/**
 * Checks trigger parameters against a flow's parameter schema (from the Python signature) and
 * fills in defaults. Errors name the parameter: `parameters.limit: expected int`.
 *
 * Parameter names are user data: `constructor` or `__proto__` is a name like any other, so
 * lookups go through Maps and own-property checks, and the result has no prototype.
 */
import type { ParameterSpec } from "../contracts/worker";
import { invalid } from "./errors";

type Kind = "str" | "int" | "float" | "bool" | "dict" | "list" | "datetime" | "date" | "any";

/** Reads a Python type hint as text: `int`, `Optional[int]`, `list[str]`, `str | None`, … */
export function parseTypeHint(hint: string): { kind: Kind; nullable: boolean; literals?: unknown[] } {
  let h = hint.replace(/\btyping\./g, "").replace(/\s+/g, "");
  let nullable = false;
  const opt = /^Optional\[(.*)\]$/.exec(h);
  if (opt) {
    h = opt[1];
    nullable = true;
  }
  const parts = splitTopLevel(h, "|");
  if (parts.length > 1 && parts.includes("None")) {
    nullable = true;
    const rest = parts.filter((p) => p !== "None");
    h = rest.length === 1 ? rest[0] : "any";
  }
  const literal = /^Literal\[(.*)\]$/.exec(h);
  if (literal) {
    const values = splitTopLevel(literal[1], ",").map(pythonLiteral);
    if (values.every((v) => v !== undefined)) return { kind: "any", nullable, literals: values };
  }
  const base = h.replace(/\[.*$/, "").toLowerCase();
  const kinds: Record<string, Kind> = {
    str: "str", int: "int", float: "float", bool: "bool",
    dict: "dict", mapping: "dict", list: "list", sequence: "list", tuple: "list",
    datetime: "datetime", "datetime.datetime": "datetime", date: "date", "datetime.date": "date",
  };
  return { kind: Object.hasOwn(kinds, base) ? kinds[base] : "any", nullable };
}

function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "[" || c === "(") depth++;
    else if (c === "]" || c === ")") depth--;
    else if (c === sep && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.filter((p) => p !== "");
}

/** A Python literal as written in a hint ('red', 3, True, None); undefined when not one. */
function pythonLiteral(text: string): unknown {
  const q = /^(['"])(.*)\1$/.exec(text);
  if (q) return q[2].replace(/\\(.)/g, "$1");
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === "True") return true;
  if (text === "False") return false;
  if (text === "None") return null;
  return undefined;
}

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

function validDate(v: string): boolean {
  return !Number.isNaN(Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v.replace(" ", "T")));
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
    case "datetime":
      return typeof v === "string" && ISO_DATETIME.test(v) && validDate(v);
    case "date":
      return typeof v === "string" && ISO_DATE.test(v) && validDate(v);
    case "any":
      return true;
  }
}

const describe = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "list" : typeof v);

export function resolveParameters(specs: ParameterSpec[], given: Record<string, unknown>): Record<string, unknown> {
  const byName = new Map(specs.filter((s) => s.kind !== "var_keyword").map((s) => [s.name, s]));
  const acceptsExtra = specs.some((s) => s.kind === "var_keyword");
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(given)) {
    if (byName.has(key)) continue;
    if (!acceptsExtra) throw invalid(`parameters.${key}`, "unknown parameter");
    if (given[key] !== undefined) out[key] = given[key];
  }
  for (const spec of byName.values()) {
    const field = `parameters.${spec.name}`;
    const v = Object.hasOwn(given, spec.name) ? given[spec.name] : undefined;
    if (v === undefined) {
      if (spec.required) throw invalid(field, "required");
      if (spec.default !== undefined) out[spec.name] = spec.default;
      continue;
    }
    const { kind, nullable, literals } = parseTypeHint(spec.type);
    const choices = spec.choices ?? literals;
    if (v === null && (nullable || (kind === "any" && !choices))) {
      out[spec.name] = v;
      continue;
    }
    if (choices) {
      if (!choices.some((c) => c === v)) {
        throw invalid(field, `expected one of ${choices.map((c) => JSON.stringify(c)).join(", ")}, got ${JSON.stringify(v)}`.slice(0, 500));
      }
    } else if (v === null || !matches(kind, v)) {
      const what = kind === "datetime" || kind === "date" ? `an ISO ${kind} string` : spec.type;
      throw invalid(field, `expected ${what}, got ${describe(v)}`);
    }
    out[spec.name] = v;
  }
  return out;
}
