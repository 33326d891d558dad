/**
 * The schedule form's model, pure: intervals in a unit people think in, the parameters a
 * schedule stores (only what differs from the flow's defaults), and which input a field named
 * by a 400 belongs to.
 */
import { parameterOfField, type FieldModel } from "./parameter-form-model";

export const INTERVAL_UNITS = ["seconds", "minutes", "hours"] as const;
export type IntervalUnit = (typeof INTERVAL_UNITS)[number];
export const UNIT_SECONDS: Record<IntervalUnit, number> = { seconds: 1, minutes: 60, hours: 3600 };

/** Seconds → the largest unit that divides them evenly: 900 → 15 minutes, 5400 → 90 minutes. */
export function splitInterval(seconds: number): { value: string; unit: IntervalUnit } {
  for (const unit of ["hours", "minutes"] as const) {
    if (seconds >= UNIT_SECONDS[unit] && seconds % UNIT_SECONDS[unit] === 0) return { value: String(seconds / UNIT_SECONDS[unit]), unit };
  }
  return { value: String(seconds), unit: "seconds" };
}

/** "1.5" hours → 5400; what cannot be a whole number of seconds is an error to show. */
export function intervalSecondsOf(value: string, unit: IntervalUnit): { seconds: number } | { error: string } {
  const text = value.trim();
  if (!text) return { error: "required" };
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) return { error: "a positive number" };
  const seconds = Math.round(n * UNIT_SECONDS[unit] * 1000) / 1000;
  if (!Number.isInteger(seconds)) return { error: "a whole number of seconds" };
  // The upper bound is the server's to say (its 400 lands here through the preview).
  return { seconds };
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * A schedule keeps only the values that differ from the flow's defaults, so it follows the
 * flow when a default changes in code; a required parameter (no default) is always kept.
 */
export function withoutDefaults(fields: FieldModel[], parameters: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(parameters)) {
    const spec = fields.find((f) => f.spec.name === name)?.spec;
    if (spec && !spec.required && spec.default !== undefined && same(spec.default, v)) continue;
    out[name] = v;
  }
  return out;
}

/** The form's own inputs that a 400's `details.field` can name. */
export const SCHEDULE_FIELDS = ["cron", "intervalSeconds", "timezone", "catchup", "overlap", "active"] as const;
export type ScheduleField = (typeof SCHEDULE_FIELDS)[number];

/** `details.field` → the input to show it next to: one of the form's own, a parameter, or none. */
export function inputForField(field: string | undefined, parameterNames: string[]): { kind: "field"; name: ScheduleField } | { kind: "parameter"; name: string } | null {
  if (!field) return null;
  if (field === "anchor") return { kind: "field", name: "intervalSeconds" };
  if ((SCHEDULE_FIELDS as readonly string[]).includes(field)) return { kind: "field", name: field as ScheduleField };
  const name = parameterOfField(field, parameterNames);
  return name === null ? null : { kind: "parameter", name };
}
