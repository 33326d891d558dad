"""Worker runtime figures (issue 12): dispatch latency trigger → task body, and task runs/s.

    python3 sdk-python/bench_runtime.py [--runs 40] [--tasks 3000] [--gap 1.0] [--bursts 0.05,0]

A real worker process (this SDK, over real HTTP) serves the fake server of the tests; each mode
is one worker: ``fork`` (the default: run processes forked by a fork server), ``process``
(a warm pool of spawned processes), ``process-cold`` (spawning per run, ``warm_processes=0``),
and ``thread`` (runs in worker threads). Dispatch: one run at a time, the time
from the trigger to the first line of its task body (both stamped with this machine's
``time.time()``), triggers ``--gap`` seconds apart; median and p90 of ``--runs`` runs. Throughput: one run calling an empty task
``--tasks`` times, trigger to COMPLETED stored; median of three. Bursts: ``--runs`` triggers
``--bursts`` seconds apart (50 ms, and back to back), not waiting for one another; trigger →
task body per run. Prints one JSON line per mode.
The server is the fake, so the figures are the SDK's share (the real server adds its own).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "tests"), HERE]

from fake_perfect import FakeHttpServer, FakePerfect  # noqa: E402

WORKER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, %(sdk)r)
    from perfect_client import flow, serve, task

    @task
    def body(stamp_dir, run_key):
        with open(os.path.join(stamp_dir, run_key), "w") as handle:
            handle.write(repr(time.time()))

    @flow(name="Dispatch")
    def dispatch(stamp_dir: str = "", run_key: str = ""):
        body(stamp_dir, run_key)

    @task
    def empty():
        return None

    @flow(name="Many Tasks")
    def many(count: int = 1000):
        for _ in range(count):
            empty()

    if __name__ == "__main__":
        mode = sys.argv[1]
        kwargs = {"isolation": "thread"} if mode == "thread" else {"isolation": "process"}
        if mode in ("process", "process-cold"):
            kwargs["process_start"] = "spawn"
        if mode == "process-cold":
            kwargs["warm_processes"] = 0
        serve(dispatch, many, max_concurrent_runs=4, **kwargs)
""")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def burst(fake, stamps, prefix, runs, gap):
    """``runs`` triggers ``gap`` seconds apart (0: back to back), not waiting for one another."""
    triggered = {}
    ids = []
    for i in range(runs):
        key = "%s%d" % (prefix, i)
        triggered[key] = time.time()
        ids.append(fake.trigger("Dispatch", {"stamp_dir": stamps, "run_key": key}))
        if gap:
            time.sleep(gap)
    fake.wait_for(lambda f: all(f.runs[r]["state"] in ("COMPLETED", "FAILED") for r in ids), 300)
    latencies = []
    for key, at in triggered.items():
        with open(os.path.join(stamps, key)) as handle:
            latencies.append((float(handle.read()) - at) * 1000.0)
    return latencies


def bench_mode(mode, runs, tasks, workdir, gap, bursts):
    fake = FakePerfect(long_poll_ms=25000)
    http = FakeHttpServer(fake).start()
    script = os.path.join(workdir, "bench_worker.py")
    with open(script, "w") as handle:
        handle.write(WORKER % {"sdk": HERE})
    env = dict(os.environ, PERFECT_URL=http.url, PERFECT_TOKEN=fake.token, PERFECT_CLIENT_ID=fake.client_id)
    worker = subprocess.Popen([sys.executable, script, mode], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        fake.wait_for(lambda f: f.registrations, 60)
        stamps = os.path.join(workdir, "stamps-" + mode)
        os.makedirs(stamps)
        latencies = []
        for i in range(runs + 3):  # the first three warm up (imports, first spares)
            key = "r%d" % i
            triggered = time.time()
            run_id = fake.trigger("Dispatch", {"stamp_dir": stamps, "run_key": key})
            fake.wait_for(lambda f: f.runs[run_id]["state"] in ("COMPLETED", "FAILED"), 60)
            with open(os.path.join(stamps, key)) as handle:
                started = float(handle.read())
            if i >= 3:
                latencies.append((started - triggered) * 1000.0)
            time.sleep(gap)  # triggers arrive this far apart (the pool refills meanwhile)
        figures = {}
        for burst_gap in bursts:
            time.sleep(2.0)  # let a warm pool refill between series
            values = burst(fake, stamps, "b%g-" % burst_gap, runs, burst_gap)
            name = "burst_%gms" % (burst_gap * 1000)
            figures[name + "_p50_ms"] = round(statistics.median(values), 2)
            figures[name + "_p90_ms"] = round(percentile(values, 0.9), 2)
        rates = []
        for _ in range(3):
            begin = time.monotonic()
            run_id = fake.trigger("Many Tasks", {"count": tasks})
            fake.wait_for(lambda f: f.runs[run_id]["state"] in ("COMPLETED", "FAILED"), 300)
            rates.append(tasks / (time.monotonic() - begin))
        return {"mode": mode, "dispatch_p50_ms": round(statistics.median(latencies), 2),
                "dispatch_p90_ms": round(percentile(latencies, 0.9), 2), "runs": runs,
                "task_runs_per_s": round(statistics.median(rates)), "tasks_per_run": tasks, **figures}
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        http.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--modes", default="fork,process,process-cold,thread",
                        help="fork: fork server (default runtime); process: warm spawn pool; "
                             "process-cold: spawn per run; thread: runs in worker threads")
    parser.add_argument("--bursts", default="0.05,0",
                        help="comma-separated gaps (s) of burst series: --runs triggers that far apart")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between dispatch triggers")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="perfect-bench-")
    try:
        for mode in args.modes.split(","):
            bursts = [float(g) for g in args.bursts.split(",") if g.strip()]
            print(json.dumps(bench_mode(mode, args.runs, args.tasks, workdir, args.gap, bursts)), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
