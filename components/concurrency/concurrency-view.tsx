"use client";
/**
 * Global concurrency limits: each key's limit, the task calls holding its slots (run, task,
 * worker, held for) and its line of waiters, live over the change feed; a form to set or change
 * a limit (field errors from the browser's check and from the server), delete with confirmation.
 */
import Link from "next/link";
import { useState, type FormEvent } from "react";
import { ApiRequestError } from "@/hooks/api-fetch";
import {
  CONCURRENCY_KEY_PATTERN,
  MAX_CONCURRENCY_LIMIT,
  deleteConcurrencyLimit,
  setConcurrencyLimit,
  useConcurrencyLimits,
  type ConcurrencyLimitView,
} from "@/hooks/use-concurrency";
import { useCan } from "@/hooks/use-me";
import { useNow } from "@/hooks/use-now";
import { EmptyState, ErrorState, LoadingBlock } from "@/components/ui/status-views";
import { formatDuration } from "@/components/ui/time-format";

export function ConcurrencyView() {
  const { data, error, isLoading } = useConcurrencyLimits();
  const [prefill, setPrefill] = useState<{ key: string; limit: string; n: number } | null>(null);
  const now = useNow(1000);
  // Limits are the admins' to change: others see them only (the server refuses: 403).
  const canEdit = useCan("admin");
  return (
    <div className="space-y-6">
      {canEdit ? (
        <LimitForm key={prefill?.n ?? 0} initial={prefill} />
      ) : (
        <p className="text-sm text-muted" data-testid="concurrency-read-only">
          Only an admin can change concurrency limits.
        </p>
      )}
      {error && !data ? (
        <ErrorState title="Could not load concurrency limits" error={error} />
      ) : isLoading || !data ? (
        <LoadingBlock lines={2} label="Loading concurrency limits" />
      ) : !data.limits.length ? (
        <EmptyState title="No concurrency limits yet" testId="concurrency-empty">
          Set a limit above, then declare <code className="mono">@task(concurrency_key=&quot;…&quot;)</code> on the tasks that share it.
        </EmptyState>
      ) : (
        <ul className="space-y-4" data-testid="concurrency-limits">
          {data.limits.map((l) => (
            <LimitCard
              key={l.key}
              limit={l}
              now={now}
              onChange={() => setPrefill((p) => ({ key: l.key, limit: l.limit === null ? "" : String(l.limit), n: (p?.n ?? 0) + 1 }))}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

interface FieldErrors {
  key?: string;
  limit?: string;
  form?: string;
}

function checkFields(key: string, limit: string): FieldErrors {
  const errors: FieldErrors = {};
  if (!key) errors.key = "Enter a key.";
  else if (key.length > 200) errors.key = "At most 200 characters.";
  else if (!CONCURRENCY_KEY_PATTERN.test(key)) errors.key = "Only letters, digits and _ . : - are allowed.";
  if (limit.trim() === "") errors.limit = "Enter a limit.";
  else if (!/^\d+$/.test(limit.trim())) errors.limit = "A whole number from 0.";
  else if (Number(limit) > MAX_CONCURRENCY_LIMIT) errors.limit = `At most ${MAX_CONCURRENCY_LIMIT.toLocaleString("en-US")}.`;
  return errors;
}

function LimitForm({ initial }: { initial: { key: string; limit: string } | null }) {
  const [key, setKey] = useState(initial?.key ?? "");
  const [limit, setLimit] = useState(initial?.limit ?? "");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSaved(null);
    const found = checkFields(key, limit);
    setErrors(found);
    if (found.key || found.limit) return;
    setBusy(true);
    try {
      const view = await setConcurrencyLimit(key, Number(limit));
      setSaved(`${view.key}: at most ${view.limit} at once`);
    } catch (err) {
      const field = err instanceof ApiRequestError ? err.field : undefined;
      const message = (err as Error).message;
      setErrors(field === "key" || field === "limit" ? { [field]: message } : { form: message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card p-4" onSubmit={(e) => void submit(e)} noValidate data-testid="concurrency-form" aria-label="Set a concurrency limit">
      <div className="flex flex-wrap items-start gap-4">
        <div className="min-w-[14rem] flex-1">
          <label htmlFor="concurrency-key" className="label">
            Key
          </label>
          <input
            id="concurrency-key"
            className="field mono"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            placeholder="warehouse"
            maxLength={400}
            aria-invalid={errors.key ? true : undefined}
            aria-describedby={errors.key ? "concurrency-key-error" : "concurrency-key-hint"}
            data-testid="concurrency-key-input"
          />
          {errors.key ? (
            <p id="concurrency-key-error" role="alert" className="mt-1 text-sm break-words text-st-failed" data-testid="concurrency-key-error">
              {errors.key}
            </p>
          ) : (
            <p id="concurrency-key-hint" className="mt-1 text-xs text-faint">
              The name in <span className="mono">@task(concurrency_key=…)</span>: letters, digits and _ . : -
            </p>
          )}
        </div>
        <div className="w-40">
          <label htmlFor="concurrency-limit" className="label">
            Limit
          </label>
          <input
            id="concurrency-limit"
            className="field mono"
            inputMode="numeric"
            value={limit}
            onChange={(e) => setLimit(e.target.value)}
            placeholder="2"
            aria-invalid={errors.limit ? true : undefined}
            aria-describedby={errors.limit ? "concurrency-limit-error" : "concurrency-limit-hint"}
            data-testid="concurrency-limit-input"
          />
          {errors.limit ? (
            <p id="concurrency-limit-error" role="alert" className="mt-1 text-sm break-words text-st-failed" data-testid="concurrency-limit-error">
              {errors.limit}
            </p>
          ) : (
            <p id="concurrency-limit-hint" className="mt-1 text-xs text-faint">
              Task calls at once (0 holds them all)
            </p>
          )}
        </div>
        <div className="pt-6">
          <button type="submit" className="btn btn-primary" disabled={busy} data-testid="concurrency-submit">
            {busy ? "Saving…" : "Set limit"}
          </button>
        </div>
      </div>
      {errors.form ? (
        <p role="alert" className="mt-3 rounded-md border border-st-failed/50 bg-st-failed/10 px-3 py-2 text-sm text-st-failed" data-testid="concurrency-form-error">
          {errors.form}
        </p>
      ) : null}
      {saved ? (
        <p role="status" className="mt-3 text-sm text-muted" data-testid="concurrency-saved">
          Saved — {saved}.
        </p>
      ) : null}
    </form>
  );
}

function LimitCard({ limit: l, now, onChange }: { limit: ConcurrencyLimitView; now: number; onChange: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const titleId = `concurrency-${l.key}-title`;
  const canEdit = useCan("admin");
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await deleteConcurrencyLimit(l.key);
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  };
  return (
    <li className="card p-4" data-testid="concurrency-limit" data-key={l.key} aria-labelledby={titleId}>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0">
          <h2 id={titleId} className="mono text-lg font-semibold break-all text-ink" data-testid="concurrency-key">
            {l.key}
          </h2>
          <p className="mt-0.5 text-sm text-muted" data-testid="concurrency-usage">
            <span className="mono text-ink" data-testid="concurrency-held">
              {l.held}
            </span>{" "}
            held of{" "}
            <span className="mono text-ink" data-testid="concurrency-limit-value">
              {l.limit === null ? "no limit" : l.limit}
            </span>
            {" · "}
            <span className="mono" data-testid="concurrency-waiting-count">
              {l.waiting.length}
            </span>{" "}
            waiting
          </p>
        </div>
        <div className={`flex flex-wrap items-center gap-2 ${canEdit ? "" : "hidden"}`}>
          <button type="button" className="btn btn-sm" onClick={onChange} data-testid="concurrency-change" aria-label={`Change the limit of ${l.key}`}>
            {l.limit === null ? "Set limit" : "Change"}
          </button>
          {l.limit === null ? null : confirming ? (
            <span className="flex flex-wrap items-center gap-2" role="group" aria-label="Confirm deletion">
              <span className="text-sm text-muted">Delete this limit? The key becomes unlimited.</span>
              <button type="button" className="btn btn-sm btn-danger" onClick={() => void remove()} disabled={busy} autoFocus data-testid="concurrency-delete-confirm">
                {busy ? "Deleting…" : "Yes, delete"}
              </button>
              <button type="button" className="btn btn-sm" onClick={() => setConfirming(false)} disabled={busy}>
                Keep it
              </button>
            </span>
          ) : (
            <button type="button" className="btn btn-sm btn-danger" onClick={() => setConfirming(true)} data-testid="concurrency-delete" aria-label={`Delete the limit of ${l.key}`}>
              Delete
            </button>
          )}
        </div>
      </div>
      {error ? (
        <p role="alert" className="mt-2 text-sm text-st-failed" data-testid="concurrency-error">
          {error}
        </p>
      ) : null}
      <div className="mt-4 grid gap-4 lg:grid-cols-2">
        <section aria-label={`Holders of ${l.key}`}>
          <h3 className="text-xs font-semibold tracking-wide text-faint uppercase">Holders</h3>
          {l.holders.length ? (
            <ul className="mt-2 space-y-1 text-sm" data-testid="concurrency-holders">
              {l.holders.map((h) => (
                <li key={h.slotId} className="flex flex-wrap items-center gap-x-3 gap-y-0.5" data-testid="concurrency-holder" data-run-id={h.runId}>
                  <Link href={`/runs/${encodeURIComponent(h.runId)}`} className="mono" data-testid="concurrency-holder-run">
                    run {h.runId}
                  </Link>
                  <span className="break-all text-ink">{h.flowName}</span>
                  <span className="mono text-muted">{h.taskName}</span>
                  <span className="mono text-xs text-faint" title={h.workerId}>
                    {h.workerId}
                  </span>
                  <span className="mono text-xs text-faint" data-testid="concurrency-held-for">
                    held {now ? formatDuration(now - Date.parse(h.acquiredAt)) : "…"}
                  </span>
                </li>
              ))}
            </ul>
          ) : (
            <p className="mt-2 text-sm text-faint">No task call holds a slot.</p>
          )}
        </section>
        <section aria-label={`Queue of ${l.key}`}>
          <h3 className="text-xs font-semibold tracking-wide text-faint uppercase">Queue</h3>
          {l.waiting.length ? (
            <ol className="mt-2 space-y-1 text-sm" data-testid="concurrency-queue">
              {l.waiting.map((w, i) => (
                <li key={w.slotId} className="flex flex-wrap items-center gap-x-3 gap-y-0.5" data-testid="concurrency-waiter" data-run-id={w.runId}>
                  <span className="mono text-faint">#{i + 1}</span>
                  <Link href={`/runs/${encodeURIComponent(w.runId)}`} className="mono" data-testid="concurrency-waiter-run">
                    run {w.runId}
                  </Link>
                  <span className="break-all text-ink">{w.flowName}</span>
                  <span className="mono text-muted">{w.taskName}</span>
                  <span className="mono text-xs text-faint">waiting {now ? formatDuration(now - Date.parse(w.requestedAt)) : "…"}</span>
                </li>
              ))}
            </ol>
          ) : (
            <p className="mt-2 text-sm text-faint">Nobody waits.</p>
          )}
        </section>
      </div>
    </li>
  );
}
