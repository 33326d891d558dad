"use client";
/**
 * Backfill a schedule: pick a range, see how many runs it would create (a dry run, nothing
 * stored), confirm, and follow the link to those runs in the history. Fire times that already
 * have a run are skipped, so backfilling twice creates nothing the second time.
 */
import Link from "next/link";
import { useId, useState, type FormEvent } from "react";
import type { FlowView } from "@/lib/contracts/dashboard";
import { ApiRequestError } from "@/hooks/api-fetch";
import { previewBackfill, runBackfill, type BackfillPreview, type BackfillResult, type ScheduleView } from "@/hooks/use-schedules";
import { SheetDialog } from "@/components/ui/sheet-dialog";
import { formatDateTime, formatUtc, fromLocalInput, toLocalInput } from "@/components/ui/time-format";

type RangeField = "from" | "to";
const SHOWN_TIMES = 8;

export function BackfillDialog({ flow, schedule, onClose }: { flow: FlowView; schedule: ScheduleView; onClose: () => void }) {
  const id = useId();
  const titleId = `${id}-title`;
  // A day back to now, to the minute: a common first question ("what did we miss today?").
  const [from, setFrom] = useState(() => toLocalInput(new Date(Date.now() - 86_400_000).toISOString()));
  const [to, setTo] = useState(() => toLocalInput(new Date().toISOString()));
  const [errors, setErrors] = useState<Partial<Record<RangeField, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The dry run answers for one exact range; editing the range asks again before confirming.
  const [preview, setPreview] = useState<{ range: string; answer: BackfillPreview } | null>(null);
  const [done, setDone] = useState<BackfillResult | null>(null);

  const range = (): { from: string; to: string } | null => {
    const local: Partial<Record<RangeField, string>> = {};
    const f = fromLocalInput(from);
    const t = fromLocalInput(to);
    if (!f) local.from = "required";
    if (!t) local.to = "required";
    if (f && t && Date.parse(f) > Date.parse(t)) local.to = "must not be before the start";
    setErrors(local);
    return Object.keys(local).length ? null : { from: f, to: t };
  };
  const rangeKey = `${from}|${to}`;
  const fresh = preview?.range === rangeKey ? preview.answer : null;

  const fail = (err: unknown) => {
    if (err instanceof ApiRequestError && (err.field === "from" || err.field === "to")) {
      setErrors({ [err.field]: err.message });
      document.getElementById(`${id}-${err.field}`)?.focus();
      return;
    }
    setFormError((err as Error).message);
  };

  const ask = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setFormError(null);
    const r = range();
    if (!r) return;
    setBusy(true);
    try {
      const answer = await previewBackfill(flow.id, { scheduleId: schedule.id, ...r });
      setPreview({ range: rangeKey, answer });
    } catch (err) {
      setPreview(null);
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  const confirm = async () => {
    if (busy || !fresh) return;
    setFormError(null);
    const r = range();
    if (!r) return;
    setBusy(true);
    try {
      setDone(await runBackfill(flow.id, { scheduleId: schedule.id, ...r }));
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  const edit = (field: RangeField, v: string) => {
    (field === "from" ? setFrom : setTo)(v);
    if (errors[field]) setErrors(({ [field]: _, ...rest }) => rest);
  };

  return (
    <SheetDialog labelledBy={titleId} onClose={onClose} testId="backfill-dialog">
      <form onSubmit={ask} noValidate className="flex max-h-[calc(100dvh-2rem)] flex-col" data-testid="backfill-form">
        <div className="border-b border-line px-5 py-4">
          <p className="section-title">Backfill</p>
          <h2 id={titleId} className="mt-1 text-lg font-bold break-words text-ink">
            {schedule.description}
          </h2>
          <p className="mt-1 text-sm text-muted">Creates a run for every fire time in the range that has none yet, at once (at most 1,000).</p>
        </div>
        <div className="flex-1 space-y-4 overflow-y-auto px-5 py-4">
          <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">
            {(["from", "to"] as const).map((f) => (
              <div key={f}>
                <label htmlFor={`${id}-${f}`} className="label">
                  {f === "from" ? "From" : "To (inclusive)"} <span className="font-normal text-faint">· your local time</span>
                </label>
                <input
                  id={`${id}-${f}`}
                  className="field mono"
                  type="datetime-local"
                  value={f === "from" ? from : to}
                  onChange={(e) => edit(f, e.target.value)}
                  aria-invalid={errors[f] ? true : undefined}
                  aria-describedby={errors[f] ? `${id}-${f}-error` : undefined}
                  disabled={Boolean(done)}
                  data-testid={`backfill-${f}`}
                />
                {errors[f] ? (
                  <p id={`${id}-${f}-error`} role="alert" className="mt-1 text-sm text-st-failed" data-testid={`backfill-error-${f}`}>
                    {errors[f]}
                  </p>
                ) : null}
              </div>
            ))}
          </div>

          <div aria-live="polite">
            {fresh && !done ? (
              <div className="rounded-lg border border-line bg-void/50 p-3" data-testid="backfill-preview">
                <p className="text-sm text-ink">
                  <span className="mono font-bold text-accent" data-testid="backfill-count">
                    {fresh.count}
                  </span>{" "}
                  run{fresh.count === 1 ? "" : "s"} would be created
                  {fresh.skipped ? (
                    <>
                      {"; "}
                      <span className="mono" data-testid="backfill-skipped">
                        {fresh.skipped}
                      </span>{" "}
                      fire time{fresh.skipped === 1 ? " already has" : "s already have"} one
                    </>
                  ) : null}
                  .
                </p>
                {fresh.times.length ? (
                  <ol className="mono mt-2 space-y-0.5 text-xs text-muted">
                    {fresh.times.slice(0, SHOWN_TIMES).map((t) => (
                      <li key={t}>
                        <time dateTime={t} title={formatUtc(t)}>
                          {formatDateTime(t)}
                        </time>
                      </li>
                    ))}
                    {fresh.times.length > SHOWN_TIMES ? <li className="text-faint">… and {fresh.times.length - SHOWN_TIMES} more</li> : null}
                  </ol>
                ) : null}
              </div>
            ) : null}
            {done ? (
              <div className="rounded-lg border border-st-completed/50 bg-st-completed/10 p-3" data-testid="backfill-done">
                <p className="text-sm text-ink">
                  Created{" "}
                  <span className="mono font-bold" data-testid="backfill-created">
                    {done.count}
                  </span>{" "}
                  run{done.count === 1 ? "" : "s"}
                  {done.skipped ? `; ${done.skipped} fire time${done.skipped === 1 ? " already had" : "s already had"} one` : ""}.
                </p>
                <Link className="mt-2 inline-block text-sm" href={`/runs?scheduleId=${encodeURIComponent(schedule.id)}`} data-testid="backfill-history-link">
                  See the schedule&apos;s runs in the history →
                </Link>
              </div>
            ) : null}
          </div>

          {formError ? (
            <p role="alert" className="rounded-md border border-st-failed/50 bg-st-failed/10 px-3 py-2 text-sm text-st-failed" data-testid="backfill-form-error">
              {formError}
            </p>
          ) : null}
        </div>
        <div className="flex flex-wrap justify-end gap-2 border-t border-line px-5 py-3">
          <button type="button" className="btn" onClick={onClose}>
            {done ? "Close" : "Cancel"}
          </button>
          {!done ? (
            <>
              <button type="submit" className={`btn ${fresh ? "" : "btn-primary"}`} disabled={busy} data-testid="backfill-preview-button">
                {busy && !fresh ? "Counting…" : fresh ? "Count again" : "Count runs"}
              </button>
              <button
                type="button"
                className="btn btn-primary"
                onClick={confirm}
                disabled={busy || !fresh || fresh.count === 0}
                data-testid="backfill-confirm"
              >
                {busy && fresh ? "Creating…" : fresh ? `Create ${fresh.count} run${fresh.count === 1 ? "" : "s"}` : "Create runs"}
              </button>
            </>
          ) : null}
        </div>
      </form>
    </SheetDialog>
  );
}
