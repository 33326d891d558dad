"""A real Perfect worker for the reliability suite (python-workers.test.ts).

Flows: "Sleepy" naps in 100 ms steps, logging and reporting progress each step; "Chatty" logs
`lines` lines as fast as it can. REL_MAX sets max_concurrent_runs, REL_EXIT=1 makes the worker
exit once every flow completed a run, REL_FLOWS picks the flows (comma-separated).
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


@flow(name="Sleepy", tags={"suite": "reliability"})
def sleepy(seconds: float = 1.0):
    nap(seconds)


@flow(name="Chatty", tags={"suite": "reliability"})
def chatty(lines: int = 10000):
    chatter(lines)


if __name__ == "__main__":
    chosen = os.environ.get("REL_FLOWS", "Sleepy,Chatty").split(",")
    flows = [f for f in (sleepy, chatty) if f.name in chosen]
    serve(*flows, max_concurrent_runs=int(os.environ.get("REL_MAX", "1")),
          exit_when_all_completed=os.environ.get("REL_EXIT") == "1")
