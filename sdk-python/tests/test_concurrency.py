"""``@task(concurrency_key=...)``: the key's validation, a call holding its slot around its
events (acquired before ``task_started``, kept through retries, released after the call's end),
the wait logged, stop requests ending a wait, and the pipe round trip of a run's own process
(``PipeSlots`` ↔ ``serve_slot_request``) without a process. Real-server behaviour (two workers,
a limit never exceeded, kill -9) is in lib/__tests__/reliability/concurrency.test.ts."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from perfect_client import task  # noqa: E402
from perfect_client.concurrency import ApiSlots, PipeSlots, SlotRefused, check_key, serve_slot_request  # noqa: E402
from perfect_client.context import RunContext, _current_run  # noqa: E402
from perfect_client.errors import RunCancelled, RunFinished  # noqa: E402


class RecordingChannel:
    """Collects what a run emits, in order."""

    def __init__(self):
        self.events = []
        self._lock = threading.Lock()

    def emit(self, event_type, fields=None, terminal=False, ts=None):
        with self._lock:
            self.events.append((event_type, dict(fields or {})))
        return True

    def progress(self, call, fraction):
        pass

    def end_task(self, call):
        pass


class FakeSlots:
    """A run's slots as the hook sees them; `log` records acquire/release among the events."""

    def __init__(self, channel, wait_position=0):
        self.channel = channel
        self.wait_position = wait_position
        self.released = []

    def acquire(self, key, call, task_name, on_wait=None):
        if self.wait_position and on_wait is not None:
            on_wait(self.wait_position)
        self.channel.events.append(("slot_acquired", {"key": key, "call": call, "task": task_name}))
        return "slot-%d" % call

    def release(self, slot_id):
        self.released.append(slot_id)
        self.channel.events.append(("slot_released", {"slotId": slot_id}))


