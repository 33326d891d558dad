"use client";
/**
 * The parameter inputs of a form (the trigger panel, a schedule's parameters): each drawn from
 * the parameter's type, its error — found in the browser or named by a 400 — announced and tied
 * to the input, and cleared as soon as the value changes.
 */
import { useCallback, useId, useMemo, useState, type RefObject } from "react";
import { buildParameters, parameterOfField, type FieldModel, type FieldValue } from "./parameter-form-model";

export interface ParameterForm {
  fields: FieldModel[];
  values: Record<string, FieldValue>;
  errors: Record<string, string>;
  change: (name: string, value: FieldValue) => void;
  /** The parameters to send, and what is wrong with them (shown next to each field). */
  build: () => ReturnType<typeof buildParameters>;
  /** Moves the keyboard focus to a parameter's input. */
  focus: (name: string) => void;
  /** Shows a 400 next to the parameter its `details.field` names; false when it names none. */
  showServerError: (field: string | undefined, message: string) => boolean;
}

/** The values and errors of a form's parameter inputs; `formRef` is the form that holds them. */
export function useParameterForm(
  fields: FieldModel[],
  initial: () => Record<string, FieldValue>,
  formRef: RefObject<HTMLFormElement | null>,
): ParameterForm {
  const [values, setValues] = useState(initial);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const focus = useCallback(
    (name: string) => formRef.current?.querySelector<HTMLElement>(`[data-param="${CSS.escape(name)}"]`)?.focus(),
    [formRef],
  );
  return useMemo(
    () => ({
      fields,
      values,
      errors,
      change: (name, value) => {
        setValues((old) => ({ ...old, [name]: value }));
        setErrors((old) => {
          if (!(name in old)) return old;
          const { [name]: _, ...rest } = old;
          return rest;
        });
      },
      build: () => {
        const built = buildParameters(fields, values);
        setErrors(built.errors);
        return built;
      },
      focus,
      showServerError: (field, message) => {
        const name = parameterOfField(field, fields.map((f) => f.spec.name));
        if (name === null) return false;
        setErrors({ [name]: message });
        focus(name);
        return true;
      },
    }),
    [fields, values, errors, focus],
  );
}

/** Every parameter input of a form, in the flow's order. */
export function ParameterFields({ form }: { form: ParameterForm }) {
  return form.fields.map((f) => (
    <ParameterField key={f.spec.name} field={f} value={form.values[f.spec.name]} error={form.errors[f.spec.name]} onChange={(v) => form.change(f.spec.name, v)} />
  ));
}

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
