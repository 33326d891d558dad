"use client";
/**
 * The flows page: a page of 50 flows at a time (name order), "Load more" for the next, and a
 * search that asks the server (name substring), so 10,000 registered flows cost one small
 * request and 50 cards, not a 6 MB answer and 10,000 cards.
 */
import { useState } from "react";
import type { FlowView } from "@/lib/contracts/dashboard";
import { useDebounced } from "@/hooks/use-debounced";
import { useFlowsPage } from "@/hooks/use-flows";
import { EmptyState, ErrorState, LoadingBlock } from "@/components/ui/status-views";
import { FlowCard } from "./flow-card";
import { SummaryStrip } from "./summary-strip";
import { TriggerDialog } from "./trigger-dialog";

export function FlowsView() {
  const [query, setQuery] = useState("");
  const name = useDebounced(query.trim(), 250);
  // The cursors of the pages shown: the first page, then each "Load more" — for this search
  // only (a new search starts again from its first page, without an effect).
  const [paged, setPaged] = useState<{ name: string; cursors: (string | null)[] }>({ name, cursors: [null] });
  const cursors = paged.name === name ? paged.cursors : [null];
  const setCursors = (f: (cs: (string | null)[]) => (string | null)[]) => setPaged({ name, cursors: f(cursors) });
  const [triggering, setTriggering] = useState<FlowView | null>(null);

  const first = useFlowsPage({ name });
  if (first.error && !first.data) return <ErrorState title="Could not load flows" error={first.error} />;
  if (!first.data) return <LoadingBlock lines={3} label="Loading flows" />;
  if (!name && !first.data.flows.length) return <NoFlows />;
  const searchable = Boolean(name) || first.data.nextCursor !== null || first.data.flows.length > 4;

  return (
    <>
      <SummaryStrip />
      {searchable ? (
        <div className="mb-4 max-w-sm">
          <label htmlFor="flow-search" className="label">
            Filter flows
          </label>
          <input id="flow-search" className="field" type="search" placeholder="name contains" value={query} onChange={(e) => setQuery(e.target.value)} data-testid="flow-search" />
        </div>
      ) : null}
      <div className="grid grid-cols-1 gap-5 lg:grid-cols-2" data-testid="flow-list">
        {cursors.map((cursor, i) => (
          <FlowsPageCards
            key={cursor ?? "first"}
            name={name}
            cursor={cursor}
            last={i === cursors.length - 1}
            onRun={setTriggering}
            onMore={(next) => setCursors((cs) => (cs.includes(next) ? cs : [...cs, next]))}
          />
        ))}
      </div>
      {name && first.data.flows.length === 0 ? <p className="mt-4 text-sm text-muted">No flow name contains “{query}”.</p> : null}
      {triggering ? <TriggerDialog key={triggering.id} flow={triggering} onClose={() => setTriggering(null)} /> : null}
    </>
  );
}

function FlowsPageCards({
  name,
  cursor,
  last,
  onRun,
  onMore,
}: {
  name: string;
  cursor: string | null;
  last: boolean;
  onRun: (f: FlowView) => void;
  onMore: (cursor: string) => void;
}) {
  const { data, error } = useFlowsPage({ name, cursor });
  if (!data) {
    return error ? <p className="text-sm text-st-failed lg:col-span-2">Could not load more flows: {(error as Error).message}</p> : null;
  }
  return (
    <>
      {data.flows.map((f) => (
        <FlowCard key={f.id} flow={f} onRun={() => onRun(f)} />
      ))}
      {last && data.nextCursor ? (
        <div className="lg:col-span-2">
          <button type="button" className="btn" onClick={() => onMore(data.nextCursor!)} data-testid="flows-load-more">
            Load more flows
          </button>
        </div>
      ) : null}
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