class StubApi:
    """WorkerApi.request_slot / release_slot answering from a script."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        self.released = []

    def request_slot(self, run_id, worker_id, key, call, task_name, wait_ms):
        self.requests.append((run_id, worker_id, key, call, task_name, wait_ms))
        answer = self.answers.pop(0) if self.answers else {"slotId": "9", "state": "WAITING", "position": 1}
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer()
        return answer

    def release_slot(self, run_id, slot_id):
        self.released.append((run_id, slot_id))


def in_run(context, fn):
    token = _current_run.set(context)
    try:
        return fn()
    finally:
        _current_run.reset(token)


class KeyTests(unittest.TestCase):
    def test_valid_keys_and_the_rule(self):
        self.assertIsNone(check_key(None))
        for key in ("warehouse", "a.b:c-d_e", "k" * 200, "0"):
            self.assertEqual(task(concurrency_key=key)(lambda: 1).concurrency_key, key)
        for bad in ("", "with space", "k" * 201, "ü", "a/b", "new\nline", 3, b"bytes"):
            with self.assertRaises(ValueError):
                task(concurrency_key=bad)(lambda: 1)

    def test_outside_serve_a_task_takes_no_slot(self):
        @task(concurrency_key="warehouse")
        def add(x):
            return x + 1

        self.assertEqual(add(1), 2)


class HoldingTests(unittest.TestCase):
    def test_slot_held_around_the_call_and_kept_through_retries(self):
        channel = RecordingChannel()
        context = RunContext("7", "flow", channel)
        context.slots = FakeSlots(channel)
        attempts = []

        @task(concurrency_key="warehouse", retries=2)
        def flaky():
            attempts.append(1)
            if len(attempts) < 3:
                raise RuntimeError("not yet")
            return "ok"

        self.assertEqual(in_run(context, flaky), "ok")
        kinds = [e[0] for e in channel.events if e[0] != "log"]
        self.assertEqual(kinds, ["slot_acquired", "task_started", "task_retrying", "task_retrying", "task_completed", "slot_released"])
        self.assertEqual(context.slots.released, ["slot-0"])

    def test_an_async_task_holds_its_slot_around_its_events_too(self):
        import asyncio

        channel = RecordingChannel()
        context = RunContext("7", "flow", channel)
        context.slots = FakeSlots(channel)

        @task(concurrency_key="warehouse")
        async def load(x):
            await asyncio.sleep(0)
            return x * 2

        async def body():
            return await asyncio.gather(load(1), load(2))

        self.assertEqual(in_run(context, lambda: asyncio.run(body())), [2, 4])
        kinds = [e[0] for e in channel.events if e[0] != "log"]
        # Each call: its slot first, then its task run's events, then the slot back.
        for call in (0, 1):
            mine = [k for k, f in channel.events if f.get("call") == call or f.get("slotId") == "slot-%d" % call]
            self.assertEqual(mine, ["slot_acquired", "task_started", "task_completed", "slot_released"])
        self.assertEqual(sorted(context.slots.released), ["slot-0", "slot-1"])
        self.assertEqual(kinds.count("slot_acquired"), 2)

    def test_released_after_a_failure_too_and_a_task_without_key_takes_none(self):
        channel = RecordingChannel()
        context = RunContext("7", "flow", channel)
        context.slots = FakeSlots(channel)

        @task(concurrency_key="k")
        def broken():
            raise ValueError("boom")

        @task
        def plain():
            return 1

        with self.assertRaises(ValueError):
            in_run(context, broken)
        in_run(context, plain)
        kinds = [e[0] for e in channel.events if e[0] != "log"]
        self.assertEqual(kinds, ["slot_acquired", "task_started", "task_failed", "slot_released", "task_started", "task_completed"])

    def test_a_wait_is_logged_once_on_the_run_and_once_on_the_task_run(self):
        channel = RecordingChannel()
        context = RunContext("7", "flow", channel)
        context.slots = FakeSlots(channel, wait_position=2)

        @task(concurrency_key="warehouse")
        def load():
            return 1

        in_run(context, load)
        logs = [(e[1].get("call"), e[1]["message"]) for e in channel.events if e[0] == "log"]
        self.assertEqual(len(logs), 2)
        self.assertEqual(logs[0], (None, "task load (call 0) waiting for a 'warehouse' slot (2nd in line)"))
        self.assertEqual(logs[1][0], 0)
        self.assertRegex(logs[1][1], r"^waited [\d.]+ s for a 'warehouse' slot$")
        kinds = [e[0] for e in channel.events]
        self.assertLess(kinds.index("task_started"), [i for i, e in enumerate(channel.events) if e[0] == "log"][1])


class ApiSlotsTests(unittest.TestCase):
    def test_long_polls_until_held_telling_the_wait_once(self):
        context = RunContext("5", "flow", RecordingChannel())
        api = StubApi([{"slotId": "3", "state": "WAITING", "position": 2}, {"slotId": "3", "state": "WAITING", "position": 1},
                       {"slotId": "3", "state": "HELD"}])
        heard = []
        slots = ApiSlots(api, lambda: "wkr_1", context, wait_ms=1000)
        self.assertEqual(slots.acquire("k", 4, "load", heard.append), "3")
        self.assertEqual(heard, [2])
        self.assertEqual(api.requests, [("5", "wkr_1", "k", 4, "load", 0)] + [("5", "wkr_1", "k", 4, "load", 1000)] * 2)
        slots.release("3")
        self.assertEqual(api.released, [("5", "3")])

    def test_a_stop_request_ends_the_wait_and_is_raised_at_the_boundary(self):
        channel = RecordingChannel()
        context = RunContext("5", "flow", channel)

        def waiting_then_cancelled():
            context.request_stop(RunCancelled)
            return {"slotId": "3", "state": "WAITING", "position": 1}

        context.slots = ApiSlots(StubApi([waiting_then_cancelled]), lambda: "wkr_1", context)

        @task(concurrency_key="k")
        def load():
            return 1

        with self.assertRaises(RunCancelled):
            in_run(context, load)
        self.assertNotIn("task_started", [e[0] for e in channel.events])

    def test_a_refused_run_stops_as_finished_by_the_server(self):
        channel = RecordingChannel()
        context = RunContext("5", "flow", channel)
        context.slots = ApiSlots(StubApi([SlotRefused("HTTP 409: run 5 is FAILED")]), lambda: "wkr_1", context)
        context.stop_requested.set()  # nothing else will arrive: do not wait for it

        @task(concurrency_key="k")
        def load():
            return 1

        with self.assertRaises(RunFinished):
            in_run(context, load)


class PipeTests(unittest.TestCase):
    def test_round_trip_through_the_supervisor(self):
        supervisor = RunContext("8", "flow", RecordingChannel())
        release = threading.Event()

        def held_after_release():
            release.wait(5)
            return {"slotId": "11", "state": "HELD"}

        api = StubApi([{"slotId": "11", "state": "WAITING", "position": 1}, held_after_release])
        supervisor.slots = ApiSlots(api, lambda: "wkr_1", supervisor)
        child = {}  # the pipe: supervisor → child answers, child → supervisor requests

        def to_child(message):
            assert message[0] == "slot_answer"
            child["slots"].answered(*message[1:])
            return True

        def to_supervisor(message):
            if message[0] == "slot":
                serve_slot_request(supervisor.slots, to_child, *message[1:])
            else:
                supervisor.slots.release(message[1])
            return True

        child["slots"] = PipeSlots(to_supervisor)
        heard = []
        got = []
        thread = threading.Thread(target=lambda: got.append(child["slots"].acquire("k", 0, "load", heard.append)))
        thread.start()
        deadline = time.monotonic() + 5
        while not heard and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(heard, [1])
        self.assertEqual(got, [])
        release.set()
        thread.join(5)
        self.assertEqual(got, ["11"])
        child["slots"].release("11")
        self.assertEqual(api.released, [("8", "11")])

    def test_a_gone_supervisor_ends_every_wait(self):
        slots = PipeSlots(lambda message: True)
        got = []
        thread = threading.Thread(target=lambda: got.append(slots.acquire("k", 0, "load")))
        thread.start()
        time.sleep(0.05)
        slots.stop_all()
        thread.join(5)
        self.assertEqual(got, [None])


if __name__ == "__main__":
    unittest.main()
