/**
 * Prometheus metrics of one server instance (prom-client, a registry per engine so tests and
 * hot reloads never register a metric twice). Nothing here reads the run history: what grows
 * with it is counted as the engine changes state (counters of this instance since it started —
 * sum them across instances in PromQL), and what is read at scrape time is small by nature
 * (PENDING/RUNNING runs through the state index, pending deliveries, workers in memory).
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface MetricsSources {
  /** PENDING and RUNNING runs per flow (the whole database: the same figure on every instance). */
  activeRuns(): Promise<{ flowName: string; state: string; count: number }[]>;
  /** Workers online per client, as this instance judges them (it reads every instance's signs of life). */
  workersOnline(): Map<string, number>;
  pendingDeliveries(): Promise<number>;
}

const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
const DISPATCH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300];

export class EngineMetrics {
  readonly registry = new Registry();
  private readonly runsFinished: Counter<"flow" | "state">;
  private readonly taskDuration: Histogram<"flow" | "task">;
  private readonly dispatchLatency: Histogram<never>;
  private readonly deliveries: Counter<"outcome">;
  private readonly attempts: Counter<"result">;
  private sources: MetricsSources | null = null;

  constructor() {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this; // the collect callbacks' `this` is their gauge
    const registers = [this.registry];
    this.runsFinished = new Counter({
      name: "perfect_runs_finished_total",
      help: "Runs this instance saw end, by flow and final state (COMPLETED, FAILED, CANCELLED).",
      labelNames: ["flow", "state"],
      registers,
    });
    new Gauge({
      name: "perfect_runs_active",
      help: "Runs PENDING or RUNNING now, by flow and state (whole database).",
      labelNames: ["flow", "state"],
      registers,
      collect: async function (this: Gauge<"flow" | "state">) {
        this.reset();
        for (const r of (await self.sources?.activeRuns()) ?? []) this.set({ flow: r.flowName, state: r.state }, r.count);
      },
    });
    new Gauge({
      name: "perfect_queue_depth",
      help: "Runs PENDING now (waiting for a worker), whole database.",
      registers,
      collect: async function (this: Gauge) {
        let n = 0;
        for (const r of (await self.sources?.activeRuns()) ?? []) if (r.state === "PENDING") n += r.count;
        this.set(n);
      },
    });
    new Gauge({
      name: "perfect_workers_online",
      help: "Worker processes online now, by client.",
      labelNames: ["client"],
      registers,
      collect: function (this: Gauge<"client">) {
        this.reset();
        for (const [client, n] of self.sources?.workersOnline() ?? []) this.set({ client }, n);
      },
    });
    this.taskDuration = new Histogram({
      name: "perfect_task_duration_seconds",
      help: "Durations of completed task runs (their last attempt), by flow and task.",
      labelNames: ["flow", "task"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.dispatchLatency = new Histogram({
      name: "perfect_dispatch_latency_seconds",
      help: "From a run's creation (or its schedule's fire time) to its claim by a worker.",
      buckets: DISPATCH_BUCKETS,
      registers,
    });
    this.deliveries = new Counter({
      name: "perfect_alert_deliveries_total",
      help: "Alert deliveries by outcome: queued, throttled, delivered, dead (given up).",
      labelNames: ["outcome"],
      registers,
    });
    this.attempts = new Counter({
      name: "perfect_alert_attempts_total",
      help: "Alert sends by result: success (2xx) or failure (an error, a timeout or another status).",
      labelNames: ["result"],
      registers,
    });
    new Gauge({
      name: "perfect_alert_deliveries_pending",
      help: "Alert deliveries waiting to be sent or retried (whole database).",
      registers,
      collect: async function (this: Gauge) {
        this.set((await self.sources?.pendingDeliveries()) ?? 0);
      },
    });
    // Every label set a scrape should see even before its first event.
    for (const outcome of ["queued", "throttled", "delivered", "dead"]) this.deliveries.inc({ outcome }, 0);
    for (const result of ["success", "failure"]) this.attempts.inc({ result }, 0);
  }

  attach(sources: MetricsSources): void {
    this.sources = sources;
  }

  runFinished(flow: string, state: string): void {
    this.runsFinished.inc({ flow, state });
  }
  taskCompleted(flow: string, task: string, durationMs: number): void {
    this.taskDuration.observe({ flow, task }, durationMs / 1000);
  }
  dispatched(latencyMs: number): void {
    this.dispatchLatency.observe(Math.max(latencyMs, 0) / 1000);
  }
  delivery(outcome: "queued" | "throttled" | "delivered" | "dead", n = 1): void {
    this.deliveries.inc({ outcome }, n);
  }
  attempt(ok: boolean): void {
    this.attempts.inc({ result: ok ? "success" : "failure" });
  }

  get contentType(): string {
    return this.registry.contentType;
  }
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
