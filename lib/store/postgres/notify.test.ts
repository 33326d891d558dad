import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Change } from "../../domain/changes";
import { openPostgresBackend, type PostgresBackend } from "./index";
import { startTestDatabases, type TestDatabases } from "./test-database";

// Two instances (two backends, two LISTEN connections) on one database of a cluster of this file's own.
let dbs: TestDatabases;
let a: PostgresBackend;
let b: PostgresBackend;
let admin: pg.Client;
beforeAll(async () => {
  dbs = await startTestDatabases();
  const url = await dbs.fresh();
  a = await openPostgresBackend(url, { poolSize: 4 });
  b = await openPostgresBackend(url, { poolSize: 4 });
  admin = new pg.Client({ connectionString: url });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
  await a?.close();
  await b?.close();
  await dbs?.stop();
});

/** A wait whose outcome can be read once settled; abort() ends it (false) if nothing woke it. */
function waiter(backend: PostgresBackend, clientId: string, serves?: (route: string) => boolean) {
  const ac = new AbortController();
  const state: { woken?: boolean } = {};
  const done = backend.notifier.waitForRun(clientId, 60_000, ac.signal, serves).then((w) => (state.woken = w));
  return { done, state, abort: () => ac.abort() };
}

describe("PgNotifier across instances", () => {
  it("a run queued on A wakes B's waiter that serves the route, the oldest first, and not one that does not", async () => {
    const other = waiter(b, "c1", (r) => r === "2@v1");
    const first = waiter(b, "c1", (r) => r === "1@v1");
    const second = waiter(b, "c1", (r) => r === "1@v1");
    const otherClient = waiter(b, "c2");
    a.notifier.runQueued("c1", 1, "1@v1");
    await first.done;
    expect(first.state.woken).toBe(true);
    // The same notification was handled in one go: whatever else it woke has settled by now.
    await new Promise((r) => setImmediate(r));
    expect(second.state.woken).toBeUndefined();
    expect(other.state.woken).toBeUndefined();
    a.notifier.runQueued("c1", 5, "1@v1");
    await second.done;
    expect(second.state.woken).toBe(true);
    other.abort();
    otherClient.abort();
    expect(await other.done).toBe(false);
    expect(await otherClient.done).toBe(false);
  });

  it("the sender's own waiters are woken too, and a route-less wake reaches any waiter", async () => {
    const own = waiter(a, "c1", (r) => r === "9@x");
    const any = waiter(b, "c1", () => false);
    a.notifier.runQueued("c1", 1, "9@x");
    expect(await own.done).toBe(true);
    b.notifier.runQueued("c1", 1);
    expect(await any.done).toBe(true);
  });

  it("a change published on A reaches subscribers on B and on A, in order", async () => {
    const onB: Change[] = [];
    const onA: Change[] = [];
    const gotAll = new Promise<void>((resolve) => {
      const unsub = b.feed.subscribe((c) => {
        onB.push(c);
        if (onB.length === 3) {
          unsub();
          resolve();
        }
      });
    });
    const unsubA = a.feed.subscribe((c) => onA.push(c));
    const changes: Change[] = [
      { kind: "run", runId: "1", flowId: "2", state: "RUNNING", progress: 0.5 },
      { kind: "log", runId: "1", lastLogId: "10", count: 3 },
      { kind: "flow", flowId: "2", clientId: "c1 ✓" },
    ];
    for (const c of changes) a.feed.publish(c);
    await gotAll;
    expect(onB).toEqual(changes);
    await new Promise<void>((resolve) => {
      const check = () => (onA.length >= 3 ? resolve() : setTimeout(check, 10));
      check();
    });
    unsubA();
    expect(onA).toEqual(changes);
  });

  it("after its LISTEN connection is killed, B reconnects, resyncs (waiters woken, feed told) and later wake-ups still arrive", async () => {
    const pid = b.listener.backendPid();
    expect(pid).toBeTypeOf("number");
    const resynced = new Promise<void>((resolve) => {
      const unsub = b.feed.onResync(() => {
        unsub();
        resolve();
      });
    });
    const before = waiter(b, "c1", () => false);
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    await resynced;
    // The catch-up woke the waiter that might have missed a notification while B was deaf.
    expect(await before.done).toBe(true);
    expect(b.listener.backendPid()).not.toBe(pid);
    const after = waiter(b, "c1", (r) => r === "1@v1");
    a.notifier.runQueued("c1", 1, "1@v1");
    expect(await after.done).toBe(true);
    const change = new Promise<Change>((resolve) => {
      const unsub = b.feed.subscribe((c) => {
        unsub();
        resolve(c);
      });
    });
    a.feed.publish({ kind: "client", clientId: "c1", online: true });
    expect(await change).toEqual({ kind: "client", clientId: "c1", online: true });
  });
});
