/**
 * The trigger form's model, generated from a flow's parameter schema (Python type hints as
 * text): which input each parameter gets, its prefilled value, and the JSON payload it sends.
 * Pure, so it is easy to reason about; the server re-validates everything anyway.
 */
import type { ParameterSpec } from "@/lib/contracts/worker";
import { parseTypeHint } from "@/lib/engine/parameters";

export type InputKind = "text" | "int" | "float" | "bool" | "json";
export type FieldValue = string | boolean;

export interface FieldModel {
  spec: ParameterSpec;
  input: InputKind;
  nullable: boolean;
}

export function fieldsOf(specs: ParameterSpec[]): FieldModel[] {
  return specs.map((spec) => {
    const { kind, nullable } = parseTypeHint(spec.type || "any");
    const input: InputKind =
      kind === "str" ? "text" : kind === "int" ? "int" : kind === "float" ? "float" : kind === "bool" ? "bool" : "json";
    return { spec, input, nullable };
  });
}

export function initialValue(f: FieldModel): FieldValue {
  const d = f.spec.default;
  switch (f.input) {
    case "bool":
      return d === true;
    case "text":
      return typeof d === "string" ? d : d === undefined || d === null ? "" : String(d);
    case "int":
    case "float":
      return typeof d === "number" ? String(d) : "";
    case "json":
      // A None default stays empty: left out, the server applies it (a typed `dict` refuses null).
      return d === undefined || d === null ? "" : JSON.stringify(d, null, 2);
  }
}

export function initialValues(fields: FieldModel[]): Record<string, FieldValue> {
  return Object.fromEntries(fields.map((f) => [f.spec.name, initialValue(f)]));
}

/**
 * Values → `parameters`. An empty optional field is left out so the server applies the
 * Python default; what the browser can already tell is wrong is reported per field.
 */
export function buildParameters(
  fields: FieldModel[],
  values: Record<string, FieldValue>,
): { parameters: Record<string, unknown>; errors: Record<string, string> } {
  const parameters: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const name = f.spec.name;
    const v = values[name];
    if (f.input === "bool") {
      parameters[name] = v === true;
      continue;
    }
    const text = typeof v === "string" ? v : "";
    const empty = text.trim() === "";
    if (f.input === "text") {
      // A string parameter with a string default keeps "" as a real value; otherwise empty = default.
      if (empty && text === "" && typeof f.spec.default !== "string") {
        if (f.spec.required) errors[name] = "required";
        continue;
      }
      parameters[name] = text;
      continue;
    }
    if (empty) {
      if (f.spec.required) errors[name] = "required";
      continue;
    }
    if (f.input === "int" || f.input === "float") {
      const n = Number(text.trim());
      if (!Number.isFinite(n)) errors[name] = `expected ${f.spec.type}, got "${text}"`;
      else parameters[name] = n;
      continue;
    }
    try {
      parameters[name] = JSON.parse(text);
    } catch (e) {
      errors[name] = `invalid JSON: ${(e as Error).message}`;
    }
  }
  return { parameters, errors };
}

/** A 400's `details.field` (`parameters.<name>…`) → the parameter it names, when the form has one. */
export function parameterOfField(field: string | undefined, parameterNames: readonly string[]): string | null {
  if (!field?.startsWith("parameters.")) return null;
  const name = field.slice("parameters.".length).split(".")[0];
  return parameterNames.includes(name) ? name : null;
}
