"use client";
/**
 * Create or edit a schedule of a flow (API schedules only: those from code are changed in code).
 * A cron or an interval, a time zone, parameters from the flow's schema, the catch-up and
 * overlap policies; a live preview of the next fire times and their wording, asked of the
 * server as you type. A 400 — from the preview or from saving — shows next to the field it names.
 */
import { useId, useMemo, useRef, useState, type FormEvent, type ReactNode } from "react";
import type { FlowView } from "@/lib/contracts/dashboard";
import { ApiRequestError } from "@/hooks/api-fetch";
import { useDebounced } from "@/hooks/use-debounced";
import {
  CATCHUP_HELP,
  CATCHUP_POLICIES,
  OVERLAP_HELP,
  OVERLAP_POLICIES,
  createSchedule,
  previewKey,
  updateSchedule,
  useSchedulePreview,
  type CatchupPolicy,
  type OverlapPolicy,
  type ScheduleInput,
  type ScheduleView,
} from "@/hooks/use-schedules";
import { SheetDialog } from "@/components/ui/sheet-dialog";
import { formatDateTime, formatUtc } from "@/components/ui/time-format";
import { ParameterFields, useParameterForm } from "./parameter-field";
import { fieldsOf, initialValue } from "./parameter-form-model";
import {
  INTERVAL_UNITS,
  inputForField,
  intervalSecondsOf,
  splitInterval,
  withoutDefaults,
  type IntervalUnit,
  type ScheduleField,
} from "./schedule-form-model";

type Kind = "cron" | "interval";
const PREVIEW_DEBOUNCE_MS = 300;

