"""The SDK's quiet failures of issue 10 (item 7 and the SDK sides of items 3, 5, 6) and the
worker's survival of hostile answers and token rotation (issue 11, items 2 and 10).

Each test drives a real ``Worker`` against the fake server (in-process, or over real HTTP where
the bytes on the wire matter) and asserts order and outcome, never timing.
"""
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
sys.path[:0] = [HERE, SDK]

from fake_perfect import FakeHttpServer, FakePerfect, WorkerThread  # noqa: E402
from perfect_client import RunsFailed, Worker, flow, get_logger, task  # noqa: E402
from perfect_client import execution  # noqa: E402
from perfect_client.wire_text import MAX_LOG_BYTES  # noqa: E402

FAST = {"retry_initial": 0.01, "retry_cap": 0.05}


def wait_state(fake, run_id, states=("COMPLETED", "FAILED", "CANCELLED"), timeout=15.0):
    return fake.wait_for(lambda f: f.runs[run_id]["state"] in states and f.runs[run_id]["state"], timeout)


def assert_contiguous(test, fake, run_id):
    seqs = [e["seq"] for e in fake.events(run_id)]
    test.assertEqual(seqs, list(range(1, len(seqs) + 1)))
    test.assertEqual(fake.duplicate_seq_batches, [])


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        time.sleep(0.01)


@task
def noop():
    return None


class Base(unittest.TestCase):
    def setUp(self):
        self.fake = FakePerfect()
        self.workers = []
        self.http = None

    def tearDown(self):
        for worker in self.workers:
            if worker.thread.is_alive():
                worker.stop()
        if self.http is not None:
            self.http.close()

    def serve(self, *flows, **kwargs):
        for key, value in FAST.items():
            kwargs.setdefault(key, value)
        worker = WorkerThread(self.fake, *flows, **kwargs).start()
        self.workers.append(worker)
        self.fake.wait_for(lambda f: f.registrations)
        return worker

    def serve_http(self, *flows, **kwargs):
        """Serve over real HTTP (the SDK's own transport: encoding and decoding for real)."""
        self.http = FakeHttpServer(self.fake).start()
        return self.serve(*flows, transport=None, url=self.http.url, token=self.fake.token, **kwargs)


class TextTests(Base):
    def test_non_utf8_file_names_and_lone_surrogates_never_block_a_run(self):
        @flow(name="Files")
        def files(label: str = ""):
            print("writing", os.fsdecode(b"report_\xe9t\xe9.csv"))
            get_logger().info("label is %s", label)
            noop()
            print("after the odd lines")

        self.serve_http(files)
        run_id = self.fake.trigger("Files", {"label": "x\udce9y"})
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        messages = [e["message"] for e in self.fake.events(run_id, "log")]
        self.assertEqual(messages, ["writing report_\ufffdt\ufffd.csv", "label is x\ufffdy", "after the odd lines"])
        assert_contiguous(self, self.fake, run_id)

    def test_a_megabyte_log_line_is_cut_to_the_server_limit_with_an_exact_marker(self):
        line = "é" * (512 * 1024)  # 1 MiB of UTF-8, two bytes per character

        @flow(name="Loud")
        def loud():
            get_logger().info(line)

        self.serve(loud)
        run_id = self.fake.trigger("Loud")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        [entry] = self.fake.events(run_id, "log")
        message = entry["message"]
        data = message.encode("utf-8")
        self.assertLessEqual(len(data), MAX_LOG_BYTES)
        head, marker = message.rsplit("… [truncated ", 1)
        self.assertEqual(head, "é" * len(head))
        removed = int(marker[:-len(" bytes]")])
        self.assertEqual(removed, len(line.encode("utf-8")) - len(head.encode("utf-8")))
        self.assertTrue(marker.endswith(" bytes]"))

    def test_one_event_the_server_refuses_is_replaced_and_the_rest_still_land(self):
        self.fake.refuse = lambda event: "POISON" in event.get("message", "")

        @flow(name="Poisoned")
        def poisoned():
            log = get_logger()
            log.info("first")
            log.info("POISON")
            log.info("last")

        worker = self.serve(poisoned)
        run_id = self.fake.trigger("Poisoned")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        events = self.fake.events(run_id)
        self.assertEqual([e.get("message", e["type"])[:8] for e in events],
                         ["first", "[perfect", "last", "run_completed"[:8]])
        self.assertEqual(events[1]["level"], "WARNING")
        assert_contiguous(self, self.fake, run_id)
        self.assertIn("server refused a log event", worker.out.getvalue())


