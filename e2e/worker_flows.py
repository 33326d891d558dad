"""Fast, controllable flows for the dashboard's end-to-end tests (served by global-setup.ts).

    PERFECT_URL=... PERFECT_CLIENT_ID=e2e_flows PERFECT_TOKEN=... python3 e2e/worker_flows.py

- "E2E Quick Flow": three short tasks and one parameter of every kind the trigger form draws.
- the hostile flow: its name, description, tags, a parameter default and its log lines carry
  HTML/script payloads that the dashboard and the report must show as plain text.
- "E2E Long Flow": six slow tasks, to cancel and to kill the worker under.
- "E2E Chatty Flow": a steady stream of log lines, to follow the tail of; it declares a schedule
  in code (one that never fires during a run of the suite).
- "E2E Drift Flow": one task whose duration is its ``delay_ms`` parameter, to build a fast
  baseline and then run slow enough for SLOW/CRITICAL.
- "E2E Subflow Parent": calls the flow "E2E Subflow Child" (a subflow: a child run of its own),
  to show the tree in the run view. The child is not served on its own: the server learns it at
  its first call.
- "E2E Warehouse Flow": one task with ``concurrency_key="e2e-warehouse"`` that holds its slot
  until the test opens its gate (concurrency.spec.ts: holders and the queue on /concurrency).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sdk-python"))

from perfect_client import cron, flow, get_logger, progress, serve, task  # noqa: E402

log = get_logger()

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE_NAME = "Hostile %s flow %s" % (SCRIPT, IMG)


def _sleep(seconds, steps=5):
    for i in range(steps):
        time.sleep(seconds / steps)
        progress((i + 1) / steps)


# -- quick ---------------------------------------------------------------------------------------

@task(estimated_time=400)
def quick_extract(label, limit):
    """Pretend to read rows."""
    log.info("quick_extract label=%s limit=%d", label, limit)
    _sleep(0.4)
    return list(range(limit))


@task(estimated_time=300)
def quick_transform(rows, ratio):
    """Keep a share of the rows."""
    kept = rows[: int(len(rows) * ratio)]
    print("quick_transform kept %d of %d rows" % (len(kept), len(rows)))
    _sleep(0.3)
    return kept


@task(estimated_time=300)
def quick_load(rows, dry_run):
    """Write the rows (or not)."""
    _sleep(0.3)
    log.info("quick_load wrote %d rows (dry_run=%s)", 0 if dry_run else len(rows), dry_run)
    log.warning("quick_load finished with a harmless warning")


@flow(name="E2E Quick Flow", description="Three fast tasks for the end-to-end tests",
      tags={"suite": "e2e", "kind": "quick"})
def e2e_quick(label: str = "hello", limit: int = 10, ratio: float = 0.5, dry_run: bool = False,
              options: dict = None):
    log.info("options=%r", options)
    quick_load(quick_transform(quick_extract(label, limit), ratio), dry_run)


# -- hostile -------------------------------------------------------------------------------------

@task(estimated_time=300)
def hostile_step(note):
    """Logs untrusted text %s"""
    log.info("hostile log %s %s note=%s", SCRIPT, IMG, note)
    log.error("error with markup <b>bold</b> %s", IMG)
    _sleep(0.3)


@flow(name=HOSTILE_NAME, description="Description with %s and %s" % (SCRIPT, IMG),
      tags={"suite": "e2e", "xss": IMG, "kind": SCRIPT})
def e2e_hostile(note: str = SCRIPT):
    hostile_step(note)


# -- long ----------------------------------------------------------------------------------------

def _long(i, seconds):
    log.info("long stage %d working for %.1f s", i, seconds)
    _sleep(seconds, steps=10)


def _wait_for_gate(gate, report=True):
    """Until the test creates the file `gate` (a test, not a timer, ends the wait)."""
    ticks = 0
    while not os.path.exists(gate):
        time.sleep(0.1)
        ticks += 1
        if report:
            progress(min(ticks / 200.0, 0.9))


@task(estimated_time=3000)
def long_stage_one(seconds, gate=""):
    if gate:
        log.info("long stage 1 working until the test opens the gate")
        _wait_for_gate(gate)
        return
    _long(1, seconds)


@task(estimated_time=3000)
def long_stage_two(seconds):
    _long(2, seconds)


@task(estimated_time=3000)
def long_stage_three(seconds):
    _long(3, seconds)


@task(estimated_time=3000)
def long_stage_four(seconds):
    _long(4, seconds)


@task(estimated_time=3000)
def long_stage_five(seconds):
    _long(5, seconds)


@task(estimated_time=3000)
def long_stage_six(seconds):
    _long(6, seconds)


@flow(name="E2E Long Flow", description="Six slow stages: cancel me, or kill my worker",
      tags={"suite": "e2e", "kind": "long"})
def e2e_long(seconds: float = 3.0, gate: str = ""):
    long_stage_one(seconds, gate)
    long_stage_two(seconds)
    long_stage_three(seconds)
    long_stage_four(seconds)
    long_stage_five(seconds)
    long_stage_six(seconds)


# -- chatty --------------------------------------------------------------------------------------

@task(estimated_time=3000)
def chatter(lines, interval_ms, pause_at, gate):
    """Logs a numbered line every interval_ms; after line `pause_at` it waits for the file `gate`
    (so a test, not a timer, decides when the rest arrives)."""
    for i in range(1, lines + 1):
        log.info("chatter line %04d of %d", i, lines)
        progress(i / lines)
        time.sleep(interval_ms / 1000.0)
        if gate and i == pause_at:
            while not os.path.exists(gate):
                time.sleep(0.05)


# A schedule declared in code, for the dashboard's "defined in code" view. Noon on 29 February
# in Berlin: it never fires while the suite runs, so no spec sees a run it did not ask for.
@flow(name="E2E Chatty Flow", description="Many log lines, to follow the tail of",
      tags={"suite": "e2e", "kind": "chatty"},
      schedules=[cron("0 12 29 2 *", timezone="Europe/Berlin", parameters={"lines": 5})])
def e2e_chatty(lines: int = 150, interval_ms: int = 40, pause_at: int = 0, gate: str = ""):
    chatter(lines, interval_ms, pause_at, gate)


# -- drift ---------------------------------------------------------------------------------------

@task(estimated_time=200)
def drift_step(delay_ms, gate=""):
    """Takes exactly delay_ms, or until the file `gate` exists (without progress reports, so the
    server times it)."""
    if gate:
        log.info("drift_step waiting for the test's gate")
        _wait_for_gate(gate, report=False)
        return
    log.info("drift_step sleeping %d ms", delay_ms)
    time.sleep(delay_ms / 1000.0)


@flow(name="E2E Drift Flow", description="One task as slow as you ask: builds a baseline, then drifts",
      tags={"suite": "e2e", "kind": "drift"})
def e2e_drift(delay_ms: int = 200, gate: str = ""):
    drift_step(delay_ms, gate)


# -- subflows ------------------------------------------------------------------------------------

@task(estimated_time=300)
def child_step(label):
    """One short step of the child flow."""
    log.info("child_step %s", label)
    _sleep(0.3)


@flow(name="E2E Subflow Child", description="Called by the subflow parent: a run of its own",
      tags={"suite": "e2e", "kind": "subflow-child"})
def e2e_subflow_child(label: str = "child"):
    child_step(label)


@task(estimated_time=200)
def parent_step():
    """The parent's own work after its subflow."""
    log.info("parent_step after the subflow")
    _sleep(0.2)


@flow(name="E2E Subflow Parent", description="Calls another flow: the run view shows the tree",
      tags={"suite": "e2e", "kind": "subflow"})
def e2e_subflow_parent(label: str = "from parent"):
    e2e_subflow_child(label)
    parent_step()



# -- warehouse (a global concurrency limit) -------------------------------------------------------

@task(estimated_time=500, concurrency_key="e2e-warehouse")
def warehouse_load(gate):
    log.info("loading while holding an e2e-warehouse slot")
    _wait_for_gate(gate, report=False)


@flow(name="E2E Warehouse Flow", description="One task that holds an 'e2e-warehouse' slot until its gate opens",
      tags={"suite": "e2e", "kind": "concurrency"})
def e2e_warehouse(gate: str = ""):
    warehouse_load(gate)



if __name__ == "__main__":
    serve(e2e_quick, e2e_hostile, e2e_long, e2e_drift, e2e_chatty, e2e_subflow_parent, e2e_warehouse, max_concurrent_runs=8)
