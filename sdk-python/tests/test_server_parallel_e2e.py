"""Parallel tasks, async flows and timeouts (issue 16) against the REAL server (`next start` of
the production build) with real worker processes, in both isolations. Needs `npm run build`.

Concurrency is an outcome read from the server's task runs: eight one-second tasks ran at once
when every start precedes every end (max start < min end); a bound of two holds when no instant
is inside more than two intervals. Nothing asserts a duration.
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

PARALLEL_WORKER = textwrap.dedent("""
    import sys
    sys.path[:0] = [%(sdk)r, %(tests)r]
    from perfect_client import serve
    import parallel_flows

    if __name__ == "__main__":
        serve(parallel_flows.FLOWS, max_concurrent_runs=4, isolation=%(isolation)r, cancel_grace_seconds=30)
""")

#: How far apart the server may place two back-to-back calls of one thread. Event times are the
#: worker's whole milliseconds corrected by the server's clock-offset estimate of the worker (the
#: least send → receive delay seen so far, presence.clockOffset), which falls as the worker's
#: first batches teach it: events of a later batch may land tens of milliseconds earlier than
#: those of an earlier one. A third call really running at once would overlap by its whole
#: 500 ms, far beyond this.
SLACK_MS = 100


def _ms(iso):
    from datetime import datetime

    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000.0


def most_at_once(intervals):
    """The largest number of intervals containing one instant (touching ends do not count)."""
    points = []
    for start, end in intervals:
        points.append((start + SLACK_MS, 1))
        points.append((end, -1))
    points.sort(key=lambda p: (p[0], p[1]))  # an end before a start at the same instant
    now = most = 0
    for _, step in points:
        now += step
        most = max(most, now)
    return most


class ParallelE2E(object):
    """The tests; the subclasses choose the worker's isolation."""

    isolation = "process"

    def setUp(self):
        super().setUp()
        os.environ["PERFECT_TEST_DIR"] = self.dir

    def tearDown(self):
        for tag in ("c", "t", "f"):
            self.set_flag("release-" + tag)

    def start_worker(self):
        script = os.path.join(self.dir, "parallel_worker.py")
        with open(script, "w") as handle:
            handle.write(PARALLEL_WORKER % {"sdk": SDK, "tests": HERE, "isolation": self.isolation})
        env = dict(os.environ, PERFECT_URL=self.url, PERFECT_CLIENT_ID="perfect_example", PERFECT_TOKEN=TOKEN,
                   PYTHONUNBUFFERED="1", PERFECT_TEST_DIR=self.dir)
        log = open(os.path.join(self.dir, "worker-%d.log" % len(self.workers)), "wb")
        self.addCleanup(log.close)
        worker = subprocess.Popen([sys.executable, script], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.workers.append(worker)
        return worker

    def set_flag(self, name):
        with open(os.path.join(self.dir, name), "w") as handle:
            handle.write("1")

    def wait_end(self, run_id, timeout=120):
        return self.wait("run %s to end" % run_id, lambda: (lambda r: r if r["state"] in (
            "COMPLETED", "FAILED", "CANCELLED") else None)(self.get_run(run_id)), timeout)

    def logs(self, run_id):
        return self.get("/api/runs/%s/logs" % run_id)["logs"]

    def token_task_runs(self, run_id, count):
        """``token → taskRunId`` from the tasks' "print token-i" / "logger token-i" lines; both
        lines of a token must be on the same task run, each token on a task run of its own."""
        by_token = {}
        for entry in self.logs(run_id):
            if "token-" in entry["message"]:
                by_token.setdefault(entry["message"].split("token-")[1], set()).add(entry["taskRunId"])
        self.assertEqual(sorted(by_token, key=int), [str(i) for i in range(count)], by_token)
        for token, ids in by_token.items():
            self.assertEqual(len(ids), 1, (token, ids))  # its print and its log on one task run
            self.assertIsNotNone(next(iter(ids)))
        ids = [next(iter(v)) for v in by_token.values()]
        self.assertEqual(len(set(ids)), count)  # each call on its own task run
        return {token: next(iter(v)) for token, v in by_token.items()}

    # -- tests ---------------------------------------------------------------------------------

    def test_a_map_runs_its_calls_at_once_and_max_parallel_tasks_bounds_them(self):
        self.start_worker()
        wide = self.trigger("Par Map 8", {"n": 8, "seconds": 1.0})

        def all_running_at_half():
            tasks = [t for t in self.get_run(wide)["taskRuns"] if t["name"] == "nap"]
            return len(tasks) == 8 and all(t["state"] == "RUNNING" and t["progress"] == 0.5 for t in tasks)

        # Each call's progress(0.5) lands on its own task run, all eight at once.
        self.wait("the eight calls to run at once, each at the progress it reported", all_running_at_half, 60)
        run = self.wait_end(wide)
        self.assertEqual(run["state"], "COMPLETED", run)
        self.assertEqual(run["progress"], 1)
        naps = [t for t in run["taskRuns"] if t["name"] == "nap"]
        self.assertEqual([t["state"] for t in naps], ["COMPLETED"] * 8)
        starts = [_ms(t["startedAt"]) for t in naps]
        ends = [_ms(t["endedAt"]) for t in naps]
        self.assertLess(max(starts), min(ends))  # every call started before any ended
        tokens = self.token_task_runs(wide, 8)
        self.assertEqual(set(tokens.values()), {t["id"] for t in naps})
        self.assertIn("total 140", [e["message"] for e in self.logs(wide) if e["taskRunId"] is None])

        narrow = self.trigger("Par Map 2", {"n": 6, "seconds": 0.5})
        run = self.wait_end(narrow)
        self.assertEqual(run["state"], "COMPLETED", run)
        naps = [t for t in run["taskRuns"] if t["name"] == "nap"]
        self.assertEqual([t["state"] for t in naps], ["COMPLETED"] * 6)
        intervals = [(_ms(t["startedAt"]), _ms(t["endedAt"])) for t in naps]
        self.assertEqual(most_at_once(intervals), 2, [(t["startedAt"], t["endedAt"], t["durationMs"]) for t in naps])

    def test_the_progress_of_a_mapped_run_is_monotone_and_ends_at_one(self):
        """The first run of a flow cannot know how many calls a map will make (the server learns
        calls per task from completed runs): its progress ends at 1 but may dip as calls appear.
        From the second run on it is monotone."""
        self.start_worker()
        for attempt in range(3):
            run_id = self.trigger("Par Many", {"n": 60, "pause": 0.05})
            seen = []

            def ended():
                run = self.get_run(run_id)
                seen.append(run["progress"])
                return run if run["state"] in ("COMPLETED", "FAILED", "CANCELLED") else None

            run = self.wait("run %s to end" % run_id, ended, 120)
            self.assertEqual(run["state"], "COMPLETED", run)
            self.assertEqual(seen[-1], 1)
            ticks = [t for t in run["taskRuns"] if t["name"] == "tick"]
            self.assertEqual([t["state"] for t in ticks], ["COMPLETED"] * 60)
            if attempt > 0:
                self.assertEqual(seen, sorted(seen), seen)
                self.assertLess(min(seen), 1)

    def test_an_unhandled_failure_fails_the_run_a_handled_one_does_not(self):
        self.start_worker()
        bad = self.trigger("Par Unhandled", {})
        good = self.trigger("Par Handled", {})
        run = self.wait_end(bad)
        self.assertEqual((run["state"], run["error"]), ("FAILED", "ValueError: boom 1"))
        self.assertEqual({t["name"]: t["state"] for t in run["taskRuns"]}, {"boom": "FAILED", "quick": "COMPLETED"})
        run = self.wait_end(good)
        self.assertEqual(run["state"], "COMPLETED", run)
        states = [(t["name"], t["state"]) for t in run["taskRuns"]]
        self.assertEqual(sorted(states), [("boom", "FAILED"), ("quick", "CANCELLED"), ("quick", "COMPLETED")])
        self.assertIn("handled: boom 1", [e["message"] for e in self.logs(good)])

    def test_cancel_during_a_map_never_starts_the_queued_calls(self):
        self.start_worker()
        run_id = self.trigger("Par Cancel", {"tag": "c", "n": 10})
        self.wait("two calls to start", lambda: all(
            os.path.exists(os.path.join(self.dir, "started-c-%d" % i)) for i in range(2)), 60)
        status, _ = self.request("POST", "/api/runs/%s/cancel" % run_id, {})
        self.assertIn(status, (200, 202))
        run = self.wait_end(run_id)
        self.assertEqual(run["state"], "CANCELLED", run)
        holds = [t for t in run["taskRuns"] if t["name"] == "hold"]
        self.assertEqual(sum(1 for t in holds if t["state"] == "COMPLETED"), 2)  # the two running ones
        self.assertFalse([t for t in holds if t["state"] == "RUNNING"])
        self.assertFalse([i for i in range(2, 10) if os.path.exists(os.path.join(self.dir, "started-c-%d" % i))])

    def test_an_async_flow_gathers_async_tasks_at_once_with_their_logs(self):
        self.start_worker()
        run_id = self.trigger("Par Async", {"n": 4, "seconds": 1.0})
        run = self.wait_end(run_id)
        self.assertEqual(run["state"], "COMPLETED", run)
        naps = {t["id"]: t for t in run["taskRuns"] if t["name"] == "async_nap"}
        self.assertEqual(len(naps), 6)
        self.assertEqual({t["state"] for t in naps.values()}, {"COMPLETED"})
        tokens = self.token_task_runs(run_id, 6)
        self.assertEqual(set(tokens.values()), set(naps))
        gathered = [naps[tokens[str(i)]] for i in range(4)]
        self.assertLess(max(_ms(t["startedAt"]) for t in gathered), min(_ms(t["endedAt"]) for t in gathered))
        self.assertIn("async total 60", [e["message"] for e in self.logs(run_id)])

    def test_timeouts_of_tasks_and_flows(self):
        self.start_worker()
        tasks = self.trigger("Par Task Timeouts", {"tag": "t"})
        whole = self.trigger("Par Flow Timeout", {"tag": "f"})
        loop = self.trigger("Par Async Flow Timeout", {})
        run = self.wait_end(tasks)
        self.assertEqual((run["state"], run["error"]),
                         ("FAILED", "TimeoutError: task stuck_async exceeded its timeout of 0.5s"))
        self.assertEqual({t["name"]: (t["state"], t["error"]) for t in run["taskRuns"]}, {
            "stuck_sync": ("FAILED", "TimeoutError: task stuck_sync exceeded its timeout of 0.5s"),
            "stuck_async": ("FAILED", "TimeoutError: task stuck_async exceeded its timeout of 0.5s"),
        })
        run = self.wait_end(whole)
        self.assertEqual((run["state"], run["error"]),
                         ("FAILED", "TimeoutError: flow Par Flow Timeout exceeded its timeout of 1s"))
        self.assertEqual([(t["name"], t["state"]) for t in run["taskRuns"]],
                         [("quick", "COMPLETED"), ("hold_flag", "FAILED"), ("quick", "CANCELLED")])
        errors = [e["message"] for e in self.logs(whole) if e["level"] == "ERROR"]
        expected = "its run process ends now" if self.isolation == "process" else "is abandoned"
        self.assertTrue(any(expected in m for m in errors), errors)
        run = self.wait_end(loop)
        self.assertEqual((run["state"], run["error"]),
                         ("FAILED", "TimeoutError: flow Par Async Flow Timeout exceeded its timeout of 1s"))
        # The worker goes on serving.
        again = self.trigger("Par Unhandled", {})
        self.assertEqual(self.wait_end(again)["state"], "FAILED")


class ParallelProcessE2ETests(ParallelE2E, base.ServerE2ETests):
    isolation = "process"
    test_flow_runs_to_completion_with_task_runs_and_logs = None
    test_killed_worker_fails_its_run_with_heartbeat_lost = None


class ParallelThreadE2ETests(ParallelE2E, base.ServerE2ETests):
    isolation = "thread"
    test_flow_runs_to_completion_with_task_runs_and_logs = None
    test_killed_worker_fails_its_run_with_heartbeat_lost = None


if __name__ == "__main__":
    unittest.main()