class RunEndTests(Base):
    def test_cancel_during_the_last_task_ends_the_run_cancelled(self):
        inside, release = threading.Event(), threading.Event()

        @task
        def only():
            inside.set()
            release.wait(10)

        @flow(name="Only Task")
        def only_task():
            only()

        self.fake.heartbeat_interval_ms = 20
        worker = self.serve(only_task)
        run_id = self.fake.trigger("Only Task")
        self.assertTrue(inside.wait(10))
        self.fake.cancel(run_id)
        wait_until(lambda: worker.worker._active[run_id].stop_kind is not None)
        release.set()
        self.assertEqual(wait_state(self.fake, run_id), "CANCELLED")
        types = [e["type"] for e in self.fake.events(run_id)]
        self.assertEqual(types, ["task_started", "task_completed", "run_cancelled"])
        wait_until(lambda: worker.worker.results.get(run_id) == "CANCELLED")

    def test_the_servers_final_state_is_the_runs_outcome(self):
        inside, release = threading.Event(), threading.Event()

        @flow(name="Late Cancel")
        def late_cancel():
            inside.set()
            release.wait(10)

        self.fake.cancel_in_events_answer = False  # the worker never hears of the cancel
        worker = self.serve(late_cancel)
        run_id = self.fake.trigger("Late Cancel")
        self.assertTrue(inside.wait(10))
        self.fake.cancel(run_id)
        release.set()
        self.assertEqual(wait_state(self.fake, run_id), "CANCELLED")
        self.assertEqual(self.fake.events(run_id)[-1]["type"], "run_completed")
        wait_until(lambda: worker.worker.results.get(run_id) == "CANCELLED")
        self.assertIn("ended CANCELLED on the server (reported COMPLETED, its cancel was requested)",
                      worker.out.getvalue())

    def test_exit_when_all_completed_exits_with_status_1_when_a_flow_fails(self):
        @task
        def boom():
            raise ValueError("boom")

        @flow(name="Fails")
        def fails():
            boom()

        @flow(name="Works")
        def works():
            noop()

        worker = WorkerThread(self.fake, fails, works, exit_when_all_completed=True, **FAST).start()
        self.fake.wait_for(lambda f: f.registrations)
        failed_run = self.fake.trigger("Fails")
        self.assertEqual(wait_state(self.fake, failed_run), "FAILED")
        good_run = self.fake.trigger("Works")
        worker.join(15)
        self.assertEqual(self.fake.state(good_run), "COMPLETED")
        self.assertIsInstance(worker.error, RunsFailed)
        self.assertEqual(worker.error.code, 1)
        self.assertIn("the last run of 'Fails' failed", worker.out.getvalue())

    def test_results_are_bounded(self):
        worker = WorkerThread(self.fake, _noop_flow, max_concurrent_runs=1, **FAST)
        worker.worker.MAX_RESULTS = 3
        run_ids = [self.fake.trigger("Noop") for _ in range(6)]
        worker.start()
        self.workers.append(worker)
        for run_id in run_ids:
            self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        wait_until(lambda: run_ids[-1] in worker.worker.results)
        self.assertEqual(list(worker.worker.results), run_ids[-3:])

    def test_duration_is_the_last_attempts_only(self):
        clock = [1000.0]
        attempts = []

        @task(retries=1)
        def slow_then_fast():
            attempts.append(1)
            if len(attempts) == 1:
                clock[0] += 30.0  # the failed attempt "takes" 30 s
                raise TimeoutError("slow")
            clock[0] += 0.25

        @flow(name="Retried")
        def retried():
            slow_then_fast()

        real = execution._clock
        execution._clock = lambda: clock[0]
        self.addCleanup(setattr, execution, "_clock", real)
        self.serve(retried)
        run_id = self.fake.trigger("Retried")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        types = [e["type"] for e in self.fake.events(run_id) if e["type"].startswith("task_")]
        self.assertEqual(types, ["task_started", "task_retrying", "task_completed"])
        [done] = self.fake.events(run_id, "task_completed")
        self.assertEqual(done["durationMs"], 250)


