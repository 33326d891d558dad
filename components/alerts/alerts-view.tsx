"use client";
/**
 * The Alerts page: the rules in force (and the last edit's problem, if alerts.json was edited
 * into something invalid), each destination's health with a "Send test alert" button, and the
 * delivery log — state, attempts with their status codes, next retry — filtered by state and
 * destination, paged, and kept live by `alert` changes on the SSE stream.
 */
import Link from "next/link";
import { useState } from "react";
import { ApiRequestError } from "@/hooks/api-fetch";
import { sendTestAlert, useAlertsOverview, useDeliveries, type AlertsOverview, type DeliveryView } from "@/hooks/use-alerts";
import { useNow } from "@/hooks/use-now";
import { EmptyState, ErrorState, LoadingBlock } from "@/components/ui/status-views";
import { formatAgo, formatDateTime } from "@/components/ui/time-format";
import { DELIVERY_STATES } from "@/lib/domain/states";

const STATE_STYLE: Record<string, string> = {
  PENDING: "border-st-running/50 bg-st-running/10 text-st-running",
  DELIVERED: "border-st-completed/50 bg-st-completed/10 text-st-completed",
  DEAD: "border-st-failed/50 bg-st-failed/10 text-st-failed",
  THROTTLED: "border-line bg-panel-2 text-muted",
};

export function AlertsView() {
  const { data, error, isLoading } = useAlertsOverview();
  const now = useNow(1000);
  if (error && !data) return <ErrorState title="Could not load alerts" error={error} />;
  if (isLoading || !data) return <LoadingBlock lines={3} label="Loading alerts" />;
  return (
    <div className="space-y-8">
      {data.loadError && (
        <p role="alert" className="rounded-md border border-st-failed/50 bg-st-failed/10 px-3 py-2 text-sm break-words text-st-failed" data-testid="alerts-load-error">
          The last edit of {data.file ?? "the alerts file"} is invalid, so the previous rules stay in force: {data.loadError}
        </p>
      )}
      <Rules overview={data} />
      <Destinations overview={data} now={now} />
      <DeliveryLog overview={data} now={now} />
    </div>
  );
}

