"use client";
import { useClients } from "@/hooks/use-clients";
import { useNow } from "@/hooks/use-now";
import { OnlineDot } from "@/components/ui/state-badge";
import { EmptyState, ErrorState, LoadingBlock } from "@/components/ui/status-views";
import { formatAgo } from "@/components/ui/time-format";

export function ClientsView() {
  const { data, error, isLoading } = useClients();
  const now = useNow(1000);
  if (error && !data) return <ErrorState title="Could not load clients" error={error} />;
  if (isLoading || !data) return <LoadingBlock lines={2} label="Loading clients" />;
  if (!data.clients.length) {
    return <EmptyState title="No clients configured">Add a client (id, name, token, sensitivity) to clients.json.</EmptyState>;
  }
  return (
    <div className="card overflow-hidden">
      <div className="table-wrap">
        <table className="data-table stack-sm sm:min-w-[820px]" data-testid="clients-table">
          <thead>
            <tr>
              <th scope="col">Client</th>
              <th scope="col">Name</th>
              <th scope="col">Sensitivity</th>
              <th scope="col">Status</th>
              <th scope="col">Last heartbeat</th>
              <th scope="col">Flows</th>
              <th scope="col">Workers</th>
            </tr>
          </thead>
          <tbody>
            {data.clients.map((c) => (
              <tr key={c.id} data-testid="client-row" data-client-id={c.id}>
                <td className="mono text-ink" data-label="Client">
                  {c.id}
                </td>
                <td className="text-ink" data-label="Name">
                  {c.name}
                </td>
                <td className="text-muted" data-label="Sensitivity">
                  {c.performanceSensitivity}
                </td>
                <td data-label="Status">
                  <OnlineDot online={c.online} testId="client-online" />
                </td>
                <td className="mono text-sm text-muted sm:whitespace-nowrap" data-testid="client-last-seen" title={c.lastSeenAt ?? "never"} data-label="Last heartbeat">
                  {c.lastSeenAt ? `last heartbeat ${formatAgo(c.lastSeenAt, now)}` : "never seen"}
                </td>
                <td className="mono text-muted" data-label="Flows">
                  {c.flows}
                </td>
                <td className="cell-wide" data-label="Workers">
                  {c.workers.length ? (
                    <ul className="space-y-1 text-xs">
                      {c.workers.map((w) => (
                        <li key={w.id} className="flex flex-wrap items-center gap-2" data-testid="client-worker">
                          <span className={`badge-dot inline-block ${w.online ? "st-ONLINE" : "st-OFFLINE"}`} style={{ background: "var(--c)" }} aria-hidden="true" />
                          <span className="mono text-ink">{w.hostname ?? "?"}</span>
                          <span className="mono text-faint">pid {w.pid ?? "?"}</span>
                          <span className="sr-only">{w.online ? "online" : "offline"}</span>
                          <span className="mono text-faint">{formatAgo(w.lastSeenAt, now)}</span>
                        </li>
                      ))}
                    </ul>
                  ) : (
                    <span className="text-xs text-faint">no worker yet</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
