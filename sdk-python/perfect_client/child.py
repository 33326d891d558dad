"""The inside of a run's own process (``isolation="process"``, the default of ``serve``).

The supervisor (``runner.Worker``) starts this process with ``multiprocessing``'s *spawn*
method — a fresh interpreter, so no lock held by one of the supervisor's threads at fork time
can deadlock it — usually ahead of time (a warm spare), and hands it one run over a pipe. The
process then belongs to that run alone:

* every event is written to the pipe at once (no buffering here), so everything the run logged
  before a crash — ``os._exit``, a segfault, an OOM kill — is already with the supervisor, which
  numbers, batches and delivers events exactly as for a thread;
* every thread of the process belongs to the run (``context.set_process_run``): tasks called
  from a user's ``ThreadPoolExecutor`` are tracked and their prints and logs land on them;
* ``print``, ``sys.stderr`` (at WARNING), the root logger (library loggers) and ``warnings``
  become the run's logs;
* a stop request (cancel, finished by the server, shutdown) arrives over the pipe and is
  honoured at the next task boundary; if the run does not get there in time the supervisor
  kills the process;
* ``faulthandler`` writes the Python stack of a fatal signal to a file the supervisor reads
  after the crash, so "killed by SIGSEGV" comes with the line that did it.
"""
import faulthandler
import importlib
import logging
import os
import signal
import sys
import threading
import warnings
from typing import Any, Dict, Optional

from . import context as _context
from .concurrency import PipeSlots
from .context import RunContext
from .errors import RunCancelled, RunFinished, WorkerShutdown
from .log_capture import RunLogHandler, StdoutRouter
from .protocol import iso_utc
from .run_execution import execute_flow
from .subflows import ProcessSubflowHost

_STOP_KINDS = {"cancel": RunCancelled, "finished": RunFinished, "shutdown": WorkerShutdown}

#: True inside a run's process: ``serve()`` called by a script's top level while the process
#: imports it (to find the flows) must do nothing.
IN_RUN_PROCESS = False


class PipeChannel:
    """The run process's side of an ``EventChannel``: each call is one message to the supervisor.

    Sends are serialised with a lock (a run's threads emit concurrently) and never buffered, so
    a message written is a message the supervisor gets, even if the process dies right after.
    """

    def __init__(self, conn):
        # type: (Any) -> None
        self._conn = conn
        self._lock = threading.Lock()
        self._progress_calls = set()  # type: set
        self.closed = False
        self.dropped = False

    def _send(self, message):
        # type: (Any) -> bool
        with self._lock:
            try:
                self._conn.send(message)
                return True
            except (OSError, ValueError, EOFError):
                return False  # the supervisor is gone; nothing left to report to

    def emit(self, event_type, fields=None, terminal=False, ts=None):
        # type: (str, Optional[Dict[str, Any]], bool, Optional[str]) -> bool
        """Forward an event (its time stamped now); False once the run's end was sent."""
        if self.closed or self.dropped:
            return False
        if terminal:
            self.closed = True
        return self._send(("emit", event_type, fields, ts or iso_utc(), terminal))

    def progress(self, call, fraction):
        # type: (int, float) -> None
        """Forward task progress (the supervisor coalesces it)."""
        if not (self.closed or self.dropped):
            self._progress_calls.add(call)
            self._send(("progress", call, fraction))

    def end_task(self, call):
        # type: (int) -> None
        """Let the supervisor send the task's held progress before its end."""
        if call in self._progress_calls:
            self._progress_calls.discard(call)
            self._send(("end_task", call))

    def drop(self):
        # type: () -> int
        """The server will not take this run's events any more."""
        self.dropped = True
        return 0


def _resolve_flow(ref):
    # type: (Any) -> Any
    module_name, qualname = ref
    if module_name == "__main__":
        module = sys.modules["__main__"]  # the script, imported again by spawn as __mp_main__
    else:
        module = importlib.import_module(module_name)
    target = module
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _limit_memory(megabytes):
    # type: (Optional[int]) -> None
    if not megabytes:
        return
    import resource  # Unix only; asking for a limit elsewhere fails loudly, as it should

    limit = int(megabytes) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


#: How long a run process whose supervisor is gone (``kill -9`` of the worker) may take to reach
#: a task boundary before it exits on its own: the server fails the run once the worker's
#: heartbeats stop, so nothing it does after that can count, and its code must not go on.
ORPHAN_GRACE_SECONDS = 10.0


