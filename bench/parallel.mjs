#!/usr/bin/env node
/**
 * Parallel tasks (issue 16), against the built server and the real Python SDK
 * (bench/py/parallel_worker.py, one worker, process per run):
 *
 *  1. a map of `--tasks` (1,000) empty tasks in one run, end to end: task runs per second over the
 *     run's own span (tasks / (endedAt − startedAt), the server's clock) and from sending the
 *     trigger until the run has ended (the flow's history shows no PENDING or RUNNING run, checked
 *     every 20 ms); every task run
 *     must be COMPLETED;
 *  2. submit overhead: inside a served run, `--submits` (1,000) `empty.submit()` calls timed by the
 *     worker with time.perf_counter around the submit loop alone, divided by their number.
 *
 *   node bench/parallel.mjs [--tasks 1000] [--trials 5] [--submits 1000] [--submit-trials 10]
 */
import { startServer } from "./lib/server.mjs";
import { commandOf, latencyFigure, rateFigure, runCli } from "./lib/figures.mjs";
import { apiClient } from "./lib/http.mjs";
import { flowIdOf, startPythonWorker } from "./lib/python-worker.mjs";
import { sleep, summarize } from "./lib/stats.mjs";

const monoMs = () => Number(process.hrtime.bigint()) / 1e6;



/**
 * Waits until the flow has no PENDING or RUNNING run (the light history query, checked every
 * 20 ms: polling the run itself would fetch its 1,000 task runs each time and load the server
 * being measured), then reads the run once.
 */
async function waitEnd(api, flowId, runId, worker, limitMs = 300_000) {
  const deadline = monoMs() + limitMs;
  for (;;) {
    const open = await api.get(`/api/runs?flowId=${flowId}&state=PENDING&state=RUNNING&limit=1`);
    if (open.runs.length === 0) {
      const at = monoMs();
      return { run: await api.get(`/api/runs/${runId}`), at };
    }
    if (monoMs() > deadline) throw new Error(`run ${runId} did not end\n${worker.stderr()}`);
    await sleep(20);
  }
}

/**
 * `trials` runs of a map over `tasks` empty tasks (after one warm-up run): task runs per second
 * over the run's span and from the trigger until COMPLETED is seen; `complete` says every trial's
 * run and task runs COMPLETED.
 */
export async function measureMap(base, { tasks = 1000, trials = 5, warmup = 1 } = {}) {
  const worker = await startPythonWorker(base, { script: "parallel_worker.py" });
  const api = apiClient(base);
  try {
    const flowId = await flowIdOf(api, "Bench Parallel Map");
    await sleep(300);
    const spanRates = [];
    const e2eRates = [];
    let complete = true;
    for (let i = 0; i < warmup + trials; i++) {
      const sent = monoMs();
      const { id } = await api.trigger(flowId, { n: tasks });
      const { run, at } = await waitEnd(api, flowId, id, worker);
      const done = run.state === "COMPLETED" && run.taskRuns.length === tasks && run.taskRuns.every((t) => t.state === "COMPLETED");
      if (i < warmup) continue;
      complete = complete && done;
      spanRates.push(tasks / ((Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000));
      e2eRates.push(tasks / ((at - sent) / 1000));
    }
    return { spanRates, e2eRates, complete };
  } finally {
    await worker.stop();
    api.agent.destroy();
  }
}

/** `trials` runs each timing `submits` submit() calls inside the run (after one warm-up run). */
export async function measureSubmit(base, { submits = 1000, trials = 10, warmup = 1 } = {}) {
  const reported = new Map();
  const worker = await startPythonWorker(base, {
    script: "parallel_worker.py",
    onLine: (line) => {
      const m = /^SUBMIT (\S+) (\d+) (\d+)$/.exec(line);
      if (m) reported.set(m[1], Number(m[3]) / 1e6 / Number(m[2]));
    },
  });
  const api = apiClient(base);
  try {
    const flowId = await flowIdOf(api, "Bench Submit Overhead");
    const perTask = [];
    let complete = true;
    for (let i = 0; i < warmup + trials; i++) {
      const token = `s${i}`;
      const { id } = await api.trigger(flowId, { n: submits, token });
      const { run } = await waitEnd(api, flowId, id, worker);
      if (i < warmup) continue;
      complete = complete && run.state === "COMPLETED" && reported.has(token);
      if (reported.has(token)) perTask.push(reported.get(token));
    }
    return { perTask, complete };
  } finally {
    await worker.stop();
    api.agent.destroy();
  }
}

export async function main(args = {}) {
  const tasks = args.tasks ?? 1000;
  const trials = args.trials ?? 5;
  const submits = args.submits ?? 1000;
  const submitTrials = args.submitTrials ?? 10;
  const server = await startServer({});
  try {
    const m = await measureMap(server.url, { tasks, trials });
    const s = await measureSubmit(server.url, { submits, trials: submitTrials });
    return {
      id: "parallel",
      title: "Parallel tasks: a map of empty tasks, and the cost of submit()",
      command: commandOf("parallel.mjs", `--tasks ${tasks} --trials ${trials} --submits ${submits} --submit-trials ${submitTrials}`),
      figures: [
        rateFigure({
          what: `${tasks.toLocaleString("en-US")} mapped empty tasks in one run: task runs/s over the run (startedAt → endedAt)`,
          rates: m.spanRates,
          min: 2000,
          unit: "task runs/s",
          extraMet: m.complete,
          note: `one Python worker, process per run, default max_parallel_tasks (16); ${trials} trials after a warm-up run; every run and task run COMPLETED: ${m.complete ? "yes" : "NO"}`,
        }),
        rateFigure({
          what: `the same, from sending the trigger until the run is seen COMPLETED`,
          rates: m.e2eRates,
          min: 2000,
          unit: "task runs/s",
          extraMet: m.complete,
          note: "includes dispatch, the run process's start and the delivery of every event (2 per task); the flow's open runs are checked every 20 ms",
        }),
        latencyFigure({
          what: `submit() overhead per task inside a served run (${submits.toLocaleString("en-US")} submits timed by time.perf_counter)`,
          samples: s.perTask,
          goal: { median: 0.2, p99: 0.5 },
          note: `median over ${submitTrials} runs of the per-task mean; the pool runs the tasks meanwhile (as in real use); all runs COMPLETED: ${s.complete ? "yes" : "NO"}`,
        }),
      ],
      details: { map: { span: summarize(m.spanRates), e2e: summarize(m.e2eRates), complete: m.complete }, submit: { ...summarize(s.perTask), complete: s.complete } },
    };
  } finally {
    await server.stop();
  }
}

runCli(import.meta.url, main);
