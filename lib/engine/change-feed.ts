/**
 * The in-process change feed the dashboard's SSE stream listens to. Behind an interface so a
 * multi-instance backend can fan changes out through its database (LISTEN/NOTIFY) instead.
 */
export type Change =
  | { kind: "run"; runId: string; flowId: string; state: string; progress: number }
  | { kind: "taskRun"; runId: string; taskRunId: string; state: string }
  | { kind: "log"; runId: string; lastLogId: string; count: number }
  | { kind: "client"; clientId: string; online: boolean }
  | { kind: "flow"; flowId: string; clientId: string }
  | { kind: "stats"; flowId: string; taskName: string };

export interface ChangeFeed {
  publish(change: Change): void;
  subscribe(listener: (change: Change) => void): () => void;
}

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
