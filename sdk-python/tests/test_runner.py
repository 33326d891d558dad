"""A real Worker serving flows against the in-process fake server: events, retries, logs,
batching, outages, shutdown, cancellation and runs finished by the server."""
import io
import os
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from fake_perfect import FakePerfect, WorkerThread  # noqa: E402
from perfect_client import FatalWorkerError, TokenRejected, Worker, flow, get_logger, progress, task  # noqa: E402
from perfect_client import events  # noqa: E402
from perfect_client.transport import Response  # noqa: E402

FAST = {"retry_initial": 0.01, "retry_cap": 0.05}


@task(estimated_time=100)
def add_one(n):
    get_logger().info("adding to %s", n)
    print("printed inside add_one")
    for i in range(4):
        time.sleep(0.01)
        progress((i + 1) / 4)
    return n + 1


@task(estimated_time=50)
def double(n):
    return n * 2


@flow(name="Arithmetic", tags={"team": "math"})
def arithmetic(n: int = 1):
    print("flow body print")
    double(add_one(n))


def wait_state(fake, run_id, states=("COMPLETED", "FAILED", "CANCELLED"), timeout=10.0):
    return fake.wait_for(lambda f: f.runs[run_id]["state"] in states and f.runs[run_id]["state"], timeout)


def assert_contiguous(test, fake, run_id):
    seqs = [e["seq"] for e in fake.events(run_id)]
    test.assertEqual(seqs, list(range(1, len(seqs) + 1)))


