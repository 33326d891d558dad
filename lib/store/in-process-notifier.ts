/**
 * Long-poll wake-ups in one process: workers wait here for a run of their client; a trigger wakes
 * the longest-waiting poll that serves the run (no sleep-and-recheck loop, no thundering herd
 * of 1,000 pollers). With several instances, PgNotifier carries wake-ups over PostgreSQL
 * LISTEN/NOTIFY and hands each one it hears to an instance of this class.
 */
import type { RunNotifier } from "./store";

export type { RunNotifier };

interface Waiter {
  wake: (woken: boolean) => void;
  serves?: (route: string) => boolean;
}

export class InProcessRunNotifier implements RunNotifier {
  private readonly waiters = new Map<string, Set<Waiter>>();

  runQueued(clientId: string, count = 1, route?: string): void {
    const set = this.waiters.get(clientId);
    if (!set) return;
    // Sets iterate in insertion order: the longest-waiting poller that serves the run is woken
    // first (waking one that does not would leave the run waiting for the next poll timeout).
    for (const w of [...set]) {
      if (count <= 0) break;
      if (route !== undefined && w.serves && !w.serves(route)) continue;
      count--;
      w.wake(true);
    }
  }

  /** Wakes every waiter of every client: each re-checks the store (PgNotifier, after a reconnect). */
  wakeAll(): void {
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.wake(true);
  }

  waitForRun(clientId: string, timeoutMs: number, signal?: AbortSignal, serves?: (route: string) => boolean): Promise<boolean> {
    if (signal?.aborted || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      let set = this.waiters.get(clientId);
      if (!set) this.waiters.set(clientId, (set = new Set()));
      const waiter: Waiter = {
        serves,
        wake: (woken) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          set!.delete(waiter);
          if (set!.size === 0 && this.waiters.get(clientId) === set) this.waiters.delete(clientId);
          resolve(woken);
        },
      };
      const onAbort = () => waiter.wake(false);
      const timer = setTimeout(() => waiter.wake(false), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      set.add(waiter);
    });
  }
}
