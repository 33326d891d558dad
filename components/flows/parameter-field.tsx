"use client";
/**
 * One input of a parameter form (the trigger panel, a schedule's parameters), drawn from the
 * parameter's type; its error, when it has one, is announced and tied to the input.
 */
import { useId } from "react";
import type { FieldModel, FieldValue } from "./parameter-form-model";

export function ParameterField({
  field,
  value,
  error,
  onChange,
}: {
  field: FieldModel;
  value: FieldValue;
  error?: string;
  onChange: (v: FieldValue) => void;
}) {
  const { spec, input } = field;
  const id = useId();
  const errorId = `${id}-error`;
  const common = {
    id,
    "data-param": spec.name,
    "data-testid": `param-${spec.name}`,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": error ? errorId : undefined,
    "aria-required": spec.required || undefined,
  } as const;
  const label = (
    <span className="flex flex-wrap items-baseline gap-x-2">
      <span className="mono text-ink">{spec.name}</span>
      {spec.required ? (
        <span className="text-st-critical" title="required">
          * <span className="sr-only">required</span>
        </span>
      ) : null}
      <span className="mono text-xs font-normal text-faint">{spec.type}</span>
    </span>
  );
  return (
    <div>
      {input === "bool" ? (
        <label htmlFor={id} className="flex items-center gap-3">
          <input
            {...common}
            type="checkbox"
            className="h-4 w-4 accent-accent"
            checked={value === true}
            onChange={(e) => onChange(e.target.checked)}
          />
          <span className="label mb-0!">{label}</span>
        </label>
      ) : (
        <>
          <label htmlFor={id} className="label">
            {label}
          </label>
          {input === "json" ? (
            <textarea
              {...common}
              className="field mono min-h-20 text-xs"
              rows={Math.min(Math.max(String(value).split("\n").length, 2), 8)}
              spellCheck={false}
              placeholder={spec.required ? "JSON value" : "JSON value (empty = default)"}
              value={String(value)}
              onChange={(e) => onChange(e.target.value)}
            />
          ) : (
            <input
              {...common}
              className={`field ${input === "text" ? "" : "mono"}`}
              type={input === "text" ? "text" : "number"}
              step={input === "int" ? 1 : input === "float" ? "any" : undefined}
              inputMode={input === "int" ? "numeric" : input === "float" ? "decimal" : undefined}
              placeholder={spec.required ? "" : "default"}
              value={String(value)}
              onChange={(e) => onChange(e.target.value)}
            />
          )}
        </>
      )}
      {error ? (
        <p id={errorId} role="alert" className="mt-1 text-sm text-st-failed" data-testid={`param-error-${spec.name}`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}