class RunEventsTests(unittest.TestCase):
    def setUp(self):
        self.fake = FakePerfect()
        self.workers = []

    def tearDown(self):
        for worker in self.workers:
            worker.stop()

    def serve(self, *flows, **kwargs):
        for key, value in FAST.items():
            kwargs.setdefault(key, value)
        worker = WorkerThread(self.fake, *flows, **kwargs).start()
        self.workers.append(worker)
        self.fake.wait_for(lambda f: f.registrations)
        return worker

    def test_run_reports_tasks_logs_and_completion(self):
        worker = self.serve(arithmetic)
        definition = self.fake.registrations[0]["flows"][0]
        self.assertEqual([t["name"] for t in definition["tasks"]], ["add_one", "double"])
        run_id = self.fake.trigger("Arithmetic", {"n": "3"})  # coerced to int by the annotation
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        events = self.fake.events(run_id)
        assert_contiguous(self, self.fake, run_id)
        self.assertEqual(events[0]["type"], "log")
        self.assertEqual(events[0]["message"], "flow body print")
        self.assertNotIn("call", events[0])
        started = [e for e in events if e["type"] == "task_started"]
        self.assertEqual([(e["call"], e["task"], e["attempt"]) for e in started], [(0, "add_one", 1), (1, "double", 1)])
        logs = [(e["call"], e["level"], e["message"]) for e in events if e["type"] == "log" and "call" in e]
        self.assertEqual(logs, [(0, "INFO", "adding to 3"), (0, "INFO", "printed inside add_one")])
        progress_values = [e["progress"] for e in events if e["type"] == "task_progress"]
        self.assertEqual(progress_values[-1], 1.0)
        completed = [e for e in events if e["type"] == "task_completed"]
        self.assertEqual([e["call"] for e in completed], [0, 1])
        self.assertGreaterEqual(completed[0]["durationMs"], 35)
        self.assertIsInstance(completed[0]["durationMs"], int)
        self.assertEqual(events[-1]["type"], "run_completed")
        for path, body in self.fake.requests:
            if path.endswith("/events"):
                self.assertEqual(body["workerId"], worker.worker.worker_id)
                self.assertRegex(body["sentAt"], r"Z$")

    def test_retries_then_success(self):
        attempts = []

        @task(retries=2, retry_delay=0.01)
        def flaky():
            attempts.append(1)
            if len(attempts) < 3:
                raise TimeoutError("db")
            return "ok"

        @flow(name="Flaky")
        def flaky_flow():
            flaky()

        self.serve(flaky_flow)
        run_id = self.fake.trigger("Flaky")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        retrying = self.fake.events(run_id, "task_retrying")
        self.assertEqual([(e["call"], e["attempt"], e["error"]) for e in retrying],
                         [(0, 2, "TimeoutError: db"), (0, 3, "TimeoutError: db")])
        self.assertEqual(len(self.fake.events(run_id, "task_completed")), 1)

    def test_task_failure_fails_the_run_with_traceback(self):
        @task(retries=1, retry_delay=0)
        def broken(row):
            raise ValueError("bad row %s" % row)

        @flow(name="Broken")
        def broken_flow():
            broken(7)
            double(1)  # never reached

        self.serve(broken_flow)
        run_id = self.fake.trigger("Broken")
        self.assertEqual(wait_state(self.fake, run_id), "FAILED")
        failed = self.fake.events(run_id, "task_failed")
        self.assertEqual([(e["call"], e["error"]) for e in failed], [(0, "ValueError: bad row 7")])
        self.assertIsInstance(failed[0]["durationMs"], int)
        errors = [e for e in self.fake.events(run_id, "log") if e["level"] == "ERROR"]
        self.assertEqual(len(errors), 1)
        self.assertIn("Traceback", errors[0]["message"])
        self.assertIn('raise ValueError("bad row %s" % row)', errors[0]["message"])
        self.assertEqual(errors[0]["call"], 0)
        self.assertEqual(self.fake.events(run_id)[-1], dict(self.fake.events(run_id)[-1], type="run_failed",
                                                           error="ValueError: bad row 7"))
        self.assertEqual(self.fake.events(run_id, "task_started")[-1]["task"], "broken")

    def test_flow_that_catches_a_task_failure_completes(self):
        @task
        def fails():
            raise RuntimeError("nope")

        @flow(name="Forgiving")
        def forgiving():
            try:
                fails()
            except RuntimeError:
                get_logger().warning("carrying on")
            double(2)

        self.serve(forgiving)
        run_id = self.fake.trigger("Forgiving")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        self.assertEqual(len(self.fake.events(run_id, "task_failed")), 1)
        self.assertEqual(len(self.fake.events(run_id, "task_completed")), 1)

    def test_logged_exceptions_carry_their_traceback(self):
        @task
        def careful():
            try:
                {}["missing"]
            except KeyError:
                get_logger().exception("lookup failed")

        @flow(name="Careful")
        def careful_flow():
            careful()

        self.serve(careful_flow)
        run_id = self.fake.trigger("Careful")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        [entry] = self.fake.events(run_id, "log")
        self.assertEqual(entry["level"], "ERROR")
        self.assertTrue(entry["message"].startswith("lookup failed\nTraceback"), entry["message"])
        self.assertIn("KeyError: 'missing'", entry["message"])

    def test_unknown_flow_fails_the_run(self):
        self.serve(arithmetic)
        run_id = self.fake.trigger("Not Served Here")
        self.assertEqual(wait_state(self.fake, run_id), "FAILED")
        self.assertIn("not served by this worker", self.fake.runs[run_id]["error"])

    def test_concurrent_runs_never_mix_logs(self):
        barrier = threading.Barrier(2, timeout=5)

        @task
        def chatty(tag):
            barrier.wait()  # both runs are inside the task at the same time
            for i in range(30):
                print("%s line %d" % (tag, i))
                get_logger().info("%s logged %d", tag, i)
                time.sleep(0.001)

        @flow(name="Chatty")
        def chatty_flow(tag: str = "x"):
            chatty(tag)

        real_stdout = sys.stdout
        sys.stdout = captured = io.StringIO()
        try:
            self.serve(chatty_flow, max_concurrent_runs=2)
            first = self.fake.trigger("Chatty", {"tag": "AAA"})
            second = self.fake.trigger("Chatty", {"tag": "BBB"})
            print("outside any run")
            for run_id in (first, second):
                self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        finally:
            sys.stdout = real_stdout
        for run_id, own, other in ((first, "AAA", "BBB"), (second, "BBB", "AAA")):
            messages = [e["message"] for e in self.fake.events(run_id, "log")]
            self.assertEqual(len(messages), 60)
            self.assertTrue(all(m.startswith(own) for m in messages), messages)
            self.assertEqual(sorted({e["call"] for e in self.fake.events(run_id, "log")}), [0])
        self.assertEqual(captured.getvalue(), "outside any run\n")

    def test_events_are_batched_with_contiguous_seqs(self):
        @task
        def noop():
            return None

        @flow(name="Many")
        def many():
            for _ in range(250):
                noop()

        self.serve(many)
        run_id = self.fake.trigger("Many")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        self.assertEqual(len(self.fake.events(run_id)), 501)
        assert_contiguous(self, self.fake, run_id)
        batches = self.fake.batches[run_id]
        self.assertTrue(all(len(b) <= events.MAX_BATCH_EVENTS for b in batches))
        self.assertLess(len(batches), 60)
        self.assertEqual(sorted({e["call"] for e in self.fake.events(run_id, "task_started")}), list(range(250)))

    def test_outage_buffers_and_resends_identical_batches(self):
        self.fake.fail("/events", 3, kind="unreachable")
        self.fake.fail("/runs/", 2, kind=503)
        self.fake.fail("/events", 2, kind="lost_answer")
        worker = self.serve(arithmetic)
        run_id = self.fake.trigger("Arithmetic", {"n": 1})
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        events = self.fake.events(run_id)
        assert_contiguous(self, self.fake, run_id)
        self.assertEqual([e["type"] for e in events if e["type"].startswith(("task_started", "task_completed", "run_"))],
                         ["task_started", "task_completed", "task_started", "task_completed", "run_completed"])
        # Each lost answer made the worker re-send the very same batch, which the server deduped.
        self.fake.wait_for(lambda f: len(f.batches[run_id]) >= 3)
        batches = self.fake.batches[run_id]
        resent = [i for i in range(1, len(batches)) if batches[i] == batches[i - 1]]
        self.assertEqual(len(resent), 2)
        # Through 3 outages, 2 server errors and 2 lost answers the first batch went out 8 times,
        # identical every time (same events, same seqs).
        attempts = [body["events"] for path, body in self.fake.attempts if path.endswith("/events")]
        self.assertEqual(attempts[:8], [attempts[0]] * 8)
        self.assertNotEqual(attempts[8:9], [attempts[0]])
        self.assertIn("cannot deliver events", worker.out.getvalue())
        self.assertIn("server reachable again", worker.out.getvalue())

    def test_server_down_at_start_is_retried(self):
        self.fake.fail("/register", 3)
        self.fake.fail("/poll", 2, kind=502)
        worker = self.serve(arithmetic)
        run_id = self.fake.trigger("Arithmetic")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        lines = worker.out.getvalue().splitlines()
        self.assertEqual(sum("cannot register" in line for line in lines), 3)
        self.assertEqual(sum("cannot poll" in line for line in lines), 2)
        self.assertNotIn("Traceback", worker.out.getvalue())

    def test_unknown_worker_registers_again(self):
        self.serve(arithmetic)
        self.fake.forget_workers()
        self.fake.wait_for(lambda f: len(f.registrations) == 2)
        run_id = self.fake.trigger("Arithmetic")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")

    def test_heartbeats_continue_during_a_long_task(self):
        self.fake.heartbeat_interval_ms = 50
        started = threading.Event()

        @task
        def blocking():
            started.set()
            time.sleep(0.6)  # no events at all meanwhile

        @flow(name="Blocking")
        def blocking_flow():
            blocking()

        self.serve(blocking_flow)
        run_id = self.fake.trigger("Blocking")
        started.wait(5)
        time.sleep(0.5)
        beats = [body for _, body in list(self.fake.heartbeats) if run_id in body["runIds"]]
        self.assertGreaterEqual(len(beats), 4)
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")

    def test_exit_when_all_completed(self):
        @flow(name="Second")
        def second():
            double(3)

        worker = WorkerThread(self.fake, arithmetic, second, exit_when_all_completed=True, **FAST).start()
        self.fake.wait_for(lambda f: f.registrations)
        first_run = self.fake.trigger("Arithmetic")
        self.assertEqual(wait_state(self.fake, first_run), "COMPLETED")
        time.sleep(0.2)
        self.assertTrue(worker.thread.is_alive())  # one flow still has no completed run
        second_run = self.fake.trigger("Second")
        worker.join(10)
        self.assertIsNone(worker.error)
        self.assertEqual(self.fake.state(second_run), "COMPLETED")
        self.assertEqual(worker.worker.results, {first_run: "COMPLETED", second_run: "COMPLETED"})


