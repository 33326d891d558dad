/** What every system is given: its resources. Peers are passed to each system explicitly. */
import type { ClientRegistry } from "../../clients-file";
import type { ChangeFeed, RunNotifier, Store } from "../../store/store";
import type { Clock } from "../clock";
import type { AlertsSystem } from "./alerts";

export interface EngineConfig {
  heartbeatTimeoutMs: number;
  longPollMs: number;
  /** A fire time older than this when the scheduler reaches it was missed (catch-up policy); a scheduled run waiting longer is late. */
  scheduleGraceMs: number;
}

export interface EngineContext {
  store: Store;
  clock: Clock;
  notifier: RunNotifier;
  feed: ChangeFeed;
  clients: ClientRegistry;
  config: EngineConfig;
  /** Alerts and metrics: told of the changes they watch, inside the transaction that makes them. */
  alerts?: AlertsSystem;
}

/** One id parser for run ids in paths (a non-number is simply not found). */
export function parseId(what: string, text: string, notFound: (what: string, id: string) => Error): number {
  if (!/^\d{1,15}$/.test(text)) throw notFound(what, text);
  return Number(text);
}

/** The route of a run: which workers can take it (flow id @ version). */
export const routeOf = (flowId: number, version: string): string => `${flowId}@${version}`;
