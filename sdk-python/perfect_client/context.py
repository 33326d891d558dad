"""What is executing right now, per thread: the current run and the current task call.

Context variables (rather than globals) are what keep concurrent runs apart: each run executes in
its own thread with its own context, so ``progress()``, ``get_logger()`` and ``print()`` always
find the run and task they belong to.
"""
import contextvars
import itertools
import math
import threading
from typing import Any, Optional

from .errors import RunCancelled, RunFinished, WorkerShutdown
from .events import EventChannel
from .wire_text import truncate_log_message

_current_run = contextvars.ContextVar("perfect_run", default=None)  # type: contextvars.ContextVar
_current_call = contextvars.ContextVar("perfect_task_call", default=None)  # type: contextvars.ContextVar


class TaskCall:
    """One invocation of a task inside a run: its 0-based ``index`` and ``name``."""

    __slots__ = ("index", "name", "line_buffer", "err_buffer")

    def __init__(self, index, name):
        # type: (int, str) -> None
        self.index = index
        self.name = name
        self.line_buffer = ""  # an unfinished print() line
        self.err_buffer = ""  # an unfinished line written to sys.stderr


class RunContext:
    """State of one run being executed by a worker: its event channel, call counter and the
    stop requests coming from other threads (cancel, finished by the server, worker shutdown)."""

    def __init__(self, run_id, flow_name, channel):
        # type: (str, str, EventChannel) -> None
        self.run_id = run_id
        self.flow_name = flow_name
        self.channel = channel
        self.line_buffer = ""  # an unfinished print() line outside any task
        self.err_buffer = ""  # the same for sys.stderr
        #: Supervisor side of ``isolation="process"``: the run's process and what it is doing.
        self.process = None  # type: Any
        self.current_task = None  # type: Any
        self.hard_stopped = False
        #: Where task calls with a ``concurrency_key`` get their slots (``concurrency.py``);
        #: None: no slots (a test's context).
        self.slots = None  # type: Any
        #: What artifacts and variables reach the server through: anything with ``api``
        #: (a ``WorkerApi``) and ``worker_id`` (the worker, a direct run's session, a run
        #: process's handle); None: no server (a test's context).
        self.server = None  # type: Any
        #: A direct run (``python etl.py``): print() and log records also reach the terminal.
        self.echo = False
        self._calls = itertools.count()
        self._calls_lock = threading.Lock()  # parallel tasks allocate calls from many threads
        #: Set when the flow passed its ``timeout``: the error every later task boundary raises.
        self.expired = None  # type: Optional[str]
        self._stop = None  # type: Optional[type]
        self._stop_lock = threading.Lock()
        # Set by any stop request so a sleeping retry delay wakes up at once.
        self.stop_requested = threading.Event()

    def next_call(self):
        # type: () -> int
        """Allocate the next task call index (0-based, one per invocation; thread-safe)."""
        with self._calls_lock:
            return next(self._calls)

    def expire(self, message):
        # type: (str) -> None
        """The flow passed its timeout: from now on every task boundary raises
        ``TimeoutError(message)`` (nothing new starts; retry delays wake up)."""
        self.expired = message
        self.stop_requested.set()

    def request_stop(self, kind):
        # type: (type) -> bool
        """Ask the run to stop at its next task boundary by raising ``kind``; True if this
        request changed anything.

        A shutdown outranks "finished by the server", which outranks a cancel.
        """
        rank = {RunCancelled: 1, RunFinished: 2, WorkerShutdown: 3}
        with self._stop_lock:
            changed = self._stop is None or rank[kind] > rank[self._stop]
            if changed:
                self._stop = kind
        self.stop_requested.set()
        return changed

    @property
    def stop_kind(self):
        # type: () -> Optional[type]
        """The pending stop request (an exception class), if any."""
        return self._stop

    def check_boundary(self):
        # type: () -> None
        """Raise the pending stop request, if any; called before each task starts."""
        kind = self._stop
        if kind is not None:
            raise kind("run %s stopped at a task boundary" % self.run_id)
        if self.expired is not None:
            raise TimeoutError(self.expired)

    def log(self, level, message, call=None):
        # type: (str, str, Optional[int]) -> None
        """Send a log line for this run, attributed to task call ``call`` when given."""
        # Cut to the server's byte limit here, with its own marker, so the count is right and
        # the server never truncates again; invalid text (lone surrogates) is made safe too.
        fields = {"level": level, "message": truncate_log_message(message)}
        if call is not None:
            fields["call"] = call
        self.channel.emit("log", fields)


#: Inside a run's own process every thread belongs to that run (threads a flow starts do not
#: inherit context variables, so this is their way to find it).
_process_run = None  # type: Optional[RunContext]


def set_process_run(run):
    # type: (Optional[RunContext]) -> None
    """Make ``run`` the run of every thread of this process (used by a run's own process)."""
    global _process_run
    _process_run = run


def _process_run_is(run):
    # type: (Any) -> bool
    """True if ``run`` is the run of this whole process (``isolation="process"``)."""
    return run is not None and _process_run is run


def current_run():
    # type: () -> Optional[RunContext]
    """The run executing in this thread, or None outside a served run."""
    run = _current_run.get()
    return run if run is not None else _process_run


def current_call():
    # type: () -> Optional[TaskCall]
    """The task call executing in this thread, or None outside a task."""
    return _current_call.get()


def progress(fraction):
    # type: (float) -> None
    """Report how much of the current task is done, from 0.0 to 1.0.

    Inside a served run this becomes a ``task_progress`` event (coalesced to about ten per second
    per task, the last value always sent). Outside a task, or outside ``serve``, it does nothing.
    Values are clamped to [0, 1]; non-numbers and NaN are ignored.
    """
    call = _current_call.get()
    if call is None:
        return
    run = current_run()
    if run is None:
        return
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        return
    if math.isnan(value):
        return
    run.channel.progress(call.index, min(1.0, max(0.0, value)))
