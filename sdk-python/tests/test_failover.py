"""Several server instances (``PERFECT_URL=A,B``): a real Worker over real HTTP against two fake
instances sharing one fake database. Killing A mid-run loses and doubles nothing; a long poll in
flight moves to B; an instance answering 503 (starting) is skipped; A coming back breaks nothing."""
import os
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from fake_perfect import FakeHttpServer, FakePerfect, WorkerThread  # noqa: E402
from perfect_client import Worker, flow, task  # noqa: E402
from perfect_client.errors import ServerUnreachable  # noqa: E402
from perfect_client.transport import FailoverTransport, Response, split_urls  # noqa: E402

FAST = {"retry_initial": 0.01, "retry_cap": 0.05}
GATE = threading.Event()


@task(estimated_time=10)
def before_gate():
    print("before the gate")


@task(estimated_time=10)
def at_gate():
    print("waiting at the gate")
    if not GATE.wait(20):
        raise RuntimeError("the test never opened the gate")
    print("through the gate")


@task(estimated_time=10)
def after_gate(i):
    print("after the gate %d" % i)


@flow(name="Failover")
def failover_flow():
    before_gate()
    at_gate()
    for i in range(5):
        after_gate(i)


@task(estimated_time=10)
def quick():
    print("quick")


@flow(name="Quick")
def quick_flow():
    quick()


def wait_state(fake, run_id, worker, timeout=20.0):
    """The run's final state once the worker had its last batch acknowledged (not just stored)."""
    states = ("COMPLETED", "FAILED", "CANCELLED")
    fake.wait_for(lambda f: f.runs[run_id]["state"] in states and run_id not in worker.worker.held_run_ids
                  and worker.worker.results.get(run_id) in states, timeout)
    return fake.state(run_id)


class TwoInstancesTests(unittest.TestCase):
    def setUp(self):
        GATE.clear()
        # Short heartbeats: a run claimed by a poll whose answer died with A is given back soon.
        self.fake = FakePerfect(long_poll_ms=1000, heartbeat_interval_ms=200)
        self.a = FakeHttpServer(self.fake).start()
        self.b = FakeHttpServer(self.fake).start()
        self.servers = [self.a, self.b]
        self.workers = []

    def tearDown(self):
        GATE.set()
        for worker in self.workers:
            worker.stop()
        for server in self.servers:
            if not server._killed:
                server.close()

    def serve(self, *flows):
        worker = WorkerThread(self.fake, *flows, transport=None, token=self.fake.token,
                              url="%s, %s/" % (self.a.url, self.b.url), **FAST).start()
        self.workers.append(worker)
        self.worker = worker
        self.fake.wait_for(lambda f: f.registrations)
        return worker

    def assert_once_in_order(self, run_id):
        events = self.fake.events(run_id)
        self.assertEqual([e["seq"] for e in events], list(range(1, len(events) + 1)))
        self.assertEqual(self.fake.duplicate_seq_batches, [])
        return events

    def test_killing_a_mid_run_delivers_every_event_to_b_exactly_once_in_order(self):
        worker = self.serve(failover_flow)
        run_id = self.fake.trigger("Failover")
        self.fake.wait_for(lambda f: any(e["type"] == "task_started" and e["task"] == "at_gate"
                                         for e in f.runs[run_id]["events"]))
        self.assertGreater(self.a.answered("/events"), 0)
        self.assertEqual(self.b.answered(""), 0)  # sticky on the first URL while it answers
        self.a.kill()
        GATE.set()
        self.assertEqual(wait_state(self.fake, run_id, self.worker), "COMPLETED")
        events = self.assert_once_in_order(run_id)
        prints = [e["message"] for e in events if e["type"] == "log"]
        self.assertEqual(prints, ["before the gate", "waiting at the gate", "through the gate"]
                         + ["after the gate %d" % i for i in range(5)])
        self.assertEqual([e["call"] for e in events if e["type"] == "task_completed"], list(range(7)))
        self.assertEqual(events[-1]["type"], "run_completed")
        self.assertGreater(self.b.answered("/events"), 0)
        self.assertEqual(len(self.fake.registrations), 1)  # the worker id is valid on B too
        self.assertIn("failed over from %s to %s" % (self.a.url, self.b.url), worker.out.getvalue())

    def test_a_batch_applied_by_a_but_never_answered_is_stored_once(self):
        self.serve(quick_flow)
        self.fake.fail("/events", 1, "lost_answer")  # A stores the batch, then its answer is lost
        run_id = self.fake.trigger("Quick")
        self.assertEqual(wait_state(self.fake, run_id, self.worker), "COMPLETED")
        events = self.assert_once_in_order(run_id)
        self.assertEqual([e["type"] for e in events], ["task_started", "log", "task_completed", "run_completed"])
        # The same batch went to B again and was recognised as a duplicate there.
        resent = [b for b in self.fake.batches[run_id] if b[0]["seq"] == 1]
        self.assertEqual(len(resent), 2)
        self.assertEqual(resent[0], resent[1])
        self.assertGreater(self.b.answered("/events"), 0)

    def test_a_long_poll_in_flight_on_a_moves_to_b(self):
        self.serve(quick_flow)
        self.fake.wait_for(lambda f: any("/poll" in path for path, _ in f.attempts))
        self.a.kill()
        run_id = self.fake.trigger("Quick")
        self.assertEqual(wait_state(self.fake, run_id, self.worker), "COMPLETED")
        self.assert_once_in_order(run_id)
        self.assertGreater(self.b.answered("/poll"), 0)

    def test_an_instance_answering_503_while_starting_is_skipped(self):
        self.a.status_override = 503
        self.serve(quick_flow)
        run_id = self.fake.trigger("Quick")
        self.assertEqual(wait_state(self.fake, run_id, self.worker), "COMPLETED")
        self.assert_once_in_order(run_id)
        self.assertEqual(self.a.answered("/events"), 0)
        self.assertGreater(self.b.answered("/events"), 0)
        self.a.status_override = None  # A finished starting: nothing changes, B still works
        second = self.fake.trigger("Quick")
        self.assertEqual(wait_state(self.fake, second, self.worker), "COMPLETED")

    def test_a_coming_back_breaks_nothing_and_serves_when_b_dies(self):
        self.serve(quick_flow)
        first = self.fake.trigger("Quick")
        self.assertEqual(wait_state(self.fake, first, self.worker), "COMPLETED")
        port = self.a.port
        self.a.kill()
        second = self.fake.trigger("Quick")
        self.assertEqual(wait_state(self.fake, second, self.worker), "COMPLETED")
        revived = FakeHttpServer(self.fake, port=port).start()
        self.servers.append(revived)
        third = self.fake.trigger("Quick")
        self.assertEqual(wait_state(self.fake, third, self.worker), "COMPLETED")
        self.assertEqual(revived.answered(""), 0)  # sticky: B works, so B it stays
        self.b.kill()
        fourth = self.fake.trigger("Quick")
        self.assertEqual(wait_state(self.fake, fourth, self.worker), "COMPLETED")
        for run_id in (first, second, third, fourth):
            self.assert_once_in_order(run_id)
        self.assertGreater(revived.answered("/events"), 0)
        self.assertEqual(len(self.fake.registrations), 1)


