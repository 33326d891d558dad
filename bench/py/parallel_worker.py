"""A Perfect worker for bench/parallel.mjs, built on the real SDK (process per run, the default).

Serves two flows:
  * "Bench Parallel Map": ``empty.map(range(n))``, n empty tasks in one run (the run's pool has
    the default ``max_parallel_tasks``);
  * "Bench Submit Overhead": n ``empty.submit()`` calls timed with ``time.perf_counter`` around
    the submit loop only (the tasks run meanwhile on the pool, as in real use), reported on the
    process's real stdout as "SUBMIT <token> <n> <ns>", then every future is waited for.

Configuration comes from PERFECT_URL, PERFECT_CLIENT_ID, PERFECT_TOKEN and BENCH_ISOLATION.
"""
import os
import time

from bench_common import report  # first: puts this checkout's SDK on the path
from perfect_client import flow, serve, task, wait


@task(estimated_time=1)
def empty(i=0):
    return i


@flow(name="Bench Parallel Map", tags={"team": "bench"})
def parallel_map(n: int = 1000):
    for future in empty.map(range(n)):
        future.result()


@flow(name="Bench Submit Overhead", tags={"team": "bench"})
def submit_overhead(n: int = 1000, token: str = ""):
    begin = time.perf_counter()
    futures = [empty.submit() for _ in range(n)]
    elapsed = time.perf_counter() - begin
    report("SUBMIT %s %d %d" % (token, n, int(elapsed * 1e9)))
    wait(futures)
    for future in futures:
        future.result()


if __name__ == "__main__":
    serve(parallel_map, submit_overhead, max_concurrent_runs=2, isolation=os.environ.get("BENCH_ISOLATION", "process"))
