"use client";
import { useState } from "react";
import { useFlows } from "@/hooks/use-flows";
import { EmptyState, ErrorState, LoadingBlock } from "@/components/ui/status-views";
import { FlowCard } from "./flow-card";
import { TriggerDialog } from "./trigger-dialog";

export function FlowsView() {
  const { data, error, isLoading } = useFlows();
  const [triggering, setTriggering] = useState<string | null>(null);
  const [query, setQuery] = useState("");

  if (error && !data) return <ErrorState title="Could not load flows" error={error} />;
  if (isLoading || !data) return <LoadingBlock lines={3} label="Loading flows" />;
  if (!data.flows.length) return <NoFlows />;

  const q = query.trim().toLowerCase();
  const flows = q
    ? data.flows.filter((f) => f.name.toLowerCase().includes(q) || Object.entries(f.tags).some(([k, v]) => `${k}:${v}`.toLowerCase().includes(q)))
    : data.flows;
  const active = data.flows.find((f) => f.id === triggering);

  return (
    <>
      {data.flows.length > 4 ? (
        <div className="mb-4 max-w-sm">
          <label htmlFor="flow-search" className="label">
            Filter flows
          </label>
          <input id="flow-search" className="field" type="search" placeholder="name or tag" value={query} onChange={(e) => setQuery(e.target.value)} />
        </div>
      ) : null}
      <div className="grid grid-cols-1 gap-5 lg:grid-cols-2" data-testid="flow-list">
        {flows.map((f) => (
          <FlowCard key={f.id} flow={f} onRun={() => setTriggering(f.id)} />
        ))}
      </div>
      {flows.length === 0 ? <p className="mt-4 text-sm text-muted">No flow matches “{query}”.</p> : null}
      {active ? <TriggerDialog key={active.id} flow={active} onClose={() => setTriggering(null)} /> : null}
    </>
  );
}

function NoFlows() {
  return (
    <EmptyState title="No flows registered yet" testId="empty-flows">
      <p>Flows appear here as soon as a worker registers them. Start the example worker from the repository root:</p>
      <pre className="mono mx-auto mt-4 w-fit max-w-full overflow-x-auto rounded-md border border-line bg-void px-4 py-3 text-left text-sm text-accent">
        python3 sdk-python/examples/example_flows.py
      </pre>
      <p className="mt-3">
        It connects to <span className="mono text-ink">PERFECT_URL</span> (default <span className="mono text-ink">http://localhost:3000</span>) as{" "}
        <span className="mono text-ink">PERFECT_CLIENT_ID</span> with <span className="mono text-ink">PERFECT_TOKEN</span>, matching an entry of{" "}
        <span className="mono text-ink">clients.json</span>.
      </p>
    </EmptyState>
  );
}
