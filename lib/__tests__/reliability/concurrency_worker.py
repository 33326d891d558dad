"""A real Perfect worker for the concurrency-limit suite (concurrency.test.ts).

Flow "Warehouse": one call of ``load``, a task with ``concurrency_key="warehouse"`` that logs the
wall-clock time it entered and left its body (``enter <t>`` / ``exit <t>``), waits until the
file CONC_GATE exists (a test, not a timer, decides when the holders finish), then works for
``seconds``. Flow "Dock": one call of ``unload`` (key "dock"), the same shape with CONC_GATE.
CONC_MAX sets max_concurrent_runs.
"""
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "sdk-python"))
sys.path.insert(0, ROOT)

from perfect_client import flow, get_logger, serve, task  # noqa: E402


def _hold(seconds):
    # type: (float) -> None
    log = get_logger()
    log.info("enter %.6f by %s", time.time(), os.environ.get("CONC_NAME", "?"))
    gate = os.environ.get("CONC_GATE", "")
    while not (gate and os.path.exists(gate)):
        time.sleep(0.02)
    time.sleep(seconds)
    log.info("exit %.6f", time.time())


@task(estimated_time=200, concurrency_key="warehouse")
def load(seconds: float):
    """Holds a 'warehouse' slot while it runs."""
    _hold(seconds)


@task(estimated_time=200, concurrency_key="dock")
def unload(seconds: float):
    """Holds a 'dock' slot while it runs."""
    _hold(seconds)


@flow(name="Warehouse", tags={"suite": "concurrency"})
def warehouse(seconds: float = 0.2):
    load(seconds)


@flow(name="Dock", tags={"suite": "concurrency"})
def dock(seconds: float = 0.1):
    unload(seconds)


if __name__ == "__main__":
    serve(warehouse, dock, max_concurrent_runs=int(os.environ.get("CONC_MAX", "4")))
