"use client";
/**
 * Run history pages. Filters use the API's own query parameter names (state, trigger, flow,
 * flowId, scheduleId, client, tag, from, to), so the page URL and the API URL are the same
 * query string.
 */
import useSWR from "swr";
import type { RunSummary } from "@/lib/contracts/dashboard";
import { RUN_STATES, type RunState, type Trigger } from "@/lib/domain/states";
import { getJson } from "./api-fetch";

/** What started a run (the API's `trigger`), in the order the filter shows them: schedules first. */
export const RUN_TRIGGERS = ["schedule", "ui", "api", "local", "subflow"] as const satisfies readonly Trigger[];
export type RunTrigger = Trigger;
export const TRIGGER_LABELS: Record<RunTrigger, string> = { schedule: "schedule", ui: "dashboard", api: "API", local: "local", subflow: "subflow" };

export interface RunFilters {
  state: RunState[];
  trigger: RunTrigger[];
  flow: string;
  /** One flow by id (the flow page links here); shown as a removable chip. */
  flowId: string;
  /** The runs of one schedule (a schedule's "runs" link, a backfill); shown as a removable chip. */
  scheduleId: string;
  client: string;
  /** Runs made by this user, token name, `schedule` or client (exact). */
  triggeredBy: string;
  /** "key:value" each; every one must match. */
  tag: string[];
  /** ISO timestamps on the run's creation time. */
  from: string;
  to: string;
  /** Page size (the API's `limit`, 1..200). */
  limit: number;
}

export const PAGE_SIZE = 50;
export const EMPTY_FILTERS: RunFilters = { state: [], trigger: [], flow: "", flowId: "", scheduleId: "", client: "", triggeredBy: "", tag: [], from: "", to: "", limit: PAGE_SIZE };

const ID = /^\d+$/;
const validId = (v: string | null): string => (v && ID.test(v) ? v : "");

export function filtersFromSearch(params: URLSearchParams): RunFilters {
  const states = params
    .getAll("state")
    .flatMap((s) => s.split(","))
    .filter((s): s is RunState => (RUN_STATES as readonly string[]).includes(s));
  const triggers = params.getAll("trigger").flatMap((t) => t.split(","));
  return {
    state: RUN_STATES.filter((s) => states.includes(s)),
    trigger: RUN_TRIGGERS.filter((t) => triggers.includes(t)),
    flow: params.get("flow") ?? "",
    flowId: validId(params.get("flowId")),
    scheduleId: validId(params.get("scheduleId")),
    client: params.get("client") ?? "",
    triggeredBy: (params.get("triggeredBy") ?? "").slice(0, 200),
    tag: params.getAll("tag").filter((t) => /^[^:]+:/.test(t)),
    from: validDate(params.get("from")),
    to: validDate(params.get("to")),
    limit: validLimit(params.get("limit")),
  };
}

function validLimit(v: string | null): number {
  const n = Number(v);
  return v && Number.isInteger(n) && n >= 1 && n <= 200 ? n : PAGE_SIZE;
}

function validDate(v: string | null): string {
  return v && !Number.isNaN(Date.parse(v)) ? v : "";
}

/** Canonical order, so equal filters give equal URLs (and equal SWR keys). */
export function searchFromFilters(f: RunFilters): URLSearchParams {
  const p = new URLSearchParams();
  for (const s of f.state) p.append("state", s);
  for (const t of f.trigger) p.append("trigger", t);
  if (f.flow.trim()) p.set("flow", f.flow.trim());
  if (f.flowId) p.set("flowId", f.flowId);
  if (f.scheduleId) p.set("scheduleId", f.scheduleId);
  if (f.client) p.set("client", f.client);
  if (f.triggeredBy.trim()) p.set("triggeredBy", f.triggeredBy.trim());
  for (const t of f.tag) p.append("tag", t);
  if (f.from) p.set("from", f.from);
  if (f.to) p.set("to", f.to);
  if (f.limit !== PAGE_SIZE) p.set("limit", String(f.limit));
  return p;
}

export const isRunListKey = (key: string): boolean => key.startsWith("/api/runs?");

export function runsKey(filters: RunFilters, cursor: string | null): string {
  const p = searchFromFilters(filters);
  p.set("limit", String(filters.limit));
  if (cursor) p.set("cursor", cursor);
  return `/api/runs?${p.toString()}`;
}

export function useRunsPage(filters: RunFilters, cursor: string | null) {
  return useSWR<{ runs: RunSummary[]; nextCursor: string | null }>(runsKey(filters, cursor), getJson, {
    keepPreviousData: true,
  });
}