def _listen_for_stops(conn, context, grace=ORPHAN_GRACE_SECONDS):
    # type: (Any, RunContext, float) -> None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            # The supervisor is gone: nobody can deliver this run's events any more.
            context.request_stop(WorkerShutdown)
            if context.slots is not None:
                context.slots.stop_all()
            # A task in one long call never reaches its boundary: end the process after the
            # grace period (a daemon timer: a run that stops in time exits before it fires).
            timer = threading.Timer(grace, os._exit, args=(75,))
            timer.daemon = True
            timer.start()
            return
        if isinstance(message, tuple) and message and message[0] == "slot_answer":
            if context.slots is not None:
                context.slots.answered(*message[1:])
            continue
        if isinstance(message, tuple) and message and message[0] == "stop":
            kind = _STOP_KINDS.get(message[1])
            if kind is None:
                continue
            if len(message) > 2 and message[2] != context.run_id:
                host = getattr(context, "subflow_host", None)
                if host is not None:
                    host.stop(message[2], kind)  # a stop of one of its subflows alone
            else:
                context.request_stop(kind)
        elif isinstance(message, tuple) and len(message) == 4 and message[0] == "subflow_reply":
            host = getattr(context, "subflow_host", None)
            if host is not None:
                host.answer(message[1], message[2], message[3])


def _capture_output(context):
    # type: (RunContext) -> None
    sys.stdout = StdoutRouter(sys.stdout)
    sys.stderr = StdoutRouter(sys.stderr, level="WARNING")
    root = logging.getLogger()
    root.addHandler(RunLogHandler())
    logging.captureWarnings(True)  # warnings → the "py.warnings" logger → the root handler
    warnings.simplefilter("default")


def child_main(conn, options):
    # type: (Any, Dict[str, Any]) -> None
    """Entry point of a run process: wait for a run, execute it, report, exit."""
    global IN_RUN_PROCESS
    IN_RUN_PROCESS = True
    # Ctrl-C in a terminal reaches the whole process group: the supervisor decides what
    # happens to its runs, a run must not die of it on its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        message = conn.recv()
    except (EOFError, OSError):
        os._exit(0)  # a spare the supervisor no longer needs
    if not (isinstance(message, tuple) and message and message[0] == "run"):
        os._exit(0)
    run = message[1]
    memory_mb = options.get("max_run_memory_mb")
    crash_file = None
    if run.get("crash_path"):
        try:
            crash_file = open(run["crash_path"], "w")
            faulthandler.enable(file=crash_file, all_threads=True)
        except OSError:
            crash_file = None
    channel = PipeChannel(conn)
    context = RunContext(run["run_id"], run["flow_name"], channel)  # type: ignore[arg-type]
    # Subflows ask the supervisor for their child runs over the same pipe.
    context.subflow_host = ProcessSubflowHost(channel)  # type: ignore[attr-defined]
    context.slots = PipeSlots(channel._send)  # the supervisor asks the server for slots
    from .artifacts import server_handle

    context.server = server_handle(run.get("server"))  # artifacts and variables: asked directly
    _context.set_process_run(context)
    _capture_output(context)
    grace = float(options.get("orphan_grace_seconds", ORPHAN_GRACE_SECONDS))
    threading.Thread(target=_listen_for_stops, args=(conn, context, grace), name="perfect-stops", daemon=True).start()
    try:
        flow = _resolve_flow(run["flow_ref"])
    except Exception as err:
        message_text = "flow %r cannot be loaded in its run process: %s: %s" % (run["flow_name"], type(err).__name__, err)
        context.log("ERROR", message_text)
        channel.emit("run_failed", {"error": message_text}, terminal=True)
        channel._send(("done", "FAILED"))
        os._exit(0)

    def describe_failure(exc):
        # type: (BaseException) -> Optional[str]
        if memory_mb and isinstance(exc, MemoryError):
            return "MemoryError: the run exceeded its memory limit (max_run_memory_mb=%s)" % memory_mb
        return None

    _limit_memory(memory_mb)
    outcome = execute_flow(context, flow, run.get("parameters") or {}, describe_failure=describe_failure)
    channel._send(("done", outcome))
    try:
        sys.stdout.flush()
    except Exception:
        pass
    # os._exit: threads the flow left running (non-daemon ones too) must not keep a finished
    # run's process alive, and there is nothing left to clean up that the OS does not.
    os._exit(0)