class StopTests(unittest.TestCase):
    """Cancellation, runs finished by the server, and the worker's own shutdown."""

    def setUp(self):
        self.fake = FakePerfect(heartbeat_interval_ms=60000)
        self.calls = []
        self.chatty = True
        self.in_first = threading.Event()
        self.release = threading.Event()
        calls = self.calls
        in_first, release = self.in_first, self.release
        test = self

        @task
        def first():
            calls.append("first")
            in_first.set()
            while not release.wait(0.02):
                if test.chatty:
                    get_logger().info("working")  # keeps event batches (and their answers) flowing
            return 1

        @task
        def second(value):
            calls.append("second")
            return value

        @flow(name="Two Steps")
        def two_steps():
            second(first())

        self.flow = two_steps

    def start(self, **kwargs):
        for key, value in FAST.items():
            kwargs.setdefault(key, value)
        self.worker = WorkerThread(self.fake, self.flow, **kwargs).start()
        self.fake.wait_for(lambda f: f.registrations)
        run_id = self.fake.trigger("Two Steps")
        self.assertTrue(self.in_first.wait(5))
        return run_id

    def tearDown(self):
        self.release.set()
        self.worker.stop()

    def wait_for_result(self, run_id):
        deadline = time.monotonic() + 5
        while run_id not in self.worker.worker.results and time.monotonic() < deadline:
            time.sleep(0.02)

    def wait_for_next_batch(self, run_id):
        seen = len(self.fake.batches.get(run_id, []))
        self.fake.wait_for(lambda f: len(f.batches.get(run_id, [])) > seen)

    def test_cancel_from_events_answer_stops_before_next_task(self):
        run_id = self.start()
        self.fake.cancel(run_id)
        self.wait_for_next_batch(run_id)  # answered with cancelRequested: true
        self.release.set()
        self.assertEqual(wait_state(self.fake, run_id), "CANCELLED")
        self.assertEqual(self.calls, ["first"])
        types = [e["type"] for e in self.fake.events(run_id) if e["type"] != "log"]
        self.assertEqual(types, ["task_started", "task_completed", "run_cancelled"])
        assert_contiguous(self, self.fake, run_id)

    def test_cancel_from_heartbeat(self):
        self.fake.heartbeat_interval_ms = 50
        self.fake.cancel_in_events_answer = False
        self.chatty = False
        run_id = self.start()
        self.fake.cancel(run_id)
        seen = len(self.fake.heartbeats)
        self.fake.wait_for(lambda f: len(f.heartbeats) > seen + 1)
        self.release.set()
        self.assertEqual(wait_state(self.fake, run_id), "CANCELLED")
        self.assertEqual(self.calls, ["first"])

    def test_conflict_409_stops_the_run_and_drops_its_events(self):
        run_id = self.start()
        self.fake.finish(run_id, "FAILED", "client heartbeat lost")
        self.wait_for_next_batch(run_id)  # the next batch of "working" logs is answered 409
        self.release.set()
        self.wait_for_result(run_id)
        self.assertEqual(self.worker.worker.results[run_id], "FINISHED_BY_SERVER")
        self.assertEqual(self.calls, ["first"])
        self.assertEqual(self.fake.state(run_id), "FAILED")
        self.assertIn("already finished run", self.worker.out.getvalue())
        # Nothing after the 409 was stored.
        self.assertEqual(self.fake.events(run_id, "task_completed"), [])

    def test_finished_run_ids_from_heartbeat_stop_the_run(self):
        self.fake.heartbeat_interval_ms = 50
        self.chatty = False
        run_id = self.start()
        self.fake.wait_for(lambda f: f.runs[run_id]["events"])
        self.fake.finish(run_id, "FAILED")
        deadline = time.monotonic() + 5
        while "already finished run" not in self.worker.out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertIn("already finished run", self.worker.out.getvalue())
        self.release.set()
        self.wait_for_result(run_id)
        self.assertEqual(self.worker.worker.results[run_id], "FINISHED_BY_SERVER")
        self.assertEqual(self.calls, ["first"])

    def test_stop_reports_running_runs_failed_and_flushes(self):
        run_id = self.start()
        self.fake.fail("/events", 2)  # the server hiccups right when the worker stops
        self.worker.stop()
        self.assertEqual(self.fake.state(run_id), "FAILED")
        self.assertEqual(self.fake.runs[run_id]["error"], "worker interrupted")
        assert_contiguous(self, self.fake, run_id)
        self.assertEqual(self.fake.events(run_id)[-1]["type"], "run_failed")

    def test_stop_says_goodbye_last_after_the_run_end_is_delivered(self):
        run_id = self.start()
        worker_id = self.worker.worker.worker_id
        self.worker.stop()
        self.assertEqual(self.fake.goodbyes, [worker_id])
        paths = [path for path, _ in self.fake.requests]
        self.assertTrue(paths[-1].endswith("/goodbye"), paths[-3:])
        last_events = max(i for i, p in enumerate(paths) if p.endswith("/runs/%s/events" % run_id))
        self.assertLess(last_events, len(paths) - 1)
        self.assertEqual(self.fake.state(run_id), "FAILED")


