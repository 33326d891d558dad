"""A Perfect worker for the end-to-end benchmarks (bench/e2e.mjs), built on the real SDK.

Serves two flows:
  * "Bench E2E Dispatch": one task that reports, the moment its body starts, the run's token and
    time.monotonic_ns() (the same CLOCK_MONOTONIC the Node benchmark reads through
    process.hrtime), so trigger -> first task body can be timed across processes;
  * "Bench Ten Tasks": ten empty tasks, each reporting (token, index) once, so the benchmark can
    check that every run and every task executed exactly once across workers;
  * "Bench Scheduled": one task reporting its token and time.time_ns() (wall clock) the moment
    its body starts, for fire time -> task body (bench/schedules.mjs).

Reports go to the process's real stdout (print inside a task is captured as a run log), one
line each: "START <token> <ns>", "TASK <token> <i>", "FIRED <token> <wall ns>". Configuration comes from PERFECT_URL,
PERFECT_CLIENT_ID, PERFECT_TOKEN, BENCH_MAX_CONCURRENT_RUNS and BENCH_ISOLATION ("process", the
SDK's default: each run in a process of its own; or "thread").
"""
import os
import time

from bench_common import report  # first: puts this checkout's SDK on the path
from perfect_client import flow, serve, task


@task(estimated_time=1)
def mark(token: str):
    report("START %s %d" % (token, time.monotonic_ns()))


@flow(name="Bench E2E Dispatch", tags={"team": "bench"})
def dispatch_flow(token: str = ""):
    mark(token)


def _step(index):
    def body(token: str):
        report("TASK %s %d" % (token, index))
    body.__name__ = "step_%d" % index
    return task(estimated_time=1)(body)


s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = (_step(i) for i in range(10))


@flow(name="Bench Ten Tasks", tags={"team": "bench"})
def ten_tasks(token: str = ""):
    s0(token)
    s1(token)
    s2(token)
    s3(token)
    s4(token)
    s5(token)
    s6(token)
    s7(token)
    s8(token)
    s9(token)


@task(estimated_time=1)
def fired(token: str):
    # Wall clock: compared with the run's scheduledFor, a wall-clock instant of the server's.
    report("FIRED %s %d" % (token, time.time_ns()))


@flow(name="Bench Scheduled", tags={"team": "bench"})
def scheduled_flow(token: str = ""):
    fired(token)


if __name__ == "__main__":
    serve(dispatch_flow, ten_tasks, scheduled_flow, max_concurrent_runs=int(os.environ.get("BENCH_MAX_CONCURRENT_RUNS", "4")),
          isolation=os.environ.get("BENCH_ISOLATION", "process"))