function Rules({ overview }: { overview: AlertsOverview }) {
  return (
    <section aria-labelledby="alert-rules-title">
      <h2 id="alert-rules-title" className="mb-2 text-lg font-semibold text-ink">
        Rules in force
      </h2>
      {!overview.rules.length ? (
        <EmptyState title="No alert rules" testId="alerts-no-rules">
          Add destinations and rules to <span className="mono">{overview.file ?? "alerts.json"}</span> (PERFECT_ALERTS_FILE): it is re-read when it changes.
        </EmptyState>
      ) : (
        <ul className="space-y-2" data-testid="alert-rules">
          {overview.rules.map((r) => (
            <li key={r.index} className="card p-3 text-sm" data-testid="alert-rule">
              <p className="text-ink">
                On <span className="mono">{r.on.join(", ")}</span> → <span className="mono">{r.to.join(", ")}</span>
                {r.throttleSeconds > 0 && <span className="text-muted"> · at most one per {r.throttleSeconds} s per flow</span>}
              </p>
              <p className="mt-0.5 text-muted">
                {r.flows ? <>flows <span className="mono">{r.flows.join(", ")}</span></> : "every flow"}
                {r.tags && Object.keys(r.tags).length > 0 && (
                  <>
                    {" · tags "}
                    <span className="mono">{Object.entries(r.tags).map(([k, v]) => `${k}=${v}`).join(", ")}</span>
                  </>
                )}
                {r.clients && (
                  <>
                    {" · clients "}
                    <span className="mono">{r.clients.join(", ")}</span>
                  </>
                )}
              </p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Destinations({ overview, now }: { overview: AlertsOverview; now: number }) {
  return (
    <section aria-labelledby="alert-destinations-title">
      <h2 id="alert-destinations-title" className="mb-2 text-lg font-semibold text-ink">
        Destinations
      </h2>
      {!overview.destinations.length ? (
        <EmptyState title="No destinations" testId="alerts-no-destinations">
          A destination is a webhook (signed the Standard Webhooks way) or a Slack incoming webhook.
        </EmptyState>
      ) : (
        <ul className="grid gap-3 md:grid-cols-2" data-testid="alert-destinations">
          {overview.destinations.map((d) => (
            <DestinationCard key={d.id} destination={d} now={now} />
          ))}
        </ul>
      )}
    </section>
  );
}

function DestinationCard({ destination: d, now }: { destination: AlertsOverview["destinations"][number]; now: number }) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const healthy = d.health.lastFailureAt === null || (d.health.lastSuccessAt !== null && d.health.lastSuccessAt > d.health.lastFailureAt);
  const send = async () => {
    setBusy(true);
    setMessage(null);
    try {
      await sendTestAlert(d.id);
      setMessage({ ok: true, text: "Test alert queued: it appears in the log below." });
    } catch (e) {
      setMessage({ ok: false, text: e instanceof ApiRequestError ? e.message : "Could not queue the test alert." });
    } finally {
      setBusy(false);
    }
  };
  return (
    <li className="card p-4" data-testid="alert-destination" data-destination={d.id}>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0">
          <h3 className="mono font-semibold break-all text-ink">{d.id}</h3>
          <p className="text-sm break-all text-muted">
            {d.type === "slack" ? "Slack" : d.signed ? "Webhook, signed" : "Webhook, unsigned"} · <span className="mono">{d.url}</span>
          </p>
        </div>
        <button type="button" className="btn btn-sm" onClick={() => void send()} disabled={busy} data-testid="alert-send-test">
          {busy ? "Queuing…" : "Send test alert"}
        </button>
      </div>
      <dl className="mt-3 grid grid-cols-2 gap-x-4 gap-y-1 text-sm" data-testid="alert-destination-health">
        <dt className="text-muted">Last success</dt>
        <dd className="text-ink" data-testid="alert-last-success">{d.health.lastSuccessAt ? formatAgo(d.health.lastSuccessAt, now) : "never"}</dd>
        <dt className="text-muted">Last failure</dt>
        <dd className={healthy ? "text-ink" : "text-st-failed"} data-testid="alert-last-failure">
          {d.health.lastFailureAt ? formatAgo(d.health.lastFailureAt, now) : "never"}
        </dd>
        <dt className="text-muted">Pending · dead</dt>
        <dd className="mono text-ink" data-testid="alert-pending-dead">
          {d.health.pending} · {d.health.dead}
        </dd>
        <dt className="text-muted">Delivered · throttled</dt>
        <dd className="mono text-ink">
          {d.health.delivered} · {d.health.throttled}
        </dd>
      </dl>
      {message && (
        <p role={message.ok ? "status" : "alert"} className={`mt-2 text-sm ${message.ok ? "text-muted" : "text-st-failed"}`} data-testid="alert-test-result">
          {message.text}
        </p>
      )}
    </li>
  );
}

function DeliveryLog({ overview, now }: { overview: AlertsOverview; now: number }) {
  const [state, setState] = useState("");
  const [destination, setDestination] = useState("");
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const { data, error, isLoading } = useDeliveries({ state: state || undefined, destination: destination || undefined, cursor });
  const destinationIds = [...overview.destinations.map((d) => d.id), ...overview.formerDestinations];
  return (
    <section aria-labelledby="alert-log-title">
      <div className="mb-2 flex flex-wrap items-end justify-between gap-3">
        <h2 id="alert-log-title" className="text-lg font-semibold text-ink">
          Deliveries
        </h2>
        <div className="flex flex-wrap gap-3">
          <label className="text-sm text-muted">
            State{" "}
            <select className="field w-auto" value={state} onChange={(e) => (setState(e.target.value), setCursors([]))} data-testid="alert-filter-state">
              <option value="">any</option>
              {DELIVERY_STATES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label className="text-sm text-muted">
            Destination{" "}
            <select className="field w-auto" value={destination} onChange={(e) => (setDestination(e.target.value), setCursors([]))} data-testid="alert-filter-destination">
              <option value="">any</option>
              {destinationIds.map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>
      {error && !data ? (
        <ErrorState title="Could not load deliveries" error={error} />
      ) : isLoading || !data ? (
        <LoadingBlock lines={3} label="Loading deliveries" />
      ) : !data.deliveries.length ? (
        <EmptyState title="No deliveries" testId="alerts-no-deliveries">
          A delivery is written when a rule matches an event, or when you send a test alert.
        </EmptyState>
      ) : (
        <>
          <ul className="space-y-2" data-testid="alert-deliveries">
            {data.deliveries.map((d) => (
              <DeliveryRow key={d.id} d={d} now={now} />
            ))}
          </ul>
          <div className="mt-3 flex gap-2">
            {cursors.length > 0 && (
              <button type="button" className="btn btn-sm" onClick={() => setCursors((c) => c.slice(0, -1))} data-testid="alert-newer">
                Newer
              </button>
            )}
            {data.nextCursor && (
              <button type="button" className="btn btn-sm" onClick={() => setCursors((c) => [...c, data.nextCursor!])} data-testid="alert-older">
                Older
              </button>
            )}
          </div>
        </>
      )}
    </section>
  );
}

function DeliveryRow({ d, now }: { d: DeliveryView; now: number }) {
  return (
    <li className="card p-3 text-sm" data-testid="alert-delivery" data-delivery={d.id} data-state={d.state} data-destination={d.destinationId} data-type={d.type}>
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
        <span className={`rounded border px-1.5 py-0.5 text-xs font-semibold ${STATE_STYLE[d.state] ?? ""}`} data-testid="alert-delivery-state">
          {d.state}
        </span>
        <span className="mono text-ink">{d.type}</span>
        <span className="text-muted">→ <span className="mono">{d.destinationId}</span></span>
        {d.runId && (
          <Link href={`/runs/${d.runId}`} className="text-accent">
            {d.flowName ?? "run"} #{d.runId}
          </Link>
        )}
        <span className="text-faint" title={formatDateTime(d.createdAt)}>
          {formatAgo(d.createdAt, now)}
        </span>
        {d.nextAttemptAt && (
          <span className="text-muted" data-testid="alert-next-retry">
            next try {new Date(d.nextAttemptAt).getTime() <= now ? "now" : `at ${formatDateTime(d.nextAttemptAt)}`}
          </span>
        )}
      </div>
      {d.attempts.length > 0 && (
        <ol className="mt-2 space-y-0.5 border-l border-line pl-3" data-testid="alert-attempts" aria-label="Attempts">
          {d.attempts.map((a, i) => (
            <li key={i} className="flex flex-wrap gap-x-3 text-muted" data-testid="alert-attempt">
              <span className="mono">{formatDateTime(a.at)}</span>
              <span className={`mono ${a.status !== null && a.status >= 200 && a.status < 300 ? "text-st-completed" : "text-st-failed"}`} data-testid="alert-attempt-status">
                {a.status ?? "no answer"}
              </span>
              {a.error && <span className="break-all">{a.error}</span>}
              <span className="mono text-faint">{a.durationMs} ms</span>
            </li>
          ))}
        </ol>
      )}
      <p className="mt-1 mono text-xs break-all text-faint">webhook-id {d.webhookId}</p>
    </li>
  );
}
