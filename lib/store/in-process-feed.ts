/**
 * The in-process change feed the dashboard's SSE stream listens to. A multi-instance backend
 * fans changes out through its database instead (lib/store/postgres/notify.ts).
 */
import type { Change } from "../domain/changes";
import type { ChangeFeed } from "./store";

export type { Change, ChangeFeed };

export class InProcessChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<(change: Change) => void>();

  publish(change: Change): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // A broken subscriber (a closed SSE stream) must not break the write that published.
      }
    }
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }
}
