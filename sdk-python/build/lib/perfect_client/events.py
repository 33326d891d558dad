"""Per-run event buffer: sequence numbers, timestamps, batching and progress coalescing.

One ``EventChannel`` exists per run. The run's thread appends events; the sender thread takes
batches out. A batch that failed to send stays "in flight" and is re-sent unchanged (same events,
same ``seq``), because the server dedupes by ``seq``: that is what makes retries lossless and
duplicate-free. Batches of one run are strictly sequential for the same reason: the server skips
anything at or below the highest ``seq`` it applied.
"""
import collections
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from .protocol import iso_utc

#: Flush a run's buffer at once (without waiting ``FLUSH_AFTER``) once this many events wait.
SEND_AT_ONCE_EVENTS = 100
#: Most events in one batch (the server takes 5,000). Events that piled up while a batch was in
#: flight (a map of 1,000 parallel tasks makes 2,000 in a blink) go in the next one together:
#: batches of one run are sequential, so their count, not their size, bounds delivery.
MAX_BATCH_EVENTS = 1000
#: Rough cap (characters of text) per batch, far below the server's 1 MiB body limit even for
#: 4-byte UTF-8 characters.
MAX_BATCH_CHARS = 200000
#: Events wait at most this long (seconds) for companions before being sent.
FLUSH_AFTER = 0.05
#: At most one ``task_progress`` per task call per this many seconds; the latest value wins.
PROGRESS_INTERVAL = 0.1

#: Acknowledged events kept for a ``seq_gap`` answer (the server lost a batch it had
#: acknowledged, e.g. restored from a backup): re-sending from its expected ``seq`` needs them.
RETAIN_ACKED = 1000

_BASE_EVENT_CHARS = 120


def _size(event):
    # type: (Dict[str, Any]) -> int
    text = event.get("message") or event.get("error")
    return _BASE_EVENT_CHARS + (len(text) if isinstance(text, str) else 0)


