"use client";
/**
 * History filters. The URL is the source of truth (shareable, survives reload); this form
 * edits a draft and commits the whole draft to the URL: at once for toggles, selects and tags,
 * on Enter/Apply for typed text and dates.
 */
import { useEffect, useRef, useState, type FormEvent } from "react";
import { RUN_STATES, type RunState } from "@/lib/domain/states";
import { EMPTY_FILTERS, RUN_TRIGGERS, TRIGGER_LABELS, searchFromFilters, type RunFilters, type RunTrigger } from "@/hooks/use-runs";
import { useClients } from "@/hooks/use-clients";
import { useFlows } from "@/hooks/use-flows";
import { fromLocalInput, toLocalInput } from "@/components/ui/time-format";
import { ClockIcon } from "@/components/ui/clock-icon";


export function HistoryFilters({ filters, onApply }: { filters: RunFilters; onApply: (f: RunFilters) => void }) {
  const [flow, setFlow] = useState(filters.flow);
  const [triggeredBy, setTriggeredBy] = useState(filters.triggeredBy);
  const [from, setFrom] = useState(toLocalInput(filters.from));
  const [to, setTo] = useState(toLocalInput(filters.to));
  const [tagDraft, setTagDraft] = useState("");
  const [tagError, setTagError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const { data: clients } = useClients();
  // Suggestions for the name field: the first 20 flows whose name contains what is typed.
  const { data: flows } = useFlows({ name: flow, limit: 20 });

  // What was last sent to the URL. Navigation is asynchronous: two quick clicks must build on
  // each other, not both on the URL as it was before the first one landed.
  const latest = useRef(filters);
  const inFlight = useRef(new Set<string>());

  // The URL changed. One of ours landing changes nothing; anything else (back/forward, a
  // pasted link) is the new truth for the draft too.
  const urlKey = searchFromFilters(filters).toString();
  useEffect(() => {
    if (inFlight.current.has(urlKey)) {
      // The last one we sent clears the book; an earlier one landing changes nothing.
      if (urlKey === searchFromFilters(latest.current).toString()) inFlight.current.clear();
      else inFlight.current.delete(urlKey);
      return;
    }
    inFlight.current.clear();
    latest.current = filters;
    setFlow(filters.flow);
    setTriggeredBy(filters.triggeredBy);
    setFrom(toLocalInput(filters.from));
    setTo(toLocalInput(filters.to));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [urlKey]);

  const commit = (patch: Partial<RunFilters> = {}) => {
    const cur = latest.current;
    // The inputs show minutes: an untouched one keeps the URL's exact instant.
    const fromIso = from === toLocalInput(cur.from) ? cur.from : fromLocalInput(from, false);
    const toIso = to === toLocalInput(cur.to) ? cur.to : fromLocalInput(to, true);
    send({ ...cur, flow, triggeredBy, from: fromIso, to: toIso, ...patch });
  };

  const send = (next: RunFilters) => {
    latest.current = next;
    const key = searchFromFilters(next).toString();
    if (key !== urlKey) inFlight.current.add(key);
    onApply(next);
  };

  const toggleState = (s: RunState) => {
    const cur = latest.current.state;
    commit({ state: cur.includes(s) ? cur.filter((x) => x !== s) : RUN_STATES.filter((x) => x === s || cur.includes(x)) });
  };

  const toggleTrigger = (t: RunTrigger) => {
    const cur = latest.current.trigger;
    commit({ trigger: cur.includes(t) ? cur.filter((x) => x !== t) : RUN_TRIGGERS.filter((x) => x === t || cur.includes(x)) });
  };

  const addTag = () => {
    const t = tagDraft.trim();
    if (!t) return;
    const i = t.indexOf(":");
    if (i <= 0) {
      setTagError("write a tag as key:value");
      return;
    }
    const normal = `${t.slice(0, i).trim()}:${t.slice(i + 1).trim()}`;
    setTagError(null);
    setTagDraft("");
    if (!latest.current.tag.includes(normal)) commit({ tag: [...latest.current.tag, normal] });
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (tagDraft.trim()) addTag();
    else commit();
  };

  const active =
    filters.state.length +
    filters.trigger.length +
    filters.tag.length +
    [filters.flow, filters.flowId, filters.scheduleId, filters.client, filters.triggeredBy, filters.from, filters.to].filter(Boolean).length;
  const any = active > 0;

  return (
    <>
      {/* Phones: the filters fold away behind a toggle; wider screens always show them. */}
      <button
        type="button"
        className="btn mb-3 w-full sm:hidden"
        aria-expanded={open}
        aria-controls="history-filters"
        onClick={() => setOpen((o) => !o)}
        data-testid="filters-toggle"
      >
        {open ? "Hide filters" : "Filters"}
        {active ? <span className="mono text-accent">({active} active)</span> : null}
      </button>
      <form
        id="history-filters"
        className={`card mb-5 space-y-4 p-4 sm:block sm:p-5 ${open ? "" : "max-sm:hidden"}`}
        onSubmit={submit}
        role="search"
        aria-label="Filter runs"
        data-testid="history-filters"
      >
        <fieldset>
          <legend className="label">State</legend>
          <div className="flex flex-wrap gap-1.5">
            {RUN_STATES.map((s) => {
              const on = filters.state.includes(s);
              return (
                <button
                  key={s}
                  type="button"
                  aria-pressed={on}
                  onClick={() => toggleState(s)}
                  className={`badge st-${s} cursor-pointer px-3! py-0.5! ${on ? "ring-2 ring-(--c)" : "border-line-bright! bg-transparent! hover:border-(--c)!"}`}
                  data-testid={`filter-state-${s}`}
                >
                  {on ? "✓ " : ""}
                  {s}
                </button>
              );
            })}
          </div>
        </fieldset>

        <fieldset>
          <legend className="label">Started by</legend>
          <div className="flex flex-wrap gap-1.5">
            {RUN_TRIGGERS.map((t) => {
              const on = filters.trigger.includes(t);
              return (
                <button
                  key={t}
                  type="button"
                  aria-pressed={on}
                  onClick={() => toggleTrigger(t)}
                  className={`badge st-TRIGGER cursor-pointer px-3! py-0.5! ${on ? "ring-2 ring-(--c)" : "border-line-bright! bg-transparent! hover:border-(--c)!"}`}
                  data-testid={`filter-trigger-${t}`}
                >
                  {on ? "✓ " : ""}
                  {t === "schedule" ? <ClockIcon /> : null}
                  {TRIGGER_LABELS[t]}
                </button>
              );
            })}
          </div>
        </fieldset>

        {filters.flowId || filters.scheduleId ? (
          <div className="flex flex-wrap items-center gap-2" data-testid="filter-id-chips">
            {filters.flowId ? (
              <span className="chip" data-testid="filter-flow-id-chip">
                flow #{filters.flowId}
                <button
                  type="button"
                  className="ml-1 cursor-pointer rounded px-1 align-baseline text-muted hover:text-st-failed"
                  aria-label={`Remove the filter on flow ${filters.flowId}`}
                  onClick={() => commit({ flowId: "" })}
                >
                  ×
                </button>
              </span>
            ) : null}
            {filters.scheduleId ? (
              <span className="chip" data-testid="filter-schedule-chip">
                schedule #{filters.scheduleId}
                <button
                  type="button"
                  className="ml-1 cursor-pointer rounded px-1 align-baseline text-muted hover:text-st-failed"
                  aria-label={`Remove the filter on schedule ${filters.scheduleId}`}
                  onClick={() => commit({ scheduleId: "" })}
                >
                  ×
                </button>
              </span>
            ) : null}
          </div>
        ) : null}

        <div className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-4">
          <div>
            <label className="label" htmlFor="filter-flow">
              Flow name contains
            </label>
            <input
              id="filter-flow"
              className="field"
              type="search"
              list="filter-flow-names"
              value={flow}
              onChange={(e) => setFlow(e.target.value)}
              placeholder="e.g. ETL"
              data-testid="filter-flow"
            />
            <datalist id="filter-flow-names">
              {[...new Set(flows?.flows.map((f) => f.name) ?? [])].map((n) => (
                <option key={n} value={n} />
              ))}
            </datalist>
          </div>
          <div>
            <label className="label" htmlFor="filter-client">
              Client
            </label>
            <select id="filter-client" className="field" value={filters.client} onChange={(e) => commit({ client: e.target.value })} data-testid="filter-client">
              <option value="">Any client</option>
              {clients?.clients.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name} ({c.id})
                </option>
              ))}
              {filters.client && !clients?.clients.some((c) => c.id === filters.client) ? <option value={filters.client}>{filters.client}</option> : null}
            </select>
          </div>
          <div>
            <label className="label" htmlFor="filter-triggered-by">
              Triggered by
            </label>
            <input
              id="filter-triggered-by"
              className="field"
              type="search"
              value={triggeredBy}
              onChange={(e) => setTriggeredBy(e.target.value)}
              placeholder="user, token or schedule"
              data-testid="filter-triggered-by"
            />
          </div>
          <div>
            <label className="label" htmlFor="filter-from">
              Created from
            </label>
            <input id="filter-from" className="field mono" type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} data-testid="filter-from" />
          </div>
          <div>
            <label className="label" htmlFor="filter-to">
              Created until
            </label>
            <input id="filter-to" className="field mono" type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} data-testid="filter-to" />
          </div>
        </div>

        <div>
          <label className="label" htmlFor="filter-tag">
            Tags (all must match)
          </label>
          <div className="flex flex-wrap items-center gap-2">
            {filters.tag.map((t) => (
              <span key={t} className="chip" data-testid="filter-tag-chip">
                {t}
                <button
                  type="button"
                  className="ml-1 cursor-pointer rounded px-1 align-baseline text-muted hover:text-st-failed"
                  aria-label={`Remove tag filter ${t}`}
                  onClick={() => commit({ tag: latest.current.tag.filter((x) => x !== t) })}
                >
                  ×
                </button>
              </span>
            ))}
            <input
              id="filter-tag"
              className="field mono max-w-56"
              value={tagDraft}
              onChange={(e) => setTagDraft(e.target.value)}
              placeholder="key:value"
              aria-invalid={tagError ? true : undefined}
              aria-describedby={tagError ? "filter-tag-error" : undefined}
              data-testid="filter-tag"
            />
            <button type="button" className="btn btn-sm" onClick={addTag} data-testid="filter-tag-add">
              Add tag
            </button>
          </div>
          {tagError ? (
            <p id="filter-tag-error" role="alert" className="mt-1 text-sm text-st-failed">
              {tagError}
            </p>
          ) : null}
        </div>

        <div className="flex flex-wrap gap-2">
          <button type="submit" className="btn btn-primary" data-testid="filter-apply">
            Apply filters
          </button>
          {any ? (
            <button
              type="button"
              className="btn"
              onClick={() => {
                setTagDraft("");
                setTriggeredBy("");
                send({ ...EMPTY_FILTERS, limit: filters.limit });
              }}
              data-testid="filter-clear"
            >
              Clear all
            </button>
          ) : null}
        </div>
      </form>
    </>
  );
}