class InterruptingTransport:
    """Delivers a KeyboardInterrupt from inside a poll once a run is under way, exactly where a
    Ctrl-C lands in a real worker (the main thread, blocked in a long poll)."""

    def __init__(self, fake, run_started):
        self.fake = fake
        self.run_started = run_started

    def post(self, path, body, timeout):
        if path.endswith("/poll") and self.run_started.is_set():
            self.fake.wait_for(lambda f: any(f.runs[r]["events"] for r in f.runs))
            raise KeyboardInterrupt
        return self.fake.post(path, body, timeout)


class ShutdownTests(unittest.TestCase):
    def test_ctrl_c_fails_running_runs_and_flushes_buffered_events(self):
        fake = FakePerfect()
        started = threading.Event()

        @task
        def slow():
            started.set()
            print("started slow work")
            time.sleep(3)

        @flow(name="Slow")
        def slow_flow():
            slow()

        run_id = fake.trigger("Slow")
        out = io.StringIO()
        worker = Worker([slow_flow], transport=InterruptingTransport(fake, started), client_id=fake.client_id,
                        out=out, **FAST)
        begin = time.monotonic()
        worker.serve()  # returns normally after Ctrl-C
        self.assertLess(time.monotonic() - begin, 3)
        self.assertEqual(fake.state(run_id), "FAILED")
        self.assertEqual(fake.runs[run_id]["error"], "worker interrupted")
        types = [e["type"] for e in fake.events(run_id)]
        self.assertEqual(types, ["task_started", "log", "run_failed"])
        self.assertIn("interrupted", out.getvalue())

    def test_rejected_token_is_fatal_with_exit_code_2(self):
        class Rejecting:
            def post(self, path, body, timeout):
                return Response(401, {"error": {"code": "unauthorized", "message": "bad token"}})

        out = io.StringIO()
        with self.assertRaises(TokenRejected) as caught:
            Worker([arithmetic], transport=Rejecting(), client_id="acme", out=out).serve()
        self.assertEqual(caught.exception.code, 2)
        self.assertEqual(str(caught.exception), "token rejected for client acme: check PERFECT_TOKEN")
        self.assertEqual(out.getvalue().count("token rejected for client acme"), 1)

    def test_unknown_client_and_bad_url_are_fatal(self):
        fake = FakePerfect(client_id="someone_else")
        out = io.StringIO()
        with self.assertRaises(FatalWorkerError) as caught:
            Worker([arithmetic], transport=fake, client_id="acme", out=out).serve()
        self.assertEqual(caught.exception.code, 2)
        self.assertIn("client 'acme' is unknown to the server", out.getvalue())
        with self.assertRaises(FatalWorkerError) as caught:
            Worker([arithmetic], url="localhost:3000", out=io.StringIO()).serve()
        self.assertIn("PERFECT_URL must look like http://host:port", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
