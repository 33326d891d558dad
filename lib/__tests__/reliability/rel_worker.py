"""A real Perfect worker for the reliability suite (python-workers.test.ts).

Flows: "Sleepy" naps in 100 ms steps, logging and reporting progress each step; "Chatty" logs
`lines` lines as fast as it can; "Gated" waits until the file REL_GATE exists (so a test, not
a timer, decides when it ends); "Alpha" and "Beta" log which worker (REL_NAME) executed them.
REL_MAX sets max_concurrent_runs, REL_EXIT=1 makes the worker exit once every flow completed a
run, REL_FLOWS picks the flows (comma-separated).
"""
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "sdk-python"))
sys.path.insert(0, ROOT)

from perfect_client import flow, get_logger, progress, serve, task  # noqa: E402


@task(estimated_time=1000)
def nap(seconds: float):
    """Sleep in small steps so progress and logs flow while it runs."""
    steps = max(int(seconds * 10), 1)
    for i in range(steps):
        time.sleep(0.1)
        get_logger().info("nap step %d/%d", i + 1, steps)
        progress((i + 1) / steps)


@task(estimated_time=1000)
def chatter(lines: int):
    """Log `lines` lines as fast as possible."""
    log = get_logger()
    for i in range(lines):
        log.info("line %d", i + 1)


@task(estimated_time=1000)
def wait_for_gate():
    """Report progress until the gate file appears."""
    gate = os.environ.get("REL_GATE", "")
    ticks = 0
    while not (gate and os.path.exists(gate)):
        time.sleep(0.05)
        ticks += 1
        progress(min(ticks / 1000.0, 0.9))


@task(estimated_time=50)
def mark(flow_name: str):
    """One line per execution, naming the worker that ran it."""
    get_logger().info("executed %s by %s", flow_name, os.environ.get("REL_NAME", "?"))


@flow(name="Gated", tags={"suite": "reliability"})
def gated():
    wait_for_gate()


@flow(name="Alpha", tags={"suite": "routing"})
def alpha():
    mark("Alpha")


@flow(name="Beta", tags={"suite": "routing"})
def beta():
    mark("Beta")


@flow(name="Sleepy", tags={"suite": "reliability"})
def sleepy(seconds: float = 1.0):
    nap(seconds)


@flow(name="Chatty", tags={"suite": "reliability"})
def chatty(lines: int = 10000):
    chatter(lines)


if __name__ == "__main__":
    chosen = os.environ.get("REL_FLOWS", "Sleepy,Chatty").split(",")
    flows = [f for f in (sleepy, chatty, gated, alpha, beta) if f.name in chosen]
    serve(*flows, max_concurrent_runs=int(os.environ.get("REL_MAX", "1")),
          exit_when_all_completed=os.environ.get("REL_EXIT") == "1")
