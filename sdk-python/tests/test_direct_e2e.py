"""Direct runs against the REAL server: a script calling its flow (``python etl.py``) with
PERFECT_URL set is recorded as a run with ``trigger: "local"`` — task runs, logs, print output
(still shown on the terminal), a subflow, artifacts, statistics after several runs — and its
result and exceptions are the script's as without a server. Without PERFECT_URL, or with a
server that does not answer, the flow runs as before (one warning in the second case).
On PostgreSQL too with PERFECT_TEST_PG_PORT (scripts/python-postgres.mjs).
"""
import os
import subprocess
import sys
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]

import test_server_e2e as base  # noqa: E402
from test_server_e2e import SDK, TOKEN  # noqa: E402

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, %(sdk)r)
    from perfect_client import flow, get_logger, progress, task
    from perfect_client.artifacts import create_markdown_artifact, create_progress_artifact

    @task(estimated_time=100)
    def extract(n: int):
        print("extracting %%d" %% n)
        progress(0.5)
        return list(range(n))

    @task(estimated_time=100)
    def load(rows):
        get_logger().info("loading %%d rows", len(rows))
        create_progress_artifact(40, key="load-progress")
        create_progress_artifact(100, key="load-progress")
        return len(rows)

    @flow(name="Direct Child")
    def child(rows):
        return load(rows)

    @flow(name="Direct ETL", tags={"team": "direct"})
    def etl(n: int = 3, fail: bool = False):
        rows = extract(n)
        create_markdown_artifact("# ETL of %%d rows" %% n, key="etl-report")
        count = child(rows)
        if fail:
            raise ValueError("direct failure")
        return count

    if __name__ == "__main__":
        runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
        for _ in range(runs):
            print("result", etl(3))
        try:
            etl(2, fail=True)
        except ValueError as err:
            print("caught", err)
""")


class DirectRunTests(base.ServerE2ETests):
    test_flow_runs_to_completion_with_task_runs_and_logs = None
    test_killed_worker_fails_its_run_with_heartbeat_lost = None

    def run_script(self, *args, url=None, unset_url=False, token=TOKEN):
        script = os.path.join(self.dir, "etl.py")
        with open(script, "w") as handle:
            handle.write(SCRIPT % {"sdk": SDK})
        env = dict(os.environ, PERFECT_CLIENT_ID="perfect_example", PERFECT_TOKEN=token, PYTHONUNBUFFERED="1")
        env["PERFECT_URL"] = url or self.url
        if unset_url:
            env.pop("PERFECT_URL")
        done = subprocess.run([sys.executable, script] + list(args), env=env, cwd=self.dir, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=120)
        return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")

    def runs(self, flow):
        return self.get("/api/runs?flow=%s&limit=200" % flow.replace(" ", "%20"))["runs"]

    def test_a_script_run_is_recorded_with_trigger_local(self):
        code, out, err = self.run_script("6")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines().count("result 3"), 6, out)
        self.assertIn("extracting 3", out)  # print() still reaches the terminal
        self.assertIn("caught direct failure", out)
        self.assertNotIn("perfect:", err)  # no warning with a server that answers
        runs = [r for r in self.runs("Direct ETL") if r["flowName"] == "Direct ETL"]
        self.assertEqual(len(runs), 7)
        self.assertEqual([r["trigger"] for r in runs], ["local"] * 7)
        self.assertEqual([r["state"] for r in runs], ["FAILED"] + ["COMPLETED"] * 6)  # newest first
        self.assertEqual(runs[0]["error"], "ValueError: direct failure")
        self.assertEqual(runs[0]["tags"], {"team": "direct"})
        self.assertEqual(runs[1]["parameters"], {"n": 3, "fail": False})
        run = self.get_run(runs[1]["id"])
        self.assertEqual([(t["name"], t["state"]) for t in run["taskRuns"]],
                         [("extract", "COMPLETED"), ("Direct Child", "COMPLETED")])
        self.assertEqual(run["progress"], 1)
        child = run["childRuns"][0]
        self.assertEqual((child["flowName"], child["state"]), ("Direct Child", "COMPLETED"))
        logs = [entry["message"] for entry in self.get("/api/runs/%s/logs" % run["id"])["logs"]]
        self.assertIn("extracting 3", logs)
        child_logs = [entry["message"] for entry in self.get("/api/runs/%s/logs" % child["id"])["logs"]]
        self.assertIn("loading 3 rows", child_logs)
        failed_logs = [entry["message"] for entry in self.get("/api/runs/%s/logs" % runs[0]["id"])["logs"]]
        self.assertTrue(any("ValueError: direct failure" in line for line in failed_logs), failed_logs)
        # artifacts: the run's markdown, the child's keyed progress updated in place
        artifacts = self.get("/api/runs/%s/artifacts" % run["id"])["artifacts"]
        self.assertEqual([(a["type"], a["key"], a["data"]) for a in artifacts],
                         [("markdown", "etl-report", {"markdown": "# ETL of 3 rows"})])
        progress = self.get("/api/runs/%s/artifacts" % child["id"])["artifacts"]
        self.assertEqual([(a["type"], a["key"], a["data"]) for a in progress], [("progress", "load-progress", {"progress": 100})])
        self.assertIsNotNone(progress[0]["taskRunId"])
        # statistics: six completed runs are samples of each task
        stats = {s["taskName"]: s for s in self.get("/api/stats/tasks?flow=Direct%20ETL")["stats"]
                 if s["flowName"] == "Direct ETL"}
        self.assertGreaterEqual(stats["extract"]["samples"], 6, stats)

    def test_without_a_server_the_flow_runs_locally(self):
        code, out, err = self.run_script(unset_url=True)
        self.assertEqual(code, 0, err)
        self.assertIn("result 3", out)
        self.assertIn("caught direct failure", out)
        self.assertEqual(err.strip(), "")
        self.assertEqual(self.runs("Direct ETL"), [])
        # a server that does not answer: one warning, the script goes on
        code, out, err = self.run_script("2", url="http://127.0.0.1:%d" % base.free_port())
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines().count("result 3"), 2, out)
        self.assertIn("caught direct failure", out)
        warnings = [line for line in err.splitlines() if line.startswith("perfect:")]
        self.assertEqual(len(warnings), 1, err)
        self.assertIn("running it locally", warnings[0])
        self.assertNotIn("Traceback", err)
        # a server that refuses the token: the same, and nothing recorded
        code, out, err = self.run_script(token="wrong-token")
        self.assertEqual(code, 0, err)
        self.assertIn("result 3", out)
        warnings = [line for line in err.splitlines() if line.startswith("perfect:")]
        self.assertEqual(len(warnings), 1, err)
        self.assertIn("token rejected", warnings[0])
        self.assertEqual(self.runs("Direct ETL"), [])


if __name__ == "__main__":
    unittest.main()
