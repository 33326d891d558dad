"""``@task(timeout=seconds)``: an attempt past its timeout fails its task run with TimeoutError
and the flow goes on as after any exception. The stuck task waits on an event the test sets only
after the outcome is checked, so nothing depends on timing beyond the timeout itself."""
import os
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from fake_perfect import FakePerfect, WorkerThread  # noqa: E402
from perfect_client import flow, task  # noqa: E402

RELEASE = threading.Event()


@task(timeout=0.2)
def stuck():
    print("stuck starts")
    RELEASE.wait(30)


@task
def after():
    print("after runs")


@flow(name="Timeout Caught")
def caught():
    try:
        stuck()
    except TimeoutError as err:
        print("caught: %s" % err)
    after()


@flow(name="Timeout Uncaught")
def uncaught():
    stuck()
    after()


@task(timeout=60)
def fast(n):
    print("fast %d" % n)
    return n * 2


@flow(name="Timeout Not Reached")
def not_reached():
    print("result %d" % fast(21))


class TaskTimeoutTests(unittest.TestCase):
    def setUp(self):
        RELEASE.clear()
        self.fake = FakePerfect()
        self.worker = WorkerThread(self.fake, caught, uncaught, not_reached, retry_initial=0.01,
                                   retry_cap=0.05).start()
        self.fake.wait_for(lambda f: f.registrations)

    def tearDown(self):
        RELEASE.set()
        self.worker.stop()

    def finish(self, run_id):
        return self.fake.wait_for(lambda f: f.runs[run_id]["state"] in ("COMPLETED", "FAILED") and f.runs[run_id]["state"])

    def test_a_timed_out_task_fails_with_timeout_error_and_the_flow_goes_on(self):
        run_id = self.fake.trigger("Timeout Caught")
        self.assertEqual(self.finish(run_id), "COMPLETED")
        events = self.fake.events(run_id)
        failed = [e for e in events if e["type"] == "task_failed"]
        self.assertEqual([(e["call"], e["error"]) for e in failed],
                         [(0, "TimeoutError: task stuck exceeded its timeout of 0.2s")])
        logs = [e["message"] for e in events if e["type"] == "log" and e["level"] == "INFO"]
        self.assertEqual(logs, ["stuck starts", "caught: task stuck exceeded its timeout of 0.2s", "after runs"])
        self.assertEqual([e["call"] for e in events if e["type"] == "task_completed"], [1])

    def test_an_uncaught_timeout_fails_the_run(self):
        run_id = self.fake.trigger("Timeout Uncaught")
        self.assertEqual(self.finish(run_id), "FAILED")
        self.assertEqual(self.fake.runs[run_id]["error"], "TimeoutError: task stuck exceeded its timeout of 0.2s")
        self.assertEqual([e["type"] for e in self.fake.events(run_id) if e["type"].startswith("task_")],
                         ["task_started", "task_failed"])

    def test_a_task_within_its_timeout_returns_its_value_and_logs_on_its_call(self):
        run_id = self.fake.trigger("Timeout Not Reached")
        self.assertEqual(self.finish(run_id), "COMPLETED")
        logs = [(e.get("call"), e["message"]) for e in self.fake.events(run_id, "log")]
        self.assertEqual(logs, [(0, "fast 21"), (None, "result 42")])

    def test_locally_too(self):
        with self.assertRaises(TimeoutError):
            stuck()
        self.assertEqual(fast(2), 4)

    def test_bad_timeouts_are_refused(self):
        for bad in (0, -1, True, "5"):
            with self.assertRaises(ValueError):
                task(timeout=bad)(lambda: None)


if __name__ == "__main__":
    unittest.main()
