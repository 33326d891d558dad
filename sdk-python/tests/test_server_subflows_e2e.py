"""Subflows against the REAL server (`next start` of the production build) with real worker
processes, in both isolations: a flow called inside a served run is a child run of its own
(``parentRunId``, its own task runs and logs, listed in the parent's ``childRuns``), its failure
propagates to the parent like a task's (and is caught like one), cancelling the parent cancels
the child, and subflows nest. Needs `npm run build` first, like test_server_e2e; on PostgreSQL
too with PERFECT_TEST_PG_PORT (scripts/python-postgres.mjs).

Outcomes and orders are asserted, never timing: every wait polls the dashboard API for a state.
"""
import os
import subprocess
import sys
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]

import test_server_e2e as base  # noqa: E402  (a module import: its tests are not collected twice)
from test_server_e2e import SDK, TOKEN  # noqa: E402

WORKER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, %(sdk)r)
    from perfect_client import flow, get_logger, serve, task

    @task(estimated_time=100)
    def extract(n):
        print("extracting %%d" %% n)
        return list(range(n))

    @task(estimated_time=100)
    def load(rows):
        get_logger().info("loaded %%d rows", len(rows))
        return len(rows)

    @flow(name="Sub ETL")
    def etl(n: int = 3):
        return load(extract(n))

    @task(estimated_time=50)
    def report(count):
        print("report of %%d rows" %% count)

    @flow(name="Sub Report")
    def report_flow(n: int = 3):
        report(etl(n))

    @flow(name="Sub Grand")
    def grand():
        report_flow(2)
        print("grand done")

    @task
    def explode():
        raise ValueError("child boom")

    @flow(name="Sub Failing Child")
    def failing_child():
        explode()

    @flow(name="Sub Parent Fails")
    def parent_fails():
        failing_child()
        report(-1)

    @flow(name="Sub Parent Catches")
    def parent_catches():
        try:
            failing_child()
        except ValueError as err:
            print("caught: %%s" %% err)
        report(0)

    @task(estimated_time=100)
    def tick(i):
        if i == 0:
            print("ticking")
        time.sleep(0.1)

    @flow(name="Sub Long Child")
    def long_child():
        for i in range(600):
            tick(i)

    @flow(name="Sub Long Parent")
    def long_parent():
        long_child()
        report(-2)

    if __name__ == "__main__":
        serve(report_flow, grand, parent_fails, parent_catches, long_parent, isolation=%(isolation)r)
