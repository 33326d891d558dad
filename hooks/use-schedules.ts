"use client";
/**
 * A flow's schedules (docs/API.md › Schedules): reading them, the live preview of fire times,
 * creating, changing, deleting and backfilling. Owns the /api/flows/{id}/schedules and
 * /api/schedules/{id} keys; the preview is not a live key (it depends on the form, not on changes).
 */
import useSWR, { mutate } from "swr";
import type { ScheduleView } from "@/lib/contracts/dashboard";
import type { CatchupPolicy, OverlapPolicy } from "@/lib/domain/states";
import { deleteJson, getJson, patchJson, postJson } from "./api-fetch";

export { CATCHUP_POLICIES, OVERLAP_POLICIES } from "@/lib/domain/states";
export type { CatchupPolicy, OverlapPolicy } from "@/lib/domain/states";
export type { ScheduleView } from "@/lib/contracts/dashboard";

/** One line each, shown next to the selects and on the schedule rows. */
export const CATCHUP_HELP: Record<CatchupPolicy, string> = {
  skip: "Fire times missed while no server was running are dropped.",
  latest: "Of the fire times missed while no server was running, only the newest runs.",
  all: "Every missed fire time runs (at most the newest 1,000).",
};
export const OVERLAP_HELP: Record<OverlapPolicy, string> = {
  allow: "A new run starts even if the previous one is still pending or running.",
  skip: "No run for this fire time while the previous one is still pending or running.",
  queue: "The run is created and waits until every earlier run of this schedule has finished.",
  cancel_running: "Earlier runs still pending or running are cancelled, then the new one runs.",
};

/** What the form sends: exactly one of `cron` / `intervalSeconds`. */
export interface ScheduleInput {
  cron?: string;
  intervalSeconds?: number;
  timezone: string;
  parameters: Record<string, unknown>;
  active: boolean;
  catchup: CatchupPolicy;
  overlap: OverlapPolicy;
}

export const flowSchedulesKey = (flowId: string): string => `/api/flows/${encodeURIComponent(flowId)}/schedules`;
export const scheduleKey = (id: string): string => `/api/schedules/${encodeURIComponent(id)}`;
const PREVIEW_PATH = "/api/schedules/preview";

const FLOW_SCHEDULES = /^\/api\/flows\/[^/?]+\/schedules$/;
/** Every schedule key (a flow's list, one schedule) — not the preview. */
export const isSchedulesKey = (key: string): boolean =>
  FLOW_SCHEDULES.test(key) || (key.startsWith("/api/schedules/") && !key.startsWith(PREVIEW_PATH));
/** The keys one schedule change touches: its flow's list and the schedule itself. */
export const isScheduleChangeKey = (flowId: string, scheduleId: string) => (key: string): boolean =>
  key === flowSchedulesKey(flowId) || key === scheduleKey(scheduleId);

/**
 * The schedules of a flow, oldest first. `enabled: false` fetches nothing (a flow card that
 * has not scrolled into view yet).
 */
export function useFlowSchedules(flowId: string, { enabled = true }: { enabled?: boolean } = {}) {
  return useSWR<{ schedules: ScheduleView[] }>(enabled ? flowSchedulesKey(flowId) : null, getJson, { keepPreviousData: true });
}

export interface PreviewQuery {
  cron?: string;
  intervalSeconds?: number;
  anchor?: string | null;
  /** Empty: the server's default (UTC). */
  timezone: string;
  count?: number;
}

export const previewKey = (q: PreviewQuery): string => {
  const p = new URLSearchParams();
  if (q.cron !== undefined) p.set("cron", q.cron);
  if (q.intervalSeconds !== undefined) p.set("intervalSeconds", String(q.intervalSeconds));
  if (q.anchor) p.set("anchor", q.anchor);
  if (q.timezone) p.set("timezone", q.timezone);
  p.set("count", String(q.count ?? 5));
  return `${PREVIEW_PATH}?${p}`;
};

/**
 * The next fire times and the human wording of a cron or interval; nothing is stored. Takes a
 * `previewKey` (debounced by the caller), or `null` to ask nothing.
 */
export function useSchedulePreview(key: string | null) {
  return useSWR<{ times: string[]; description: string }>(key, getJson, {
    keepPreviousData: true,
    revalidateOnFocus: false,
    // A 400 is the answer (a bad cron): the global retry already leaves 4xx alone.
    shouldRetryOnError: false,
  });
}

async function refresh(flowId: string, schedule?: ScheduleView | null): Promise<void> {
  await mutate(flowSchedulesKey(flowId));
  if (schedule) await mutate(scheduleKey(schedule.id), schedule, { revalidate: false });
}

/** POST /api/flows/{id}/schedules → 201; rejects with ApiRequestError (400 names the field). */
export async function createSchedule(flowId: string, input: ScheduleInput): Promise<ScheduleView> {
  const s = await postJson<ScheduleView>(flowSchedulesKey(flowId), input);
  await refresh(flowId, s);
  return s;
}

/** PATCH /api/schedules/{id}: any of the fields (`cron` and `intervalSeconds` replace each other). */
export async function updateSchedule(schedule: Pick<ScheduleView, "id" | "flowId">, patch: Partial<ScheduleInput>): Promise<ScheduleView> {
  const s = await patchJson<ScheduleView>(scheduleKey(schedule.id), patch);
  await refresh(schedule.flowId, s);
  return s;
}

export async function deleteSchedule(schedule: Pick<ScheduleView, "id" | "flowId">): Promise<void> {
  await deleteJson(scheduleKey(schedule.id));
  await mutate(scheduleKey(schedule.id), undefined, { revalidate: false });
  await refresh(schedule.flowId);
}

export interface BackfillPreview {
  count: number;
  skipped: number;
  times: string[];
}
export interface BackfillResult {
  runs: string[];
  count: number;
  skipped: number;
}

/** POST /api/flows/{id}/backfill with `dryRun: true`: how many runs the range would make. */
export function previewBackfill(flowId: string, body: { scheduleId: string; from: string; to: string }): Promise<BackfillPreview> {
  return postJson<BackfillPreview>(`/api/flows/${encodeURIComponent(flowId)}/backfill`, { ...body, dryRun: true });
}

export function runBackfill(flowId: string, body: { scheduleId: string; from: string; to: string }): Promise<BackfillResult> {
  return postJson<BackfillResult>(`/api/flows/${encodeURIComponent(flowId)}/backfill`, body);
}
