"""The background thread that delivers every run's events to the server.

One thread serves all runs so that a server outage is handled in one place: while the server is
unreachable nothing is sent, events keep accumulating in their channels, and delivery resumes
with the exact batches that failed (see ``events``) after an exponential backoff.
"""
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from .backoff import Backoff
from .errors import PerfectError, TokenRejected
from .events import EventChannel
from .protocol import RunGone, SeqGap, WorkerApi, is_transient


class EventSender:
    """Batches and sends run events; owns the ``EventChannel`` of every run.

    Callbacks (called from the sender thread): ``on_run_gone(run_id, RunGone)`` when the server
    refuses a run's events (409/404/403), ``on_cancel(run_id)`` when an answer says
    ``cancelRequested``, ``on_delivered(run_id, answer, batch)`` after each accepted batch,
    ``on_done(run_id)`` once a run's channel is closed and fully delivered (or dropped), and
    ``on_token(rejected, sent_at)`` when a 401 starts (True) or ends (False), with the
    monotonic time its request was sent. A rejected token is not
    fatal here: events stay buffered and are retried with backoff until the server takes them
    again (a token rotated in ``clients.json`` and restored, or a ``previousToken`` window).
    """

    def __init__(self, api, worker_id, on_run_gone=None, on_cancel=None, on_fatal=None,
                 backoff=None, out=None, on_delivered=None, on_done=None, on_token=None):
        # type: (WorkerApi, Callable[[], str], Any, Any, Any, Optional[Backoff], Any, Any, Any, Any) -> None
        self._api = api
        self._worker_id = worker_id
        self._on_run_gone = on_run_gone or (lambda run_id, err: None)
        self._on_cancel = on_cancel or (lambda run_id: None)
        self._on_fatal = on_fatal or (lambda err: None)
        self._on_delivered = on_delivered or (lambda run_id, answer, batch: None)
        self._on_done = on_done or (lambda run_id: None)
        self._on_token = on_token or (lambda rejected: None)
        self._token_rejected = False
        self._backoff = backoff or Backoff()
        self._out = out if out is not None else sys.stderr
        self._cond = threading.Condition()
        self._channels = {}  # type: Dict[str, EventChannel]
        self._retry_at = 0.0
        self._failing = False
        self._flushing = 0
        self._stopping = False
        self._thread = None  # type: Optional[threading.Thread]

    def open_channel(self, run_id):
        # type: (str) -> EventChannel
        """Create (or return) the channel of ``run_id``."""
        with self._cond:
            channel = self._channels.get(run_id)
            if channel is None:
                channel = self._channels[run_id] = EventChannel(run_id, wake=self.wake)
            return channel

    def channel(self, run_id):
        # type: (str) -> Optional[EventChannel]
        """The channel of ``run_id`` if it still has work, else None."""
        with self._cond:
            return self._channels.get(run_id)

    def open_run_ids(self):
        # type: () -> List[str]
        """Runs whose events are not all acknowledged yet: the worker still holds them."""
        with self._cond:
            return [r for r, c in self._channels.items() if not c.finished]

    def wake(self):
        # type: () -> None
        """Make the sender re-examine its channels now."""
        with self._cond:
            self._cond.notify_all()

    def start(self):
        # type: () -> None
        """Start the sender thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="perfect-events", daemon=True)
            self._thread.start()

    def stop(self, timeout=2.0):
        # type: (float) -> None
        """Stop the thread without waiting for pending events (call ``flush`` first)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def flush(self, timeout):
        # type: (float) -> bool
        """Send everything buffered now, waiting up to ``timeout`` seconds; True if all went out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._pending_channels():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._stopping or self._thread is None:
                        return False
                    self._cond.wait(min(remaining, 0.1))
                return True
            finally:
                self._flushing -= 1

    def pending_events(self):
        # type: () -> int
        """How many runs still have undelivered events."""
        with self._cond:
            return len(self._pending_channels())

    def _pending_channels(self):
        # type: () -> List[EventChannel]
        return [c for c in self._channels.values() if c.has_data()]

    def _loop(self):
        # type: () -> None
        while True:
            with self._cond:
                work = self._wait_for_work()
                if work is None:
                    return
            for channel in work:
                if not self._deliver(channel):
                    break  # the server is down: back off before trying any other run
            with self._cond:
                done = [r for r, c in self._channels.items() if c.finished]
                for run_id in done:
                    del self._channels[run_id]
                self._cond.notify_all()  # flush() waits on this condition
            for run_id in done:
                self._on_done(run_id)

    def _wait_for_work(self):
        # type: () -> Optional[List[EventChannel]]
        while not self._stopping:
            now = time.monotonic()
            if now < self._retry_at:
                self._cond.wait(self._retry_at - now)
                continue
            force = self._flushing > 0
            work, next_due = [], None  # type: List[EventChannel], Optional[float]
            for channel in self._channels.values():
                due = channel.due_at(force)
                if due is None:
                    continue
                if due <= now:
                    work.append(channel)
                elif next_due is None or due < next_due:
                    next_due = due
            if work:
                return work
            self._cond.wait(1.0 if next_due is None else max(0.0, next_due - now))
        return None

    def _deliver(self, channel):
        # type: (EventChannel) -> bool
        """Send one batch of ``channel``; False when the server is unreachable."""
        batch = channel.take_batch(time.monotonic(), force=self._flushing > 0)
        if not batch:
            return True
        sent_at = time.monotonic()
        try:
            answer = self._api.send_events(channel.run_id, self._worker_id(), batch)
        except SeqGap as gap:
            # An earlier batch never made it although it was acknowledged: start again from
            # the first event the server lacks (kept for exactly this), in order.
            if channel.rewind(gap.expected_seq):
                self._say("perfect: the server lacks events of run %s from seq %d; re-sending them"
                          % (channel.run_id, gap.expected_seq))
                return True
            lost = channel.drop()
            self._on_run_gone(channel.run_id, RunGone(channel.run_id, 409, {"error": {"message": str(gap)}}))
            self._say("perfect: cannot re-send events of run %s from seq %d (no longer held); dropped %d events"
                      % (channel.run_id, gap.expected_seq, lost))
            return True
        except RunGone as gone:
            lost = channel.drop()
            self._on_run_gone(channel.run_id, gone)
            if lost:
                self._say("perfect: dropped %d unsent events of run %s: %s" % (lost, channel.run_id, gone))
            return True
        except TokenRejected as rejected:
            return self._retry_later(rejected, token=True, sent_at=sent_at)
        except PerfectError as err:
            if is_transient(err):
                return self._retry_later(err)
            self._refused(channel, batch, str(err))
            return True
        except Exception as err:  # a bug: keep the run's events flowing and say so
            self._refused(channel, batch, "%s: %s" % (type(err).__name__, err))
            return True
        delivered = channel.ack()
        self._backoff.reset()
        if self._token_rejected:
            self._token_rejected = False
            self._on_token(False, sent_at)
        if self._failing:
            self._failing = False
            self._say("perfect: server reachable again, delivering buffered events")
        try:
            self._on_delivered(channel.run_id, answer, delivered)
        except Exception as err:  # pragma: no cover - a bug in a callback must not stop delivery
            self._say("perfect: error after delivering events of run %s: %r" % (channel.run_id, err))
        if answer.get("cancelRequested"):
            self._on_cancel(channel.run_id)
        return True

    def _retry_later(self, err, token=False, sent_at=None):
        # type: (BaseException, bool, Optional[float]) -> bool
        delay = self._backoff.next_delay()
        with self._cond:
            self._retry_at = time.monotonic() + delay
        if token:
            if not self._token_rejected:
                self._token_rejected = True
                self._on_token(True, sent_at)
        elif not self._failing:
            self._say("perfect: cannot deliver events (%s); buffering them and retrying" % err)
            self._failing = True
        return False

    def _refused(self, channel, batch, reason):
        # type: (EventChannel, List[Dict[str, Any]], str) -> None
        """The server will never accept this batch as it is (400, or it cannot be sent at all).

        Re-sending it unchanged would loop forever and skipping it would leave a hole in the
        run's ``seq``, so the batch is narrowed down to the one event refused, which is replaced
        by a WARNING log saying so: every other event of the run still lands.
        """
        if channel.split_inflight():
            return
        refused = channel.replace_inflight(reason)
        if refused is not None:
            self._say("perfect: server refused a %s event of run %s (%s); sending a warning in its place"
                      % (refused.get("type"), channel.run_id, reason))
            return
        channel.ack()  # even the placeholder was refused: give it up
        self._say("perfect: server refused %d events of run %s: %s" % (len(batch), channel.run_id, reason))

    def _say(self, line):
        # type: (str) -> None
        try:
            self._out.write(line + "\n")
            self._out.flush()
        except Exception:
            pass
