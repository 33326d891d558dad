"""The process-per-run worker runtime (issue 12) against the REAL server (`next start` of the
production build), with real worker processes: a GIL-bound C call, crashes, hard cancel,
thread pools and stderr. Needs `npm run build` first, like test_server_e2e.

Order and outcome are asserted, never timing: "a crash fails its run at once" is shown by the
crashed runs being FAILED while a sibling run is still executing (it waits for a flag file the
test writes afterwards); figures are in bench_runtime.py.
"""
import os
import sys
import textwrap
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]

import test_server_e2e as base  # noqa: E402  (a module import: its tests are not collected twice)
from test_server_e2e import HEARTBEAT_TIMEOUT_MS, SDK, TOKEN  # noqa: E402

RUNTIME_WORKER = textwrap.dedent("""
    import sys
    sys.path[:0] = [%(sdk)r, %(tests)r]
    from perfect_client import flow, serve, task
    import process_flows as p

    @task(estimated_time=5000)
    def hold_the_gil(n):
        print("summing %%d numbers in one C call" %% n)
        return sum(range(n))  # one C call: the GIL is never released meanwhile

    @flow(name="E2E GIL")
    def gil(n: int = 1000):
        hold_the_gil(n)

    if __name__ == "__main__":
        serve(gil, p.hello, p.pool_flow, p.outputs, p.crash, p.sleep_flow, p.stuck_flow,
              max_concurrent_runs=6, cancel_grace_seconds=2, max_run_memory_mb=256)
""") % {"sdk": SDK, "tests": HERE}


def _gil_call_size(seconds):
    """How many numbers sum(range(n)) must add to take about ``seconds`` on this machine."""
    n = 2 * 10 ** 6
    begin = time.perf_counter()
    sum(range(n))
    elapsed = max(time.perf_counter() - begin, 1e-4)
    return min(int(n * seconds / elapsed), 3 * 10 ** 9)


