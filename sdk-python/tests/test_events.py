"""EventChannel: sequence numbers, batching, re-sending, dropping, progress coalescing."""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perfect_client import events  # noqa: E402
from perfect_client.events import EventChannel  # noqa: E402

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


class ChannelTests(unittest.TestCase):
    def test_seq_starts_at_one_and_ts_is_iso_utc(self):
        channel = EventChannel("run_1")
        for i in range(3):
            channel.emit("log", {"level": "INFO", "message": str(i)})
        batch = channel.take_batch(time.monotonic(), force=True)
        self.assertEqual([e["seq"] for e in batch], [1, 2, 3])
        self.assertTrue(all(ISO.match(e["ts"]) for e in batch))
        self.assertEqual(list(batch[0])[:3], ["seq", "type", "ts"])

    def test_waits_for_companions_then_flushes(self):
        channel = EventChannel("run_1")
        channel.emit("log", {"level": "INFO", "message": "x"})
        now = time.monotonic()
        self.assertIsNone(channel.take_batch(now))
        self.assertEqual(len(channel.take_batch(now + events.FLUSH_AFTER + 0.001)), 1)

    def test_full_batch_and_terminal_event_are_urgent(self):
        channel = EventChannel("run_1")
        for i in range(events.MAX_BATCH_EVENTS + 5):
            channel.emit("log", {"level": "INFO", "message": str(i)})
        now = time.monotonic()
        self.assertEqual(channel.due_at(), 0.0)
        first = channel.take_batch(now)
        self.assertEqual(len(first), events.MAX_BATCH_EVENTS)
        channel.ack()
        channel.emit("run_completed", terminal=True)
        second = channel.take_batch(now)
        self.assertEqual([e["seq"] for e in second], list(range(events.MAX_BATCH_EVENTS + 1, events.MAX_BATCH_EVENTS + 7)))
        self.assertFalse(channel.emit("log", {"level": "INFO", "message": "late"}))

    def test_a_hundred_waiting_events_are_urgent_and_a_batch_takes_up_to_the_maximum(self):
        channel = EventChannel("run_1")
        for i in range(events.SEND_AT_ONCE_EVENTS - 1):
            channel.emit("log", {"level": "INFO", "message": str(i)})
        self.assertNotEqual(channel.due_at(), 0.0)  # still waiting for companions
        channel.emit("log", {"level": "INFO", "message": "one more"})
        self.assertEqual(channel.due_at(), 0.0)
        for i in range(events.MAX_BATCH_EVENTS):
            channel.emit("log", {"level": "INFO", "message": str(i)})
        self.assertEqual(len(channel.take_batch(time.monotonic())), events.MAX_BATCH_EVENTS)

    def test_unacknowledged_batch_is_resent_identically(self):
        channel = EventChannel("run_1")
        for i in range(3):
            channel.emit("log", {"level": "INFO", "message": str(i)})
        first = channel.take_batch(time.monotonic(), force=True)
        channel.emit("log", {"level": "INFO", "message": "after"})
        again = channel.take_batch(time.monotonic(), force=True)
        self.assertIs(again, first)
        self.assertEqual([e["seq"] for e in again], [1, 2, 3])
        channel.ack()
        self.assertEqual([e["seq"] for e in channel.take_batch(time.monotonic(), force=True)], [4])

    def test_large_messages_split_batches(self):
        channel = EventChannel("run_1")
        for _ in range(5):
            channel.emit("log", {"level": "INFO", "message": "x" * 60000})
        sizes = []
        while channel.has_data():
            sizes.append(len(channel.take_batch(time.monotonic(), force=True)))
            channel.ack()
        self.assertEqual(sum(sizes), 5)
        self.assertGreater(len(sizes), 1)

    def test_drop_discards_everything(self):
        channel = EventChannel("run_1")
        channel.emit("log", {"level": "INFO", "message": "x"})
        channel.take_batch(time.monotonic(), force=True)
        channel.emit("log", {"level": "INFO", "message": "y"})
        self.assertEqual(channel.drop(), 2)
        self.assertTrue(channel.finished)
        self.assertFalse(channel.emit("run_completed", terminal=True))

    def test_progress_is_coalesced_and_last_value_kept(self):
        channel = EventChannel("run_1")
        for i in range(1, 51):
            channel.progress(0, i / 50)
        pending = channel.take_batch(time.monotonic(), force=True)
        self.assertEqual([e["progress"] for e in pending], [0.02])
        channel.ack()
        # The held value goes out once the interval has passed, even with no further call.
        later = time.monotonic() + events.PROGRESS_INTERVAL + 0.01
        self.assertLessEqual(channel.due_at(), later)
        batch = channel.take_batch(later, force=True)
        self.assertEqual([(e["type"], e["progress"]) for e in batch], [("task_progress", 1.0)])

    def test_end_task_sends_held_progress(self):
        channel = EventChannel("run_1")
        channel.progress(3, 0.1)
        channel.progress(3, 0.7)
        channel.end_task(3)
        channel.emit("task_completed", {"call": 3, "durationMs": 5})
        batch = channel.take_batch(time.monotonic(), force=True)
        self.assertEqual([(e["type"], e.get("progress")) for e in batch],
                         [("task_progress", 0.1), ("task_progress", 0.7), ("task_completed", None)])


if __name__ == "__main__":
    unittest.main()
