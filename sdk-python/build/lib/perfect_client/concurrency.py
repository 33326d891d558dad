"""Global concurrency limits: ``@task(concurrency_key="warehouse")``.

Inside a served run, each call of such a task holds one of the key's slots while it runs: it
asks the server for one before the call starts (``task_started`` is sent once the slot is held,
so the task run's time is its work, not its wait), keeps it through its retries and gives it
back when the call ends, after its ``task_completed``/``task_failed``. While the key is full the
call waits in the key's line (first come, first served), logging once that it waits; a cancel or
any other stop request ends the wait at once. Called outside ``serve`` a task takes no slot.

The server ties every slot to its run: when the run ends, however it ends (a worker killed with
``kill -9`` included, once the heartbeat timeout passes), its slots are freed. A lost release is
therefore never a leaked slot.

Who talks to the server: with ``isolation="thread"`` the run's thread, through the worker's
``WorkerApi``; in a run's own process (the default) the request goes over the process's pipe to
the supervisor (``PipeSlots``), which asks the server the same way (``ApiSlots``).
"""
import itertools
import re
import threading
import time
from typing import Any, Callable, Dict, Optional

from .errors import PerfectError, describe_exception

#: 1..200 characters of letters, digits and ``_ . : -`` (the server accepts the same).
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,200}\Z")
#: Longest wait of one slot request (ms); stop requests are also checked between requests.
SLOT_WAIT_MS = 2000


def check_key(key):
    # type: (Any) -> Optional[str]
    """``key`` if it is a valid concurrency key (or None); ValueError naming the rule otherwise."""
    if key is None:
        return None
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise ValueError("concurrency_key must be 1 to 200 characters of letters, digits and _ . : -, got %r" % (key,))
    return key


class SlotRefused(PerfectError):
    """The server will not give this run a slot (409: the run is no longer RUNNING here)."""


class ApiSlots:
    """Slots of one run asked of the server through a ``WorkerApi`` (the supervisor's side).

    ``acquire`` long-polls until the slot is HELD and returns its id, or returns None once the
    run's ``context`` has a stop request (or the server refused the run): the caller then stops
    at the task boundary. ``release`` is best effort; the server frees the run's slots at its end.
    """

    def __init__(self, api, worker_id, context, wait_ms=SLOT_WAIT_MS):
        # type: (Any, Callable[[], Optional[str]], Any, int) -> None
        self._api = api
        self._worker_id = worker_id
        self._context = context
        self._wait_ms = wait_ms

    def acquire(self, key, call, task, on_wait=None):
        # type: (str, int, str, Optional[Callable[[int], None]]) -> Optional[str]
        """Hold a slot of ``key`` for task call ``call``; its id, or None if the run stopped."""
        context = self._context
        delay = 0.25
        waited = False
        asked = False
        while context.stop_kind is None:
            try:
                # The first request answers at once (HELD, or WAITING with the place in line, which
                # is logged); the next ones long-poll.
                wait_ms = self._wait_ms if asked else 0
                answer = self._api.request_slot(context.run_id, self._worker_id() or "", key, call, task, wait_ms)
                asked = True
            except SlotRefused as err:
                context.log("WARNING", "task %s: no %r slot: %s" % (task, key, err), None)
                return None
            except PerfectError as err:
                # No answer, 5xx, or a worker the server forgot: ask again after a pause.
                if not waited:
                    context.log("WARNING", "task %s: asking for a %r slot failed (%s); retrying"
                                % (task, key, describe_exception(err)), None)
                    waited = True
                context.stop_requested.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            if answer.get("state") == "HELD":
                return str(answer.get("slotId"))
            if not waited and on_wait is not None:
                on_wait(int(answer.get("position") or 0))
            waited = True
        return None

    def release(self, slot_id):
        # type: (str) -> None
        """Give the slot back (errors are ignored: the run's end frees it on the server)."""
        try:
            self._api.release_slot(self._context.run_id, slot_id)
        except Exception:
            pass


