/**
 * A shared ticking clock, so durations of running tasks, ETAs and "last heartbeat N s ago"
 * move between server updates. One interval per tick rate, whatever the number of readers.
 * Returns 0 during server rendering (callers render no time-dependent text then), and always
 * 0 for an interval of 0: a component with nothing running passes 0 and never re-renders for it.
 */
import { useSyncExternalStore } from "react";

interface Ticker {
  subscribe: (listener: () => void) => () => void;
  read: () => number;
}

const tickers = new Map<number, Ticker>();
const zero = () => 0;
const STATIC: Ticker = { subscribe: () => () => {}, read: zero };

/** Built once per interval: useSyncExternalStore must get the same functions on every render. */
function tickerFor(intervalMs: number): Ticker {
  if (intervalMs <= 0) return STATIC;
  let t = tickers.get(intervalMs);
  if (t) return t;
  let now = Date.now();
  let timer: ReturnType<typeof setInterval> | null = null;
  const listeners = new Set<() => void>();
  t = {
    read: () => now,
    subscribe: (listener) => {
      listeners.add(listener);
      if (!timer) {
        timer = setInterval(() => {
          now = Date.now();
          for (const l of listeners) l();
        }, intervalMs);
        // A clock that was stopped is stale: refresh it for the reader that just arrived.
        now = Date.now();
        queueMicrotask(listener);
      }
      return () => {
        listeners.delete(listener);
        if (!listeners.size && timer) {
          clearInterval(timer);
          timer = null;
        }
      };
    },
  };
  tickers.set(intervalMs, t);
  return t;
}

export function useNow(intervalMs = 1000): number {
  const ticker = tickerFor(intervalMs);
  return useSyncExternalStore(ticker.subscribe, ticker.read, zero);
}