class RuntimeE2ETests(base.ServerE2ETests):
    # The base class's own tests run from test_server_e2e, not twice (and not with this worker).
    test_flow_runs_to_completion_with_task_runs_and_logs = None
    test_killed_worker_fails_its_run_with_heartbeat_lost = None

    def setUp(self):
        super().setUp()
        os.environ["PERFECT_TEST_DIR"] = self.dir
        self.flag_dir = self.dir

    def start_worker(self):
        script = os.path.join(self.dir, "runtime_worker.py")
        with open(script, "w") as handle:
            handle.write(RUNTIME_WORKER)
        import subprocess
        env = dict(os.environ, PERFECT_URL=self.url, PERFECT_CLIENT_ID="perfect_example", PERFECT_TOKEN=TOKEN,
                   PYTHONUNBUFFERED="1", PERFECT_TEST_DIR=self.dir)
        log = open(os.path.join(self.dir, "worker-%d.log" % len(self.workers)), "wb")
        self.addCleanup(log.close)
        worker = subprocess.Popen([sys.executable, script], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.workers.append(worker)
        return worker

    def worker_output(self):
        with open(os.path.join(self.dir, "worker-0.log"), "rb") as handle:
            return handle.read()[-5000:].decode("utf-8", "replace")

    def set_flag(self, name):
        with open(os.path.join(self.dir, name), "w") as handle:
            handle.write("1")

    def wait_flag(self, name):
        self.wait("flag %s" % name, lambda: os.path.exists(os.path.join(self.dir, name)), 90)

    def wait_end(self, run_id, timeout=120):
        return self.wait("run %s to end" % run_id, lambda: (lambda r: r if r["state"] in (
            "COMPLETED", "FAILED", "CANCELLED") else None)(self.get_run(run_id)), timeout)

    def logs(self, run_id):
        return self.get("/api/runs/%s/logs" % run_id)["logs"]

    # -- tests ---------------------------------------------------------------------------------

    def test_a_gil_bound_c_call_fails_no_run(self):
        n = _gil_call_size(2.5 * HEARTBEAT_TIMEOUT_MS / 1000.0)  # well past the heartbeat timeout
        self.start_worker()
        sleepers = [self.trigger("P Sleep", {"flag": "gil-%d" % i}) for i in range(2)]
        for i in range(2):
            self.wait_flag("asleep-gil-%d" % i)
        heavy = self.trigger("E2E GIL", {"n": n})
        run = self.wait_end(heavy, 600)
        for i in range(2):
            self.assertEqual(self.get_run(sleepers[i])["state"], "RUNNING")  # nobody lost its heartbeat
            self.set_flag("gil-%d" % i)
        self.assertEqual(run["state"], "COMPLETED", run)
        self.assertEqual(run["taskRuns"][0]["state"], "COMPLETED")
        self.assertGreaterEqual(run["taskRuns"][0]["durationMs"], HEARTBEAT_TIMEOUT_MS)
        for run_id in sleepers:
            self.assertEqual(self.wait_end(run_id)["state"], "COMPLETED")
        self.assertTrue(any("summing" in entry["message"] for entry in self.logs(heavy)))

    def test_crashes_fail_only_their_own_run_with_the_cause_and_logs_kept(self):
        self.start_worker()
        sibling = self.trigger("P Sleep", {"flag": "crash-sibling"})
        self.wait_flag("asleep-crash-sibling")
        crashes = {how: self.trigger("P Crash", {"how": how}) for how in ("exit", "segfault", "memory")}
        ended = {how: self.wait_end(run_id) for how, run_id in crashes.items()}
        self.assertEqual(self.get_run(sibling)["state"], "RUNNING")  # untouched, still executing
        self.assertEqual({how: r["state"] for how, r in ended.items()},
                         {"exit": "FAILED", "segfault": "FAILED", "memory": "FAILED"})
        self.assertEqual(ended["exit"]["error"], "run process exited with code 3 before the run finished")
        self.assertEqual(ended["segfault"]["error"], "run process killed by SIGSEGV")
        self.assertEqual(ended["memory"]["error"],
                         "MemoryError: the run exceeded its memory limit (max_run_memory_mb=256)")
        for how, run_id in crashes.items():
            messages = [entry["message"] for entry in self.logs(run_id)]
            self.assertIn("before the crash", messages)
            self.assertIn("about to %s" % how, messages)  # written just before the crash
            tasks = {t["name"]: t["state"] for t in ended[how]["taskRuns"]}
            self.assertEqual(tasks["crash_with"], "FAILED")
        self.set_flag("crash-sibling")
        self.assertEqual(self.wait_end(sibling)["state"], "COMPLETED")
        # The worker carries on serving.
        again = self.trigger("P Hello", {"name": "after"})
        self.assertEqual(self.wait_end(again)["state"], "COMPLETED")

    def test_hard_cancel_of_a_stuck_task(self):
        self.start_worker()
        run_id = self.trigger("P Stuck", {})
        self.wait_flag("stuck")
        status, _ = self.request("POST", "/api/runs/%s/cancel" % run_id, {})
        self.assertEqual(status, 200)
        run = self.wait_end(run_id, 60)
        self.assertEqual(run["state"], "CANCELLED", run)
        self.assertEqual([(t["name"], t["state"]) for t in run["taskRuns"]][0], ("stuck", "CANCELLED"))
        messages = [entry["message"] for entry in self.logs(run_id)]
        self.assertIn("stuck in one long call", messages)
        self.assertTrue(any("was still running 2 s after the cancel request; its process was terminated" in m
                            for m in messages), messages)

    def test_thread_pool_tasks_and_stderr_are_the_runs(self):
        self.start_worker()
        pool = self.trigger("P Pool", {"n": 4})
        outputs = self.trigger("P Outputs", {})
        run = self.wait_end(pool)
        self.assertEqual(run["state"], "COMPLETED", run)
        pooled = [t for t in run["taskRuns"] if t["name"] == "pooled"]
        self.assertEqual(len(pooled), 4)
        self.assertTrue(all(t["state"] == "COMPLETED" for t in pooled), pooled)
        logs = self.logs(pool)
        on_tasks = [entry for entry in logs if entry.get("taskRunId") and entry["message"].startswith("pooled")]
        self.assertEqual(len(on_tasks), 4)
        self.assertEqual(len({entry["taskRunId"] for entry in on_tasks}), 4)
        run = self.wait_end(outputs)
        self.assertEqual(run["state"], "COMPLETED", run)
        levels = {entry["message"]: entry["level"] for entry in self.logs(outputs)}
        self.assertEqual(levels.get("to stderr"), "WARNING", levels)
        self.assertEqual(levels.get("some.library: library warning"), "WARNING", levels)


if __name__ == "__main__":
    unittest.main()