@flow(name="Noop")
def _noop_flow():
    noop()


class HeartbeatTests(Base):
    def test_a_run_is_listed_until_its_final_batch_is_acknowledged(self):
        self.fake.heartbeat_interval_ms = 20

        worker = self.serve(_noop_flow)
        self.fake.fail("/events", 1000, kind=503)  # the run ends, but nothing can be delivered
        run_id = self.fake.trigger("Noop")
        wait_until(lambda: run_id in worker.worker.results)  # finished locally
        beats_after_end = len(self.fake.heartbeats)
        self.fake.wait_for(lambda f: len(f.heartbeats) >= beats_after_end + 3)
        self.assertTrue(all(run_id in body["runIds"] for _, body in self.fake.heartbeats[beats_after_end:]))
        with self.fake.cond:
            self.fake.faults.clear()
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        wait_until(lambda: run_id not in worker.worker.held_run_ids)
        beats = len(self.fake.heartbeats)
        self.fake.wait_for(lambda f: len(f.heartbeats) >= beats + 2)
        self.assertNotIn(run_id, self.fake.heartbeats[-1][1]["runIds"])

    def test_a_run_given_up_after_409_leaves_the_heartbeats_and_is_failed(self):
        self.fake.heartbeat_interval_ms = 20
        inside, release = threading.Event(), threading.Event()

        @flow(name="Given Up")
        def given_up():
            inside.set()
            while not release.wait(0.01):
                get_logger().info("still working")

        worker = self.serve(given_up)
        self.addCleanup(release.set)
        run_id = self.fake.trigger("Given Up")
        self.assertTrue(inside.wait(10))
        with self.fake.cond:
            self.fake.runs[run_id]["worker"] = "someone_else"  # the next batch is refused
        self.fake.fail("/events", 1, kind=403)
        wait_until(lambda: run_id not in worker.worker.held_run_ids)
        beats = len(self.fake.heartbeats)
        self.fake.wait_for(lambda f: len(f.heartbeats) >= beats + 2)
        self.assertNotIn(run_id, self.fake.heartbeats[-1][1]["runIds"])


class SequenceTests(Base):
    def test_a_lost_batch_is_resent_from_the_expected_seq(self):
        self.fake.fail("/events", 1, kind="ack_and_forget")  # the first batch vanishes after its 200

        fake = self.fake

        @flow(name="Gap")
        def gap():
            get_logger().info("one")
            fake.wait_for(lambda f: any(p.endswith("/events") for p, _ in f.attempts))  # sent alone
            noop()
            get_logger().info("two")

        worker = self.serve(gap)
        run_id = self.fake.trigger("Gap")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        assert_contiguous(self, self.fake, run_id)
        self.assertEqual([e["type"] for e in self.fake.events(run_id)],
                         ["log", "task_started", "task_completed", "log", "run_completed"])
        self.assertIn("re-sending them", worker.out.getvalue())