LOG = []


class StubTransport:
    def __init__(self, name):
        self.base_url = name
        self.answer = 200  # or "down", or a status
        self.calls = 0

    def post(self, path, body, timeout):
        self.calls += 1
        LOG.append(self.base_url)
        if self.answer == "down":
            raise ServerUnreachable("refused")
        return Response(self.answer, {"ok": True})


class FailoverTransportTests(unittest.TestCase):
    def setUp(self):
        self.now = [100.0]
        self.a, self.b, self.c = StubTransport("A"), StubTransport("B"), StubTransport("C")
        self.switches = []
        self.t = FailoverTransport([self.a, self.b, self.c], retry_initial=10.0, retry_cap=40.0,
                                   clock=lambda: self.now[0], on_switch=lambda *a: self.switches.append(a[:2]))

    def test_split_urls(self):
        self.assertEqual(split_urls(" http://a:1/, ,http://b:2 "), ["http://a:1", "http://b:2"])

    def test_sticky_on_the_instance_that_answers_and_failed_ones_wait_their_backoff(self):
        self.assertEqual(self.t.post("/x", {}, 1).status, 200)
        self.assertEqual((self.a.calls, self.b.calls), (1, 0))
        self.a.answer = "down"
        self.assertEqual(self.t.post("/x", {}, 1).status, 200)
        self.assertEqual(self.t.base_url, "B")
        self.assertEqual(self.switches, [("A", "B")])
        self.a.answer = 200  # A is back, but B works: stay on B
        self.t.post("/x", {}, 1)
        self.assertEqual((self.a.calls, self.b.calls), (2, 2))
        # B fails while A is still in its backoff: C (ready) is tried before A (waiting).
        self.now[0] = 105.0
        self.b.answer = 503
        self.t.post("/x", {}, 1)
        self.assertEqual(self.t.base_url, "C")
        self.assertEqual(self.a.calls, 2)
        # Every instance failing: each is tried once, in-backoff ones last; the 5xx is returned.
        self.c.answer = "down"
        self.a.answer = 502
        del LOG[:]
        self.assertEqual(self.t.post("/x", {}, 1).status, 503)  # the last one tried answered 503
        self.assertEqual(LOG, ["C", "A", "B"])  # A's backoff ends before B's

    def test_all_unreachable_raises(self):
        for stub in (self.a, self.b, self.c):
            stub.answer = "down"
        with self.assertRaises(ServerUnreachable):
            self.t.post("/x", {}, 1)

    def test_4xx_is_an_answer_not_a_failover(self):
        self.a.answer = 404
        self.assertEqual(self.t.post("/x", {}, 1).status, 404)
        self.assertEqual(self.b.calls, 0)

    def test_worker_parses_several_urls_and_rejects_a_bad_one(self):
        worker = Worker([quick_flow], url="http://a:1, http://b:2/")
        self.assertEqual(worker.urls, ["http://a:1", "http://b:2"])
        self.assertIsInstance(worker.api.transport, FailoverTransport)
        with self.assertRaises(SystemExit):
            Worker([quick_flow], url="http://a:1,b:2", retry_initial=0.01)._register()


if __name__ == "__main__":
    unittest.main()