class EventChannel:
    """Ordered, batched events of one run (thread-safe).

    ``emit`` is called from the run's thread (and from the worker when it fails a run on
    shutdown); ``take_batch``/``ack``/``drop`` from the sender thread. ``wake`` is called, outside
    the channel's lock, whenever the sender should look at this channel sooner than it planned.
    """

    def __init__(self, run_id, wake=None):
        # type: (str, Optional[Callable[[], None]]) -> None
        self.run_id = run_id
        self._wake = wake or (lambda: None)
        self._lock = threading.Lock()
        self._seq = 0
        self._pending = []  # type: List[Dict[str, Any]]
        self._sizes = []  # type: List[int]
        self._oldest = 0.0
        self._inflight = None  # type: Optional[List[Dict[str, Any]]]
        self._acked = collections.deque(maxlen=RETAIN_ACKED)  # type: Any
        self._placeholders = set()  # type: set
        self._held_progress = {}  # type: Dict[int, float]
        self._progress_sent_at = {}  # type: Dict[int, float]
        self.closed = False
        self.dropped = False

    # -- producer side -------------------------------------------------------------------------

    def emit(self, event_type, fields=None, terminal=False, ts=None):
        # type: (str, Optional[Dict[str, Any]], bool, Optional[str]) -> bool
        """Append an event; ``terminal`` (run_completed/failed/cancelled) closes the channel.

        ``ts`` is the event's time when it happened elsewhere (a run's own process), else now.
        Returns False when the channel no longer accepts events (run already ended or dropped),
        so the first terminal event wins a race between the run's thread and a shutdown.
        """
        with self._lock:
            if self.closed or self.dropped:
                return False
            was_empty = not self._pending
            self._append(event_type, fields, ts)
            if terminal:
                self.closed = True
                self._held_progress.clear()
            notify = terminal or was_empty or len(self._pending) >= SEND_AT_ONCE_EVENTS
        if notify:
            self._wake()
        return True

    def progress(self, call, fraction):
        # type: (int, float) -> None
        """Record task progress, sending at most one event per call per ``PROGRESS_INTERVAL``."""
        with self._lock:
            if self.closed or self.dropped:
                return
            now = time.monotonic()
            last = self._progress_sent_at.get(call)
            if last is None or now - last >= PROGRESS_INTERVAL:
                self._held_progress.pop(call, None)
                self._progress_sent_at[call] = now
                was_empty = not self._pending
                self._append("task_progress", {"call": call, "progress": fraction})
                notify = was_empty
            else:
                # The sender materialises the held value when the interval has passed, so the
                # last value always goes out even if the task never reports again.
                notify = call not in self._held_progress
                self._held_progress[call] = fraction
        if notify:
            self._wake()

    def end_task(self, call):
        # type: (int) -> None
        """Send any held progress of a task call and forget its throttle state (call before the
        task's terminal event)."""
        with self._lock:
            if call in self._held_progress and not (self.closed or self.dropped):
                self._append("task_progress", {"call": call, "progress": self._held_progress.pop(call)})
            self._progress_sent_at.pop(call, None)

    def _append(self, event_type, fields, ts=None):
        # type: (str, Optional[Dict[str, Any]], Optional[str]) -> None
        self._seq += 1
        event = {"seq": self._seq, "type": event_type, "ts": ts or iso_utc()}
        if fields:
            event.update(fields)
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append(event)
        self._sizes.append(_size(event))

    # -- sender side ---------------------------------------------------------------------------

    def due_at(self, force=False):
        # type: (bool) -> Optional[float]
        """Monotonic time at which the sender should serve this channel, or None if idle."""
        with self._lock:
            if self._inflight is not None:
                return 0.0
            due = None  # type: Optional[float]
            if self._pending:
                urgent = force or self.closed or len(self._pending) >= SEND_AT_ONCE_EVENTS
                due = 0.0 if urgent else self._oldest + FLUSH_AFTER
            for call in self._held_progress:
                at = self._progress_sent_at.get(call, 0.0) + PROGRESS_INTERVAL
                due = at if due is None else min(due, at)
            return due

    def take_batch(self, now, force=False):
        # type: (float, bool) -> Optional[List[Dict[str, Any]]]
        """Return the batch to send now (the unacknowledged one first), or None."""
        with self._lock:
            if self.dropped:
                return None
            if self._inflight is not None:
                return self._inflight
            self._release_held_progress(now)
            if not self._pending:
                return None
            urgent = force or self.closed or len(self._pending) >= SEND_AT_ONCE_EVENTS
            if not urgent and now < self._oldest + FLUSH_AFTER:
                return None
            count, chars = 0, 0
            for size in self._sizes:
                if count >= MAX_BATCH_EVENTS or (count and chars + size > MAX_BATCH_CHARS):
                    break
                count += 1
                chars += size
            self._inflight = self._pending[:count]
            del self._pending[:count]
            del self._sizes[:count]
            return self._inflight

    def _release_held_progress(self, now):
        # type: (float) -> None
        for call in [c for c in self._held_progress if self._progress_sent_at.get(c, 0.0) + PROGRESS_INTERVAL <= now]:
            self._progress_sent_at[call] = now
            self._append("task_progress", {"call": call, "progress": self._held_progress.pop(call)})

    def ack(self):
        # type: () -> List[Dict[str, Any]]
        """The in-flight batch was accepted: forget it (keeping the last ``RETAIN_ACKED`` events
        for a ``rewind``); return it."""
        with self._lock:
            batch = self._inflight or []
            self._acked.extend(batch)
            self._inflight = None
            return batch

    def rewind(self, expected_seq):
        # type: (int) -> bool
        """The server answered ``seq_gap``: it has everything below ``expected_seq`` and nothing
        from there. Queue every event from ``expected_seq`` on again, in order; False when some of
        them are no longer held (nothing changes then)."""
        with self._lock:
            held = list(self._acked) + list(self._inflight or ()) + self._pending
            keep = [e for e in held if e["seq"] >= expected_seq]
            if not keep or keep[0]["seq"] != expected_seq:
                return False
            self._acked = collections.deque((e for e in self._acked if e["seq"] < expected_seq),
                                            maxlen=RETAIN_ACKED)
            self._inflight = None
            self._pending = keep
            self._sizes = [_size(e) for e in keep]
            self._oldest = 0.0
            return True

    def split_inflight(self):
        # type: () -> bool
        """Shrink the in-flight batch to its first event (the rest go back to the front of the
        queue), to find which event the server refuses; False when it holds one event only."""
        with self._lock:
            if not self._inflight or len(self._inflight) < 2:
                return False
            rest = self._inflight[1:]
            self._inflight = self._inflight[:1]
            self._pending[:0] = rest
            self._sizes[:0] = [_size(e) for e in rest]
            return True

    def replace_inflight(self, reason):
        # type: (str) -> Optional[Dict[str, Any]]
        """Replace the single in-flight event the server refuses by a WARNING log with the same
        ``seq`` and ``ts``, so the run's sequence stays whole and every later event still
        lands; return the refused event (None when there is nothing to replace)."""
        with self._lock:
            if not self._inflight or len(self._inflight) != 1 or self._inflight[0]["seq"] in self._placeholders:
                return None
            refused = self._inflight[0]
            placeholder = {"seq": refused["seq"], "type": "log", "ts": refused.get("ts") or iso_utc(),
                           "level": "WARNING",
                           "message": "[perfect] a %s event was refused by the server: %s"
                                      % (refused.get("type"), reason[:1000])}
            if "call" in refused and isinstance(refused["call"], int):
                placeholder["call"] = refused["call"]
            self._inflight = [placeholder]
            self._placeholders.add(refused["seq"])
            return refused

    def drop(self):
        # type: () -> int
        """The server will not take this run's events: discard everything; return how many."""
        with self._lock:
            lost = len(self._pending) + len(self._inflight or ()) + len(self._held_progress)
            self.dropped = True
            self.closed = True
            self._pending, self._sizes, self._inflight = [], [], None
            self._held_progress.clear()
            return lost

    def has_data(self):
        # type: () -> bool
        """True while anything is waiting to be sent."""
        with self._lock:
            return bool(self._pending or self._inflight is not None or self._held_progress)

    @property
    def finished(self):
        # type: () -> bool
        """Closed and fully delivered (or dropped): the sender can forget this channel."""
        with self._lock:
            return self.closed and not (self._pending or self._inflight is not None or self._held_progress)