function timeZones(): string[] {
  let zones: string[] = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = [];
  }
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function ScheduleForm({ flow, schedule, onClose }: { flow: FlowView; schedule: ScheduleView | null; onClose: () => void }) {
  const fields = useMemo(() => fieldsOf(flow.parameters), [flow.parameters]);
  const zones = useMemo(() => timeZones(), []);
  const myZone = useMemo(() => browserTimeZone(), []);
  const formRef = useRef<HTMLFormElement>(null);
  const id = useId();
  const titleId = `${id}-title`;

  const initialInterval = splitInterval(schedule?.intervalSeconds ?? 900);
  const [kind, setKind] = useState<Kind>(schedule && schedule.intervalSeconds !== null && schedule.intervalSeconds !== undefined ? "interval" : "cron");
  const [cron, setCron] = useState(schedule?.cron ?? "0 6 * * *");
  const [intervalValue, setIntervalValue] = useState(initialInterval.value);
  const [unit, setUnit] = useState<IntervalUnit>(initialInterval.unit);
  const [timezone, setTimezone] = useState(schedule?.timezone ?? "UTC");
  const form = useParameterForm(
    fields,
    () =>
      Object.fromEntries(
        fields.map((f) => {
          const stored = schedule?.parameters ?? {};
          const has = Object.prototype.hasOwnProperty.call(stored, f.spec.name);
          return [f.spec.name, initialValue(has ? { ...f, spec: { ...f.spec, default: stored[f.spec.name] } } : f)];
        }),
      ),
    formRef,
  );
  const [active, setActive] = useState(schedule?.active ?? true);
  const [catchup, setCatchup] = useState<CatchupPolicy>(schedule?.catchup ?? "skip");
  const [overlap, setOverlap] = useState<OverlapPolicy>(schedule?.overlap ?? "allow");
  const [errors, setErrors] = useState<Partial<Record<ScheduleField, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);

  // The live preview: what the server would fire, for what is typed now (debounced).
  const interval = intervalSecondsOf(intervalValue, unit);
  const tz = timezone.trim();
  const wanted =
    kind === "cron"
      ? cron.trim()
        ? previewKey({ cron: cron.trim(), timezone: tz })
        : null
      : "seconds" in interval
        ? previewKey({ intervalSeconds: interval.seconds, anchor: schedule?.intervalSeconds ? schedule.anchor : null, timezone: tz })
        : null;
  const asked = useDebounced(wanted, PREVIEW_DEBOUNCE_MS);
  const preview = useSchedulePreview(asked);
  const previewError = preview.error instanceof ApiRequestError && preview.error.status === 400 ? preview.error : null;
  const previewTarget = previewError ? inputForField(previewError.field, []) : null;
  const previewFieldError = (name: ScheduleField): string | undefined =>
    previewTarget?.kind === "field" && previewTarget.name === name ? previewError!.message : undefined;
  const fieldError = (name: ScheduleField): string | undefined => errors[name] ?? previewFieldError(name);
  const stale = wanted !== asked || preview.isValidating;

  const clearError = (name: ScheduleField) => {
    if (errors[name]) setErrors(({ [name]: _, ...rest }) => rest);
  };

  const focus = (selector: string) => formRef.current?.querySelector<HTMLElement>(selector)?.focus();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (submitting) return;
    setFormError(null);
    const local: Partial<Record<ScheduleField, string>> = {};
    if (kind === "cron" && !cron.trim()) local.cron = "required";
    if (kind === "interval" && "error" in interval) local.intervalSeconds = interval.error;
    const built = form.build();
    setErrors(local);
    const firstField = Object.keys(local)[0];
    const firstParam = Object.keys(built.errors)[0];
    if (firstField || firstParam) {
      if (firstField) focus(`[data-field="${firstField}"]`);
      else form.focus(firstParam);
      return;
    }
    const input: ScheduleInput = {
      ...(kind === "cron" ? { cron: cron.trim() } : { intervalSeconds: (interval as { seconds: number }).seconds }),
      timezone: tz || "UTC",
      parameters: withoutDefaults(fields, built.parameters),
      active,
      catchup,
      overlap,
    };
    setSubmitting(true);
    try {
      if (schedule) await updateSchedule(schedule, input);
      else await createSchedule(flow.id, input);
      onClose();
    } catch (err) {
      setSubmitting(false);
      if (err instanceof ApiRequestError && err.status === 400) {
        const target = inputForField(err.field, fields.map((f) => f.spec.name));
        if (target?.kind === "field") {
          setErrors({ [target.name]: err.message });
          focus(`[data-field="${target.name}"]`);
          return;
        }
        if (form.showServerError(err.field, err.message)) return;
      }
      setFormError((err as Error).message);
    }
  };

  return (
    <SheetDialog labelledBy={titleId} onClose={onClose} testId="schedule-dialog" wide>
      <form ref={formRef} onSubmit={submit} noValidate data-testid="schedule-form" className="flex max-h-[calc(100dvh-2rem)] flex-col">
        <div className="border-b border-line px-5 py-4">
          <p className="section-title">{schedule ? "Edit schedule" : "New schedule"}</p>
          <h2 id={titleId} className="mt-1 text-lg font-bold break-words text-ink">
            {flow.name}
          </h2>
        </div>

        <div className="flex-1 space-y-5 overflow-y-auto px-5 py-4">
          <fieldset>
            <legend className="label">Fires</legend>
            <div className="flex flex-wrap gap-4 text-sm">
              {(["cron", "interval"] as const).map((k) => (
                <label key={k} className="flex cursor-pointer items-center gap-2">
                  <input
                    type="radio"
                    name={`${id}-kind`}
                    value={k}
                    checked={kind === k}
                    onChange={() => setKind(k)}
                    className="h-4 w-4 accent-accent"
                    data-testid={`schedule-kind-${k}`}
                  />
                  {k === "cron" ? "on a cron expression" : "every fixed interval"}
                </label>
              ))}
            </div>
          </fieldset>

          {kind === "cron" ? (
            <Field id={`${id}-cron`} label="Cron expression" error={fieldError("cron")} errorTestId="schedule-error-cron" hint="5 fields (minute hour day month weekday), or 6 with seconds first: */10 * * * * * is every 10 seconds.">
              {(aria) => (
                <input
                  {...aria}
                  className="field mono"
                  value={cron}
                  onChange={(e) => {
                    setCron(e.target.value);
                    clearError("cron");
                  }}
                  placeholder="0 6 * * *"
                  spellCheck={false}
                  autoComplete="off"
                  data-field="cron"
                  data-testid="schedule-cron"
                />
              )}
            </Field>
          ) : (
            <Field id={`${id}-interval`} label="Every" error={fieldError("intervalSeconds")} errorTestId="schedule-error-intervalSeconds" hint="Counted in elapsed time: a daylight-saving change does not move it.">
              {(aria) => (
                <div className="flex gap-2">
                  <input
                    {...aria}
                    className="field mono max-w-36"
                    type="number"
                    min={1}
                    step="any"
                    inputMode="decimal"
                    value={intervalValue}
                    onChange={(e) => {
                      setIntervalValue(e.target.value);
                      clearError("intervalSeconds");
                    }}
                    data-field="intervalSeconds"
                    data-testid="schedule-interval-value"
                  />
                  <select
                    className="field max-w-36"
                    aria-label="Interval unit"
                    value={unit}
                    onChange={(e) => {
                      setUnit(e.target.value as IntervalUnit);
                      clearError("intervalSeconds");
                    }}
                    data-testid="schedule-interval-unit"
                  >
                    {INTERVAL_UNITS.map((u) => (
                      <option key={u} value={u}>
                        {u}
                      </option>
                    ))}
                  </select>
                </div>
              )}
            </Field>
          )}

          <Field
            id={`${id}-tz`}
            label="Time zone"
            error={fieldError("timezone")}
            errorTestId="schedule-error-timezone"
            hint={kind === "cron" ? "The cron's hours and days are read as wall-clock time there (IANA name)." : "Where the intervals' anchor (midnight, 2020-01-01) is counted from."}
          >
            {(aria) => (
              <div className="flex flex-wrap gap-2">
                <input
                  {...aria}
                  className="field mono max-w-72"
                  list={`${id}-zones`}
                  value={timezone}
                  onChange={(e) => {
                    setTimezone(e.target.value);
                    clearError("timezone");
                  }}
                  placeholder="UTC"
                  spellCheck={false}
                  autoComplete="off"
                  data-field="timezone"
                  data-testid="schedule-timezone"
                />
                {myZone !== tz ? (
                  <button type="button" className="btn btn-sm" onClick={() => setTimezone(myZone)} data-testid="schedule-my-timezone">
                    Use mine ({myZone})
                  </button>
                ) : null}
                <datalist id={`${id}-zones`}>
                  {zones.map((z) => (
                    <option key={z} value={z} />
                  ))}
                </datalist>
              </div>
            )}
          </Field>

          <SchedulePreview
            loading={!preview.data && !preview.error && asked !== null}
            stale={stale}
            data={wanted && preview.data && !preview.error ? preview.data : null}
            error={previewError && !previewTarget ? previewError.message : preview.error && !previewError ? (preview.error as Error).message : null}
            refused={Boolean(previewTarget)}
            nothing={wanted === null}
          />

          <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
            <Field id={`${id}-catchup`} label="Catch-up" error={fieldError("catchup")} errorTestId="schedule-error-catchup" hint={CATCHUP_HELP[catchup]}>
              {(aria) => (
                <select {...aria} className="field" value={catchup} onChange={(e) => setCatchup(e.target.value as CatchupPolicy)} data-field="catchup" data-testid="schedule-catchup">
                  {CATCHUP_POLICIES.map((p) => (
                    <option key={p} value={p}>
                      {p}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field id={`${id}-overlap`} label="Overlap" error={fieldError("overlap")} errorTestId="schedule-error-overlap" hint={OVERLAP_HELP[overlap]}>
              {(aria) => (
                <select {...aria} className="field" value={overlap} onChange={(e) => setOverlap(e.target.value as OverlapPolicy)} data-field="overlap" data-testid="schedule-overlap">
                  {OVERLAP_POLICIES.map((p) => (
                    <option key={p} value={p}>
                      {p}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>

          <fieldset className="space-y-4">
            <legend className="label">Parameters</legend>
            {fields.length === 0 ? (
              <p className="text-sm text-muted">This flow takes no parameters.</p>
            ) : (
              <p className="text-xs text-faint">Values left at the flow&apos;s default are not stored: the schedule follows the defaults in the code.</p>
            )}
            <ParameterFields form={form} />
          </fieldset>

          <label className="flex items-center gap-3 text-sm">
            <input type="checkbox" className="h-4 w-4 accent-accent" checked={active} onChange={(e) => setActive(e.target.checked)} data-field="active" data-testid="schedule-active" />
            <span className="label mb-0!">Active</span>
            <span className="text-xs text-faint">(unchecked: saved paused, nothing fires)</span>
          </label>

          {formError ? (
            <p role="alert" className="rounded-md border border-st-failed/50 bg-st-failed/10 px-3 py-2 text-sm text-st-failed" data-testid="schedule-form-error">
              {formError}
            </p>
          ) : null}
        </div>

        <div className="flex justify-end gap-2 border-t border-line px-5 py-3">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={submitting} data-testid="schedule-submit">
            {submitting ? "Saving…" : schedule ? "Save schedule" : "Create schedule"}
          </button>
        </div>
      </form>
    </SheetDialog>
  );
}

/** A labelled input with a hint and its error, both tied to it for assistive tech. */
function Field({
  id,
  label,
  hint,
  error,
  errorTestId,
  children,
}: {
  id: string;
  label: string;
  hint?: string;
  error?: string;
  errorTestId: string;
  children: (aria: { id: string; "aria-invalid"?: true; "aria-describedby": string }) => ReactNode;
}) {
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  return (
    <div>
      <label htmlFor={id} className="label">
        {label}
      </label>
      {children({ id, "aria-invalid": error ? true : undefined, "aria-describedby": [error ? errorId : null, hint ? hintId : null].filter(Boolean).join(" ") })}
      {error ? (
        <p id={errorId} role="alert" className="mt-1 text-sm break-words text-st-failed" data-testid={errorTestId}>
          {error}
        </p>
      ) : null}
      {hint ? (
        <p id={hintId} className="mt-1 text-xs text-faint">
          {hint}
        </p>
      ) : null}
    </div>
  );
}

function SchedulePreview({
  data,
  error,
  loading,
  stale,
  nothing,
  refused,
}: {
  data: { times: string[]; description: string } | null;
  error: string | null;
  refused: boolean;
  loading: boolean;
  stale: boolean;
  nothing: boolean;
}) {
  return (
    <section className="rounded-lg border border-line bg-void/50 p-3" aria-label="Preview of the next fire times" data-testid="schedule-preview" data-stale={stale ? "true" : "false"}>
      <div className="flex items-center justify-between gap-2">
        <p className="section-title">Preview</p>
        {stale && !nothing ? <span className="text-xs text-faint">updating…</span> : null}
      </div>
      <div aria-live="polite">
        {nothing ? <p className="mt-1 text-sm text-muted">Fill in the schedule to see when it fires.</p> : null}
        {!nothing && loading ? <p className="mt-1 text-sm text-muted">Asking the server…</p> : null}
        {!nothing && refused ? <p className="mt-1 text-sm text-muted">Nothing to show: the server refused the field marked above.</p> : null}
        {!nothing && error ? (
          <p className="mt-1 text-sm text-st-failed" data-testid="schedule-preview-error">
            {error}
          </p>
        ) : null}
        {!nothing && data ? (
          <>
            <p className="mt-1 font-semibold break-words text-ink" data-testid="schedule-preview-description">
              {data.description}
            </p>
            <ol className="mono mt-1 space-y-0.5 text-xs text-muted">
              {data.times.map((t) => (
                <li key={t}>
                  <time dateTime={t} title={formatUtc(t)} data-testid="schedule-preview-time">
                    {formatDateTime(t)}
                  </time>
                  {/* Beside it only where the browser's local time is not UTC already. */}
                  {new Date(t).getTimezoneOffset() !== 0 ? <span className="text-faint"> · {formatUtc(t)}</span> : null}
                </li>
              ))}
            </ol>
          </>
        ) : null}
      </div>
    </section>
  );
}
