"""Prefect-style flow files (tests/prefect_flows/, written from Prefect's documented semantics)
run UNMODIFIED through the shim against the REAL server: ``python -m perfect_client.prefect
FILE.py`` (direct runs) and ``perfect worker --prefect FILE.py`` / ``flow.serve(cron=…)`` (served
runs, schedules). Asserts states, task runs, logs and artifacts; an unsupported feature ends with
one line naming it. On PostgreSQL too with PERFECT_TEST_PG_PORT (scripts/python-postgres.mjs).
"""
import os
import subprocess
import sys
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]

import test_server_e2e as base  # noqa: E402
from test_server_e2e import SDK, TOKEN  # noqa: E402

FLOWS = os.path.join(HERE, "prefect_flows")
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


class PrefectShimTests(base.ServerE2ETests):
    test_flow_runs_to_completion_with_task_runs_and_logs = None
    test_killed_worker_fails_its_run_with_heartbeat_lost = None

    def env(self):
        return dict(os.environ, PERFECT_URL=self.url, PERFECT_CLIENT_ID="perfect_example", PERFECT_TOKEN=TOKEN,
                    PYTHONPATH=SDK, PYTHONUNBUFFERED="1")

    def shim(self, name, *args):
        done = subprocess.run([sys.executable, "-m", "perfect_client.prefect", os.path.join(FLOWS, name)] + list(args),
                              env=self.env(), cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")

    def only_run(self, flow_name):
        runs = [r for r in self.get("/api/runs?limit=200&flow=" + urllib.parse.quote(flow_name))["runs"]
                if r["flowName"] == flow_name]
        self.assertEqual(len(runs), 1, runs)
        return self.get_run(runs[0]["id"])

    def logs(self, run_id):
        return [entry["message"] for entry in self.get("/api/runs/%s/logs" % run_id)["logs"]]

    def artifacts(self, run_id):
        return self.get("/api/runs/%s/artifacts" % run_id)["artifacts"]

    def test_etl_with_retries_log_prints_artifacts_and_variables(self):
        code, out, err = self.shim("etl_retries.py")
        self.assertEqual(code, 0, (out, err))
        run = self.only_run("prefect-etl")
        self.assertEqual((run["state"], run["trigger"], run["parameters"]), ("COMPLETED", "local", {"n": 4}))
        tasks = run["taskRuns"]
        self.assertEqual([(t["name"], t["state"]) for t in tasks],
                         [("extract", "COMPLETED"), ("transform-rows", "COMPLETED"), ("load", "COMPLETED")])
        self.assertEqual(tasks[0]["attempt"], 3)  # two retries
        logs = self.logs(run["id"])
        self.assertIn("extracted 4 rows", logs)  # log_prints
        self.assertIn("transforming 4 rows", logs)  # get_run_logger
        self.assertIn("loaded 4 rows (variable says 4)", logs)
        self.assertEqual(sum("flaky source" in line and "attempt" in line for line in logs if "failed" in line), 2)
        kinds = {a["key"]: a for a in self.artifacts(run["id"])}
        self.assertEqual(kinds["loaded-rows"]["type"], "table")
        self.assertEqual(kinds["loaded-rows"]["data"]["columns"], ["id", "value", "label"])
        self.assertEqual(kinds["loaded-rows"]["data"]["rows"][3], [3, 9, "row-3"])
        self.assertEqual(kinds["loaded-rows"]["taskRunId"], tasks[2]["id"])
        self.assertIn("<script>", kinds["etl-report"]["data"]["markdown"])  # stored as text; rendered as text
        self.assertEqual(self.get("/api/variables/etl-last-n")["variable"]["value"], 4)

    def test_map_submit_as_completed_states_and_hooks(self):
        code, out, err = self.shim("map_unmapped.py")
        self.assertEqual(code, 0, (out, err))
        run = self.only_run("map-flow")  # Prefect's default name: the function's, dashes for underscores
        self.assertEqual(run["state"], "COMPLETED")
        names = [t["name"] for t in run["taskRuns"]]
        self.assertEqual(sorted(names), ["scale"] * 4 + ["total"])
        self.assertIn("values [10, 20, 30, 40] total 100", self.logs(run["id"]))
        progress = [a for a in self.artifacts(run["id"]) if a["type"] == "progress"]
        self.assertEqual([(a["key"], a["data"]) for a in progress], [("map-progress", {"progress": 100})])

        code, out, err = self.shim("submit_as_completed.py")
        self.assertEqual(code, 0, (out, err))
        run = self.only_run("prefect-submit")
        self.assertEqual(run["state"], "COMPLETED")
        logs = self.logs(run["id"])
        self.assertIn("completed in order [0.1, 0.2, 0.3]", logs)
        self.assertIn("wait: 1 done, 0 not done", logs)
        self.assertIn("judge(-1) state FAILED: negative value -1", logs)
        self.assertIn("judge(4) result 8", logs)
        self.assertEqual(sum(line == "hook: sleepy ended COMPLETED" for line in logs), 4)
        self.assertIn("hook: prefect-submit ended COMPLETED", logs)
        judge = [t for t in run["taskRuns"] if t["name"] == "judge"]
        self.assertEqual([t["state"] for t in judge], ["FAILED", "COMPLETED"])

        code, out, err = self.shim("async_gather.py")
        self.assertEqual((code, out.strip()), (0, "[0, 2, 4]"), err)
        run = self.only_run("prefect-async")
        self.assertEqual((run["state"], [t["name"] for t in run["taskRuns"]]), ("COMPLETED", ["fetch"] * 3))
        self.assertIn("gathered [0, 2, 4]", self.logs(run["id"]))

    def test_subflow_tags_runtime_link_and_a_returned_failed_state(self):
        code, out, err = self.shim("subflow_tags.py")
        self.assertEqual(code, 0, (out, err))
        run = self.only_run("prefect-parent")
        self.assertEqual((run["state"], run["tags"]), ("COMPLETED", {"nightly": "true"}))
        child = self.get_run(run["childRuns"][0]["id"])
        self.assertEqual((child["flowName"], child["state"], child["parentRunId"]), ("child", "COMPLETED", run["id"]))
        child_logs = self.logs(child["id"])
        self.assertIn("child runs as child with {'day': '2026-12-01'}", child_logs)
        self.assertTrue(any("attempt 1 failed" in line for line in child_logs), child_logs)  # flow retries
        self.assertIn("parent run id %s" % run["id"], self.logs(run["id"]))
        link = self.artifacts(run["id"])[0]
        self.assertEqual((link["type"], link["data"]), ("link", {"url": "https://example.com/report/2026-12-01",
                                                                 "text": "the report"}))
        code, out, err = self.shim("subflow_tags.py", "--fail")
        self.assertEqual(code, 1, (out, err))
        self.assertIn("asked to fail", err)
        self.assertNotIn("perfect_client", err)  # no frame from inside the shim
        runs = [r for r in self.get("/api/runs?flow=prefect-parent")["runs"] if r["flowName"] == "prefect-parent"]
        self.assertEqual((runs[0]["state"], runs[0]["error"]), ("FAILED", "FailedRun: asked to fail"))

    def test_serve_with_cron_and_perfect_worker_prefect(self):
        log = open(os.path.join(self.dir, "worker-0.log"), "wb")
        self.addCleanup(log.close)
        worker = subprocess.Popen([sys.executable, "-m", "perfect_client.prefect", os.path.join(FLOWS, "serve_cron.py")],
                                  env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(worker)
        flow_id = self.flow_id("prefect-served")
        schedules = self.get("/api/flows/%s/schedules" % flow_id)["schedules"]
        self.assertEqual([(s["cron"], s["parameters"], s["source"]) for s in schedules],
                         [("0 3 * * *", {"name": "scheduler"}, "code")])
        self.wait("the worker online", lambda: self.get("/api/flows/%s" % flow_id)["online"], 30)
        run_id = self.trigger("prefect-served", {"name": "perfect"})
        run = self.wait("the run to end", lambda: (lambda r: r if r["state"] in TERMINAL else None)(self.get_run(run_id)), 60)
        self.assertEqual(run["state"], "COMPLETED")
        self.assertIn("hello perfect", self.logs(run_id))
        base._kill_group(worker)

        # perfect worker --prefect serves every flow of a file
        log = open(os.path.join(self.dir, "worker-1.log"), "wb")
        self.addCleanup(log.close)
        worker = subprocess.Popen([sys.executable, "-m", "perfect_client", "worker", "--prefect",
                                   os.path.join(FLOWS, "map_unmapped.py")], env=self.env(), stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(worker)
        self.flow_id("map-flow")
        self.wait("the worker online", lambda: self.get("/api/flows/%s" % self.flow_id("map-flow"))["online"], 30)
        run_id = self.trigger("map-flow", {"factor": 2})
        run = self.wait("the run to end", lambda: (lambda r: r if r["state"] in TERMINAL else None)(self.get_run(run_id)), 60)
        self.assertEqual((run["state"], run["trigger"]), ("COMPLETED", "api"))
        self.assertIn("values [2, 4, 6, 8] total 20", self.logs(run_id))

    def test_an_unsupported_feature_is_one_line(self):
        code, out, err = self.shim("unsupported_feature.py")
        self.assertEqual(code, 3, (out, err))
        self.assertEqual(err.strip().splitlines(), ["perfect: the module prefect.blocks is not supported by Perfect's Prefect shim"])
        self.assertEqual(self.get("/api/runs")["runs"], [])


if __name__ == "__main__":
    unittest.main()