class PipeSlots:
    """The run process's side: each acquire is a request over the pipe, answered by the
    supervisor (``serve_slot_request``); several task calls may wait at once."""

    def __init__(self, send):
        # type: (Callable[[Any], bool]) -> None
        self._send = send
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending = {}  # type: Dict[int, list]

    def acquire(self, key, call, task, on_wait=None):
        # type: (str, int, str, Optional[Callable[[int], None]]) -> Optional[str]
        """Ask the supervisor for a slot and wait for its answer (None: the run stopped)."""
        request_id = next(self._ids)
        box = [threading.Event(), None, on_wait]  # done, the slot id, who hears of a wait
        with self._lock:
            self._pending[request_id] = box
        try:
            if not self._send(("slot", request_id, key, call, task)):
                return None
            box[0].wait()
            return box[1]
        finally:
            with self._lock:
                self._pending.pop(request_id, None)

    def answered(self, request_id, kind, value):
        # type: (int, str, Any) -> None
        """A message of the supervisor about a request: ``wait`` (its place in line, once) or
        ``done`` (the slot id, or None when the run stopped). Called by the pipe's reader."""
        with self._lock:
            box = self._pending.get(request_id)
        if box is None:
            return
        if kind == "wait":
            on_wait, box[2] = box[2], None
            if on_wait is not None:
                on_wait(int(value or 0))
        else:
            box[1] = value
            box[0].set()

    def stop_all(self):
        # type: () -> None
        """The supervisor is gone: every wait ends without a slot."""
        with self._lock:
            boxes = list(self._pending.values())
        for box in boxes:
            box[0].set()

    def release(self, slot_id):
        # type: (str) -> None
        """Hand the release to the supervisor (which sends it to the server)."""
        self._send(("slot_release", slot_id))


def serve_slot_request(slots, send, request_id, key, call, task):
    # type: (ApiSlots, Callable[[Any], Any], int, str, int, str) -> None
    """Supervisor side of ``PipeSlots.acquire``: in a thread of its own, acquire and answer."""

    def work():
        slot_id = None
        try:
            slot_id = slots.acquire(key, call, task, on_wait=lambda position: send(("slot_answer", request_id, "wait", position)))
        finally:
            send(("slot_answer", request_id, "done", slot_id))

    threading.Thread(target=work, name="perfect-slot-%s" % key, daemon=True).start()


def serve_slot_release(slots, slot_id):
    # type: (ApiSlots, str) -> None
    """Supervisor side of ``PipeSlots.release``: the DELETE, off the relay thread."""
    threading.Thread(target=slots.release, args=(slot_id,), name="perfect-slot-release", daemon=True).start()


class Held:
    """A slot a task call holds: its id, its key and how long the call waited for it (s)."""

    __slots__ = ("slot_id", "key", "waited")

    def __init__(self, slot_id, key, waited):
        # type: (str, str, Optional[float]) -> None
        self.slot_id = slot_id
        self.key = key
        self.waited = waited


def acquire_slot(run, task, call):
    # type: (Any, Any, Any) -> Optional[Held]
    """Hold a slot of ``task.concurrency_key`` before task call ``call`` starts (None: the task
    has no key, or the run serves no slots). A stop request while waiting is raised here."""
    key = getattr(task, "concurrency_key", None)
    slots = getattr(run, "slots", None)
    if key is None or slots is None:
        return None
    started = time.monotonic()
    waited = []

    def on_wait(position):
        # type: (int) -> None
        waited.append(position)
        place = " (%s in line)" % _ordinal(position) if position > 0 else ""
        run.log("INFO", "task %s (call %d) waiting for a %r slot%s" % (task.name, call.index, key, place))

    slot_id = slots.acquire(key, call.index, task.name, on_wait)
    if slot_id is None:
        # The stop request that ended the wait may still be on its way (process isolation).
        run.stop_requested.wait(2.0)
        run.check_boundary()
        from .errors import RunFinished

        raise RunFinished("run %s: the server refused a %r slot" % (run.run_id, key))
    return Held(slot_id, key, time.monotonic() - started if waited else None)


def log_slot_wait(run, call, held):
    # type: (Any, Any, Optional[Held]) -> None
    """Once the task run exists (after ``task_started``): how long its call waited, if it did."""
    if held is not None and held.waited is not None:
        run.log("INFO", "waited %.1f s for a %r slot" % (held.waited, held.key), call.index)


def release_slot(run, held):
    # type: (Any, Optional[Held]) -> None
    """Give back the slot ``acquire_slot`` returned (nothing for None)."""
    if held is not None:
        run.slots.release(held.slot_id)


def _ordinal(n):
    # type: (int) -> str
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return "%d%s" % (n, suffix)