""")

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


class SubflowTests(base.ServerE2ETests):
    """Subflows with ``isolation="process"`` (the default of ``serve``)."""

    isolation = "process"
    # The base class's own tests run from test_server_e2e, not again here.
    test_flow_runs_to_completion_with_task_runs_and_logs = None
    test_killed_worker_fails_its_run_with_heartbeat_lost = None

    def start_worker(self):
        index = len(self.workers)
        script = os.path.join(self.dir, "subflow_worker_%d.py" % index)
        with open(script, "w") as handle:
            handle.write(WORKER % {"sdk": SDK, "isolation": self.isolation})
        env = dict(os.environ, PERFECT_URL=self.url, PERFECT_CLIENT_ID="perfect_example", PERFECT_TOKEN=TOKEN,
                   PYTHONUNBUFFERED="1")
        log = open(os.path.join(self.dir, "worker-%d.log" % index), "wb")
        self.addCleanup(log.close)
        worker = subprocess.Popen([sys.executable, script], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.workers.append(worker)
        return worker

    def worker_output(self, index=0):
        with open(os.path.join(self.dir, "worker-%d.log" % index), "rb") as handle:
            return handle.read()[-5000:].decode("utf-8", "replace")

    def finished(self, run_id, timeout=60):
        return self.wait("run %s to finish" % run_id, lambda: (lambda r: r if r["state"] in TERMINAL else None)(
            self.get_run(run_id)), timeout)

    def logs(self, run_id):
        return self.get("/api/runs/%s/logs" % run_id)["logs"]

    def only_child(self, run):
        self.assertEqual(len(run["childRuns"]), 1, run["childRuns"])
        return run["childRuns"][0]

    # -- tests -------------------------------------------------------------------------------------

    def test_subflow_is_a_child_run_with_its_own_tasks_and_logs(self):
        self.start_worker()
        definition = self.get("/api/flows/%s" % self.flow_id("Sub Report"))
        # The subflow is a task of the parent, weighed by the child's declared tasks (100 + 100).
        self.assertEqual([(t["name"], t["estimatedTime"]) for t in definition["tasks"]],
                         [("Sub ETL", 200), ("report", 50)])
        run_id = self.trigger("Sub Report", {"n": 4})
        run = self.finished(run_id)
        self.assertEqual(run["state"], "COMPLETED", (run, self.worker_output()))
        self.assertEqual(run["progress"], 1)
        self.assertIsNone(run["parentRunId"])
        self.assertEqual([(t["name"], t["state"]) for t in run["taskRuns"]], [("Sub ETL", "COMPLETED"), ("report", "COMPLETED")])
        child_ref = self.only_child(run)
        self.assertEqual((child_ref["flowName"], child_ref["state"], child_ref["progress"]), ("Sub ETL", "COMPLETED", 1))
        child = self.get_run(child_ref["id"])
        self.assertEqual(child["parentRunId"], run_id)
        self.assertEqual(child["trigger"], "subflow")
        self.assertEqual(child["parameters"], {"n": 4})
        self.assertEqual(child["state"], "COMPLETED")
        self.assertEqual([(t["name"], t["state"]) for t in child["taskRuns"]], [("extract", "COMPLETED"), ("load", "COMPLETED")])
        # Logs land on the run (and task) that wrote them.
        child_logs = {entry["message"]: entry for entry in self.logs(child["id"])}
        child_tasks = {t["name"]: t["id"] for t in child["taskRuns"]}
        self.assertEqual(str(child_logs["extracting 4"]["taskRunId"]), str(child_tasks["extract"]))
        self.assertEqual(str(child_logs["loaded 4 rows"]["taskRunId"]), str(child_tasks["load"]))
        parent_messages = [entry["message"] for entry in self.logs(run_id)]
        self.assertIn("report of 4 rows", parent_messages)
        self.assertNotIn("extracting 4", parent_messages)
        # The history lists the child under its parent.
        listed = self.get("/api/runs?parentRunId=%s" % run_id)["runs"]
        self.assertEqual([(r["id"], r["parentRunId"]) for r in listed], [(child["id"], run_id)])
        if self.isolation == "process":  # the runs really ran in a process of their own
            self.assertNotIn("its runs execute in the worker's threads", self.worker_output())

    def test_child_failure_propagates_and_can_be_caught(self):
        self.start_worker()
        failing = self.trigger("Sub Parent Fails", {})
        run = self.finished(failing)
        self.assertEqual(run["state"], "FAILED", (run, self.worker_output()))
        self.assertIn("child boom", run["error"])
        child = self.get_run(self.only_child(run)["id"])
        self.assertEqual((child["state"], child["parentRunId"]), ("FAILED", failing))
        self.assertIn("child boom", child["error"])
        self.assertEqual([(t["name"], t["state"]) for t in child["taskRuns"]], [("explode", "FAILED")])
        # The parent's task call for the subflow failed; the task after it never ran.
        self.assertEqual([(t["name"], t["state"]) for t in run["taskRuns"]],
                         [("Sub Failing Child", "FAILED"), ("report", "CANCELLED")])

        caught = self.trigger("Sub Parent Catches", {})
        run = self.finished(caught)
        self.assertEqual(run["state"], "COMPLETED", (run, self.worker_output()))
        self.assertEqual(self.only_child(run)["state"], "FAILED")
        self.assertEqual([(t["name"], t["state"]) for t in run["taskRuns"]],
                         [("Sub Failing Child", "FAILED"), ("report", "COMPLETED")])
        self.assertIn("caught: child boom", [entry["message"] for entry in self.logs(caught)])

    def child_ticking(self, parent):
        def probe():
            run = self.get_run(parent)
            if not run["childRuns"]:
                return None
            child = self.get_run(run["childRuns"][0]["id"])
            ticks = [t for t in child["taskRuns"] if t["name"] == "tick" and t["state"] == "COMPLETED"]
            return child if child["state"] == "RUNNING" and ticks else None
        return self.wait("the child to be ticking", probe, 60)

    def test_cancelling_the_child_alone_stops_the_parent_at_its_call(self):
        self.start_worker()
        parent = self.trigger("Sub Long Parent", {})
        child = self.child_ticking(parent)
        status, _ = self.request("POST", "/api/runs/%s/cancel" % child["id"], {})
        self.assertEqual(status, 200)
        child = self.finished(child["id"])
        self.assertEqual(child["state"], "CANCELLED", (child, self.worker_output()))
        run = self.finished(parent)
        # RunCancelled is raised in the parent at the subflow's call (documented).
        self.assertEqual(run["state"], "CANCELLED", (run, self.worker_output()))
        self.assertEqual([(t["name"], t["state"]) for t in run["taskRuns"]], [("Sub Long Child", "CANCELLED"), ("report", "CANCELLED")])

    def test_cancelling_the_parent_cancels_the_running_child(self):
        self.start_worker()
        parent = self.trigger("Sub Long Parent", {})

        def child_ticking():
            run = self.get_run(parent)
            if not run["childRuns"]:
                return None
            child = self.get_run(run["childRuns"][0]["id"])
            ticks = [t for t in child["taskRuns"] if t["name"] == "tick" and t["state"] == "COMPLETED"]
            return child if child["state"] == "RUNNING" and ticks else None

        child = self.wait("the child to be ticking", child_ticking, 60)
        status, _ = self.request("POST", "/api/runs/%s/cancel" % parent, {})
        self.assertEqual(status, 200)
        run = self.finished(parent)
        self.assertEqual(run["state"], "CANCELLED", (run, self.worker_output()))
        child = self.finished(child["id"])
        self.assertEqual(child["state"], "CANCELLED", (child, self.worker_output()))
        self.assertNotIn("report", [t["name"] for t in run["taskRuns"] if t["state"] == "COMPLETED"])

    def test_subflows_nest(self):
        self.start_worker()
        top = self.trigger("Sub Grand", {})
        run = self.finished(top)
        self.assertEqual(run["state"], "COMPLETED", (run, self.worker_output()))
        self.assertEqual(run["progress"], 1)
        middle = self.get_run(self.only_child(run)["id"])
        self.assertEqual((middle["flowName"], middle["parentRunId"], middle["state"]), ("Sub Report", top, "COMPLETED"))
        self.assertEqual(middle["parameters"], {"n": 2})
        leaf = self.get_run(self.only_child(middle)["id"])
        self.assertEqual((leaf["flowName"], leaf["parentRunId"], leaf["state"]), ("Sub ETL", middle["id"], "COMPLETED"))
        self.assertEqual([(t["name"], t["state"]) for t in leaf["taskRuns"]], [("extract", "COMPLETED"), ("load", "COMPLETED")])
        self.assertIn("report of 2 rows", [entry["message"] for entry in self.logs(middle["id"])])
        self.assertIn("grand done", [entry["message"] for entry in self.logs(top)])


class ThreadSubflowTests(SubflowTests):
    """The same with ``isolation="thread"``."""

    isolation = "thread"


if __name__ == "__main__":
    unittest.main()