class HostileAnswerTests(Base):
    def test_an_answer_nested_100000_levels_deep_is_survived(self):
        self.fake.heartbeat_interval_ms = 20
        worker = self.serve_http(_noop_flow)
        self.fake.fail("/poll", 1, kind="deep_answer")  # the run is claimed, the answer is poison
        run_id = self.fake.trigger("Noop")
        # The claim was never received: unlisted by two heartbeats, the run is given back and
        # claimed again by the same, still serving, worker.
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        self.assertTrue(worker.thread.is_alive())
        self.assertIn("could not decode the server's answer (HTTP 200): nested deeper than", worker.out.getvalue())
        self.assertNotIn("Traceback", worker.out.getvalue())
        claims = [body for path, body in self.fake.requests if path.endswith("/poll")]
        self.assertGreaterEqual(len(claims), 2)

    def test_an_answer_that_is_not_json_is_survived(self):
        self.fake.heartbeat_interval_ms = 20
        worker = self.serve_http(_noop_flow)
        self.fake.fail("/events", 1, kind="garbage_answer")
        run_id = self.fake.trigger("Noop")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")  # applied, the answer garbled
        wait_until(lambda: "not JSON" in worker.out.getvalue())  # logged as a transient failure
        assert_contiguous(self, self.fake, run_id)
        second = self.fake.trigger("Noop")  # and the worker keeps serving
        self.assertEqual(wait_state(self.fake, second), "COMPLETED")
        self.assertTrue(worker.thread.is_alive())


class TokenRotationTests(Base):
    def test_401_keeps_buffered_events_and_recovers_when_the_token_is_back(self):
        # Registration succeeds first: the token changes while the worker is serving. The run
        # is held inside its flow until the faults are armed (a gate, not a race with a quick
        # run that could pass RUNNING between two looks).
        inside, release = threading.Event(), threading.Event()

        @flow(name="Held")
        def held():
            inside.set()
            release.wait(10)
            noop()

        worker = self.serve(held, _noop_flow)
        run_id = self.fake.trigger("Held")
        self.assertTrue(inside.wait(10))
        # As a real rotation: every request is refused until the token is back (one counter for
        # all paths — per-path counters would end at different moments and flip the state twice).
        self.fake.fail("/api/worker/", 20, kind=401)
        release.set()
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        assert_contiguous(self, self.fake, run_id)
        second = self.fake.trigger("Noop")
        self.assertEqual(wait_state(self.fake, second), "COMPLETED")
        self.assertTrue(worker.thread.is_alive())
        out = worker.out.getvalue()
        self.assertEqual(out.count("token rejected for client"), 1, out)
        self.assertIn("token accepted again", out)

    def test_a_wrong_token_at_start_still_exits_with_status_2(self):
        self.fake.fail("/register", 1, kind=401)
        out = io.StringIO()
        with self.assertRaises(SystemExit) as caught:
            Worker([_noop_flow], transport=self.fake, client_id=self.fake.client_id, out=out, **FAST).serve()
        self.assertEqual(caught.exception.code, 2)


SIGTERM_WORKER = textwrap.dedent("""
    import sys
    sys.path.insert(0, %(sdk)r)
    from perfect_client import flow, serve, task

    @task
    def boom():
        raise ValueError("boom")

    @flow(name="Fails")
    def fails():
        boom()

    @flow(name="Never Triggered")
    def never():
        pass

    if __name__ == "__main__":
        serve(fails, never, exit_when_all_completed=True, isolation="thread")
""")


class ExitStatusTests(unittest.TestCase):
    def test_sigterm_exits_1_when_a_served_flows_last_run_failed(self):
        fake = FakePerfect()
        http = FakeHttpServer(fake).start()
        self.addCleanup(http.close)
        script = os.path.join(os.path.dirname(HERE), "tests", "_sigterm_worker.py")
        with open(script, "w") as handle:
            handle.write(SIGTERM_WORKER % {"sdk": SDK})
        self.addCleanup(os.remove, script)
        env = dict(os.environ, PERFECT_URL=http.url, PERFECT_TOKEN=fake.token, PERFECT_CLIENT_ID=fake.client_id)
        process = subprocess.Popen([sys.executable, script], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        fake.wait_for(lambda f: f.registrations, 30)
        run_id = fake.trigger("Fails")
        self.assertEqual(wait_state(fake, run_id, timeout=30), "FAILED")
        fake.wait_for(lambda f: len([p for p, _ in f.requests if p.endswith("/poll")]) >= 2, 30)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode("utf-8", "replace")
        self.assertEqual(process.returncode, 1, output)
        self.assertIn("the last run of 'Fails' failed", output)


if __name__ == "__main__":
    unittest.main()
