"""The SDK's requests and its reading of answers, checked against the wire fixtures shared with
the TypeScript tests (lib/contracts/fixtures), so the two sides cannot drift."""
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from fake_perfect import FakePerfect, WorkerThread  # noqa: E402
from perfect_client import flow, get_logger, progress, task  # noqa: E402
from perfect_client.protocol import RunGone, UnknownWorker, WorkerApi  # noqa: E402
from perfect_client.transport import Response  # noqa: E402

FIXTURES = os.path.join(HERE, "..", "..", "lib", "contracts", "fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return json.load(handle)


def shape(value):
    """Keys and JSON types, recursively (lists by the shape of their first element)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


# The fixture's flow, written the way a user would.
@task(estimated_time=3000, description="Pull rows", retries=1, retry_delay=0)
def extract_sales(day):
    if getattr(extract_sales, "failed_once", False):
        return []  # the second attempt succeeds quietly, as in the fixture
    extract_sales.failed_once = True
    get_logger().info("extracting %s", day)
    progress(0.5)
    raise TimeoutError("db")


@task(estimated_time=2000)
def transform_sales(rows):
    raise ValueError("bad row")


@task
def load_sales(rows):
    return None


@flow(name="Daily Sales ETL", description="Extract, transform and load yesterday's sales",
      tags={"version": "v1.2", "team": "data-eng", "priority": "high"})
def daily_sales_etl(day: str = "today", limit: int = 100, *, region: str):
    load_sales(transform_sales(extract_sales(day)))


class RequestShapeTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakePerfect()
        worker = WorkerThread(cls.fake, daily_sales_etl, retry_initial=0.01, retry_cap=0.05).start()
        try:
            cls.fake.wait_for(lambda f: f.registrations)
            cls.run_id = cls.fake.trigger("Daily Sales ETL", {"day": "2026-11-24", "limit": 100, "region": "eu"})
            cls.fake.wait_for(lambda f: f.runs[cls.run_id]["state"] == "FAILED")
        finally:
            worker.stop()

    def test_register_request_matches_fixture(self):
        expected = fixture("register.request.json")
        sent = json.loads(json.dumps(self.fake.registrations[0]))
        # Every flow carries a version (its code fingerprint here); the fixture's value, if it has
        # one, is an example, so only its type is compared.
        for sent_flow, expected_flow in zip(sent["flows"], expected["flows"]):
            self.assertRegex(sent_flow["version"], r"^[0-9a-f]{16}$")
            if "version" in expected_flow:
                sent_flow["version"] = expected_flow["version"]
            else:
                del sent_flow["version"]
        self.assertEqual(shape(sent), shape(expected))
        self.assertEqual(sent["flows"], expected["flows"])

    def test_poll_and_heartbeat_requests_match_fixtures(self):
        polls = [body for path, body in self.fake.requests if path.endswith("/poll")]
        self.assertEqual(shape(polls[0]), shape(fixture("poll.request.json")))
        api = WorkerApi(self.fake, self.fake.client_id)
        try:
            api.heartbeat("wkr_0001", ["run_0001"])  # only the request shape matters
        except UnknownWorker:
            pass  # the worker said goodbye when it stopped
        sent = [body for path, body in self.fake.requests if path.endswith("/heartbeat")]
        self.assertEqual(shape(sent[-1]), shape(fixture("heartbeat.request.json")))

    def test_event_batch_matches_fixture(self):
        expected = fixture("events.request.json")
        batches = [body for path, body in self.fake.requests if path.endswith("/events")]
        for batch in batches:
            self.assertEqual(sorted(batch), sorted(expected))
            self.assertEqual({k: shape(v) for k, v in batch.items() if k != "events"},
                             {k: shape(v) for k, v in expected.items() if k != "events"})
        sent_events = [event for batch in batches for event in batch["events"]]
        for wanted in expected["events"]:
            same_type = [e for e in sent_events if e["type"] == wanted["type"]]
            self.assertTrue(same_type, "SDK never sent a %s event" % wanted["type"])
            self.assertEqual(shape(same_type[0]), shape(wanted), wanted["type"])
        volatile = ("seq", "ts", "durationMs")
        comparable = [{k: v for k, v in e.items() if k not in volatile} for e in sent_events
                      if not (e["type"] == "log" and e["level"] != "INFO")]
        self.assertEqual(comparable, [{k: v for k, v in e.items() if k not in volatile} for e in expected["events"]])


class Recording:
    """A transport that records requests and answers each with one fixture."""

    def __init__(self, status, body):
        self.answer = Response(status, body)
        self.sent = []

    def post(self, path, body, timeout):
        self.sent.append((path, body))
        return self.answer

    def delete(self, path, timeout):
        self.sent.append((path, None))
        return Response(204, None)


class SlotContractTests(unittest.TestCase):
    def test_slot_request_and_answer_match_fixtures(self):
        transport = Recording(200, fixture("slots.response.json"))
        api = WorkerApi(transport, "perfect_example")
        answer = api.request_slot("481", "wkr_0001", "warehouse", 3, "load_table", 2000)
        path, body = transport.sent[0]
        self.assertEqual(path, "/api/worker/perfect_example/runs/481/slots")
        self.assertEqual(body, fixture("slots.request.json"))
        self.assertEqual(answer, {"slotId": "14", "state": "WAITING", "position": 2})
        api.release_slot("481", "14")
        self.assertEqual(transport.sent[1], ("/api/worker/perfect_example/runs/481/slots/14", None))

    def test_a_refused_slot(self):
        from perfect_client.concurrency import SlotRefused

        api = WorkerApi(Canned(409, fixture("error.json")), "perfect_example")
        with self.assertRaises(SlotRefused):
            api.request_slot("481", "wkr_0001", "warehouse", 3, "load_table", 0)


class Canned:
    """A transport answering every request with one fixture."""

    def __init__(self, status, body):
        self.answer = Response(status, body)

    def post(self, path, body, timeout):
        return self.answer


class AnswerParsingTests(unittest.TestCase):
    def test_register_answer(self):
        answer = WorkerApi(Canned(200, fixture("register.response.json")), "perfect_example").register({})
        self.assertEqual(answer["workerId"], "wkr_0001")
        self.assertEqual(answer["heartbeatIntervalMs"], 5000)

    def test_poll_answer(self):
        runs = WorkerApi(Canned(200, fixture("poll.response.json")), "perfect_example").poll("wkr_0001", 2, 0)
        self.assertEqual(runs[0]["parameters"], {"day": "2026-11-24", "limit": 100, "region": "eu"})

    def test_heartbeat_answer(self):
        answer = WorkerApi(Canned(200, fixture("heartbeat.response.json")), "perfect_example").heartbeat("w", [])
        self.assertEqual(answer["cancelledRunIds"], ["run_0001"])

    def test_events_answer_and_conflict(self):
        api = WorkerApi(Canned(200, fixture("events.response.json")), "perfect_example")
        self.assertEqual(api.send_events("run_0001", "wkr_0001", [])["lastSeq"], 8)
        api = WorkerApi(Canned(409, fixture("error.json")), "perfect_example")
        with self.assertRaises(RunGone) as caught:
            api.send_events("run_0001", "wkr_0001", [])
        self.assertEqual(caught.exception.state, "FAILED")
        self.assertIn("already FAILED", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
