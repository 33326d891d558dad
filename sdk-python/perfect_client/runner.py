"""``serve``: the worker process that registers flows, long-polls for runs and executes them.

Threads: the caller's thread registers and polls; one thread per run executes the flow; one
thread heartbeats (so a long task never looks like a dead worker); one thread sends events
(``sender``). Everything that crosses threads goes through ``Worker._lock`` or the run's own
``RunContext``/``EventChannel``.
"""
import atexit
import os
import signal
import socket
import sys
import threading
import time
from typing import Any, Dict, Iterable, List, Optional

from .backoff import Backoff
from .context import RunContext, _current_run
from .decorators import Flow
from .errors import (
    FatalWorkerError,
    PerfectError,
    RunCancelled,
    RunFinished,
    WorkerShutdown,
    describe_exception,
)
from .execution import format_traceback, mark_logged
from .log_capture import flush_line_buffer, install_stdout_router, uninstall_stdout_router
from .parameters import coerce_arguments
from .protocol import RunGone, UnknownWorker, WorkerApi, is_transient
from .sender import EventSender
from .transport import HttpTransport
from .version import __version__

DEFAULT_URL = "http://localhost:3000"
DEFAULT_CLIENT_ID = "perfect_example"
DEFAULT_TOKEN = "dev-token"
#: Error reported for runs still executing when the worker stops.
INTERRUPTED_ERROR = "worker interrupted"


class Worker:
    """A worker serving ``flows``; ``serve()`` runs it in the calling thread until it stops.

    Most code calls the ``serve`` function instead. Keyword arguments are those of ``serve``;
    ``transport`` replaces the HTTP transport (anything with ``post(path, body, timeout)``
    returning ``(status, json)``), ``out`` receives the worker's one-line status messages
    (default: stderr), ``retry_initial``/``retry_cap`` bound the backoff (seconds) between
    attempts to reach the server.
    """

    def __init__(self, flows, url=None, client_id=None, token=None, max_concurrent_runs=4,
                 exit_when_all_completed=False, transport=None, flush_timeout=10.0, out=None,
                 retry_initial=0.25, retry_cap=5.0):
        # type: (Iterable[Flow], Optional[str], Optional[str], Optional[str], int, bool, Any, float, Any, float, float) -> None
        self.flows = list(flows)
        if not self.flows:
            raise ValueError("serve() needs at least one @flow")
        for item in self.flows:
            if not isinstance(item, Flow):
                raise TypeError("serve() takes @flow-decorated functions, got %r" % (item,))
        names = [f.name for f in self.flows]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError("flow names must be unique, repeated: %s" % ", ".join(duplicates))
        if max_concurrent_runs < 1:
            raise ValueError("max_concurrent_runs must be >= 1")
        self.url = (url or os.environ.get("PERFECT_URL") or DEFAULT_URL).rstrip("/")
        self.client_id = client_id or os.environ.get("PERFECT_CLIENT_ID") or DEFAULT_CLIENT_ID
        token = token or os.environ.get("PERFECT_TOKEN") or DEFAULT_TOKEN
        self.max_concurrent_runs = max_concurrent_runs
        self.exit_when_all_completed = exit_when_all_completed
        self.flush_timeout = flush_timeout
        self._backoff = lambda: Backoff(initial=retry_initial, cap=retry_cap)
        self._out = out if out is not None else sys.stderr
        transport = transport or HttpTransport(self.url, token, user_agent="perfect-client/" + __version__)
        self.api = WorkerApi(transport, self.client_id)

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._active = {}  # type: Dict[str, RunContext]
        self._completed_flows = set()  # type: set
        #: Final local outcome per run id (COMPLETED, FAILED, CANCELLED, FINISHED_BY_SERVER).
        self.results = {}  # type: Dict[str, str]
        self._stop = threading.Event()
        self._heartbeat_stop = threading.Event()
        self._fatal = None  # type: Optional[FatalWorkerError]
        self._shut_down = False
        self.worker_id = None  # type: Optional[str]
        self._need_register = True
        self._heartbeat_interval = 5.0
        self._long_poll_ms = 25000
        self._flows_by_id = {}  # type: Dict[str, Flow]
        self._flows_by_name = {f.name: f for f in self.flows}
        self._sender = EventSender(
            self.api, lambda: self.worker_id or "", on_run_gone=self._run_gone,
            on_cancel=lambda run_id: self._request_stop(run_id, RunCancelled),
            on_fatal=self._set_fatal, backoff=self._backoff(), out=self._out,
        )
        self._heartbeat_thread = None  # type: Optional[threading.Thread]

    # -- public ------------------------------------------------------------------------------------

    def serve(self):
        # type: () -> None
        """Register, poll and execute runs until stopped; flush and clean up on every exit.

        Returns after Ctrl-C, SIGTERM, ``stop()``, or (with ``exit_when_all_completed``) once
        every flow completed a run. Raises ``FatalWorkerError`` (exit code 2) for a rejected
        token or registration.
        """
        graceful = False
        restore = self._install()
        try:
            if self._register():
                self._sender.start()
                self._heartbeat_thread = threading.Thread(
                    target=self._heartbeat_loop, name="perfect-heartbeat", daemon=True)
                self._heartbeat_thread.start()
                graceful = self._poll_loop()
        except KeyboardInterrupt:
            self._say("perfect: interrupted, stopping")
        except FatalWorkerError as err:
            self._set_fatal(err)
        finally:
            try:
                self._shutdown(graceful)
            finally:
                restore()
        if self._fatal is not None:
            self._say("perfect: " + str(self._fatal))
            raise self._fatal

    def stop(self):
        # type: () -> None
        """Ask ``serve()`` to return (thread-safe); runs still executing are reported FAILED."""
        with self._changed:
            self._stop.set()
            self._changed.notify_all()

    @property
    def active_run_ids(self):
        # type: () -> List[str]
        """Ids of the runs this worker holds: executing, or with events not yet acknowledged.

        The server gives back (or fails) a claimed run that two heartbeats in a row leave out,
        so a finished run stays listed until its last batch is acknowledged."""
        with self._lock:
            held = list(self._active)
        sender = getattr(self, "_sender", None)
        if sender is not None:
            held.extend(r for r in sender.open_run_ids() if r not in held)
        return held

    # -- registration and polling ------------------------------------------------------------------

    def _payload(self):
        # type: () -> Dict[str, Any]
        return {
            "worker": {"hostname": socket.gethostname(), "pid": os.getpid(), "sdkVersion": __version__},
            "flows": [f.definition() for f in self.flows],
        }

    def _register(self):
        # type: () -> bool
        if not self.url.startswith(("http://", "https://")):
            raise FatalWorkerError("PERFECT_URL must look like http://host:port, got %r" % self.url)
        backoff = self._backoff()
        while not self._stop.is_set():
            self._raise_fatal()
            try:
                answer = self.api.register(self._payload())
            except PerfectError as err:
                delay = backoff.next_delay()
                self._say("perfect: cannot register with the Perfect server at %s (%s); retrying in %.1fs"
                          % (self.url, err, delay))
                self._stop.wait(delay)
                continue
            self.worker_id = str(answer["workerId"])
            self._apply_intervals(answer)
            if isinstance(answer.get("longPollMs"), (int, float)) and answer["longPollMs"] >= 0:
                self._long_poll_ms = int(answer["longPollMs"])
            for entry in answer.get("flows") or []:
                if isinstance(entry, dict) and entry.get("name") in self._flows_by_name and entry.get("id"):
                    self._flows_by_id[str(entry["id"])] = self._flows_by_name[entry["name"]]
            self._need_register = False
            self._say("perfect: serving %d flow(s) for client %s at %s (worker %s)"
                      % (len(self.flows), self.client_id, self.url, self.worker_id))
            return True
        return False

    def _apply_intervals(self, answer):
        # type: (Dict[str, Any]) -> None
        interval = answer.get("heartbeatIntervalMs")
        if isinstance(interval, (int, float)) and interval > 0:
            self._heartbeat_interval = interval / 1000.0

    def _poll_loop(self):
        # type: () -> bool
        """Poll until stopped; True when it stopped because every flow completed a run."""
        backoff = self._backoff()
        while True:
            self._raise_fatal()
            if self._stop.is_set():
                return False
            if self.exit_when_all_completed and self._all_flows_completed():
                self._say("perfect: every flow completed a run, exiting")
                return True
            if self._need_register:
                if not self._register():
                    return False
                continue
            free = self._wait_for_free_slot()
            if free <= 0:
                continue
            # A short hold when exiting on completion, so the exit is noticed promptly.
            wait_ms = min(self._long_poll_ms, 1000) if self.exit_when_all_completed else self._long_poll_ms
            try:
                runs = self.api.poll(self.worker_id or "", min(free, 50), wait_ms)
            except UnknownWorker:
                self._say("perfect: the server does not know worker %s any more; registering again" % self.worker_id)
                self._need_register = True
                continue
            except PerfectError as err:
                delay = backoff.next_delay()
                self._say("perfect: cannot poll the Perfect server at %s (%s); retrying in %.1fs" % (self.url, err, delay))
                self._stop.wait(delay)
                continue
            backoff.reset()
            for run in runs:
                if isinstance(run, dict) and run.get("id"):
                    self._start_run(run)

    def _wait_for_free_slot(self):
        # type: () -> int
        with self._changed:
            while len(self._active) >= self.max_concurrent_runs and not self._stop.is_set() and self._fatal is None:
                self._changed.wait(1.0)
            return self.max_concurrent_runs - len(self._active)

    def _all_flows_completed(self):
        # type: () -> bool
        with self._lock:
            return all(f.name in self._completed_flows for f in self.flows)

    # -- runs --------------------------------------------------------------------------------------

    def _start_run(self, run):
        # type: (Dict[str, Any]) -> None
        run_id = str(run["id"])
        flow = self._flows_by_id.get(str(run.get("flowId"))) or self._flows_by_name.get(str(run.get("flowName")))
        name = flow.name if flow is not None else str(run.get("flowName") or "?")
        context = RunContext(run_id, name, self._sender.open_channel(run_id))
        with self._lock:
            if run_id in self._active:
                return
            self._active[run_id] = context
        parameters = run.get("parameters") if isinstance(run.get("parameters"), dict) else {}
        thread = threading.Thread(target=self._execute, args=(context, flow, parameters),
                                  name="perfect-run-" + run_id, daemon=True)
        thread.start()

    def _execute(self, context, flow, parameters):
        # type: (RunContext, Optional[Flow], Dict[str, Any]) -> None
        token = _current_run.set(context)
        channel = context.channel
        started = time.monotonic()
        outcome = "FAILED"
        self._say("perfect: run %s (%s) started" % (context.run_id, context.flow_name))
        try:
            if flow is None:
                # Another worker of this client registered it; this process cannot run it.
                message = "flow %r is not served by this worker" % context.flow_name
                context.log("ERROR", message)
                channel.emit("run_failed", {"error": message}, terminal=True)
                return
            kwargs = coerce_arguments(flow.func, parameters)
            ignored = sorted(set(parameters) - set(kwargs))
            if ignored:
                context.log("WARNING", "ignored parameters not in the signature of %s: %s"
                            % (flow.name, ", ".join(ignored)))
            flow.func(**kwargs)
        except RunCancelled:
            flush_line_buffer(context)
            if channel.emit("run_cancelled", terminal=True):
                outcome = "CANCELLED"
        except RunFinished:
            channel.drop()
            outcome = "FINISHED_BY_SERVER"
        except WorkerShutdown:
            pass  # the shutdown already reported the run FAILED
        except BaseException as exc:
            flush_line_buffer(context)
            if not getattr(exc, "__perfect_logged__", False):
                context.log("ERROR", "flow %s failed\n%s" % (context.flow_name, format_traceback(exc)))
                mark_logged(exc)
            channel.emit("run_failed", {"error": describe_exception(exc)}, terminal=True)
        else:
            flush_line_buffer(context)
            if channel.emit("run_completed", terminal=True):
                outcome = "COMPLETED"
            elif context.stop_kind is RunFinished:
                outcome = "FINISHED_BY_SERVER"
        finally:
            _current_run.reset(token)
            with self._changed:
                self._active.pop(context.run_id, None)
                self.results.setdefault(context.run_id, outcome)
                if outcome == "COMPLETED" and flow is not None:
                    self._completed_flows.add(flow.name)
                self._changed.notify_all()
            self._say("perfect: run %s (%s) %s in %.1fs"
                      % (context.run_id, context.flow_name, self.results[context.run_id], time.monotonic() - started))

    def _request_stop(self, run_id, kind):
        # type: (str, type) -> bool
        with self._lock:
            context = self._active.get(run_id)
        changed = context is not None and context.request_stop(kind)
        if kind is RunFinished:
            channel = self._sender.channel(run_id)
            if channel is not None:
                channel.drop()
        return changed

    def _server_finished(self, run_id, state=None):
        # type: (str, Optional[str]) -> None
        if self._request_stop(run_id, RunFinished):
            self._say("perfect: the server already finished run %s%s; stopping it"
                      % (run_id, " (%s)" % state if state else ""))

    def _run_gone(self, run_id, gone):
        # type: (str, RunGone) -> None
        self._server_finished(run_id, gone.state)

    # -- heartbeat ---------------------------------------------------------------------------------

    def _heartbeat_loop(self):
        # type: () -> None
        next_beat = time.monotonic() + self._heartbeat_interval
        while not self._heartbeat_stop.wait(max(0.0, next_beat - time.monotonic())):
            # Scheduled from the previous beat, not from the answer, so a slow answer cannot
            # stretch the interval past what the server expects.
            next_beat += self._heartbeat_interval
            if next_beat < time.monotonic():
                next_beat = time.monotonic() + self._heartbeat_interval
            if self._need_register or not self.worker_id:
                continue
            try:
                answer = self.api.heartbeat(self.worker_id, self.active_run_ids)
            except UnknownWorker:
                self._need_register = True
                continue
            except FatalWorkerError as err:
                self._set_fatal(err)
                return
            except Exception as err:
                if not (isinstance(err, PerfectError) and is_transient(err)):
                    self._say("perfect: heartbeat failed: %s" % err)
                continue  # the poll loop reports outages; the next beat retries
            self._apply_intervals(answer)
            for run_id in answer.get("cancelledRunIds") or []:
                self._request_stop(str(run_id), RunCancelled)
            for run_id in answer.get("finishedRunIds") or []:
                self._server_finished(str(run_id))

    # -- lifecycle ---------------------------------------------------------------------------------

    def _set_fatal(self, err):
        # type: (FatalWorkerError) -> None
        with self._changed:
            if self._fatal is None:
                self._fatal = err
            self._stop.set()
            self._changed.notify_all()

    def _raise_fatal(self):
        # type: () -> None
        if self._fatal is not None:
            raise self._fatal

    def _install(self):
        # type: () -> Any
        """Capture print(), hook SIGTERM and atexit; return the function that undoes it."""
        install_stdout_router()
        previous = None
        if threading.current_thread() is threading.main_thread():
            try:
                if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                    previous = signal.signal(signal.SIGTERM, _terminate)
            except (ValueError, OSError, AttributeError):
                previous = None
        hook = lambda: self._shutdown(False)  # noqa: E731 - interpreter exit without serve() returning
        atexit.register(hook)

        def restore():
            atexit.unregister(hook)
            if previous is not None:
                try:
                    signal.signal(signal.SIGTERM, previous)
                except (ValueError, OSError):
                    pass
            uninstall_stdout_router()

        return restore

    def _shutdown(self, graceful):
        # type: (bool) -> None
        with self._changed:
            if self._shut_down:
                return
            self._shut_down = True
            self._stop.set()
            self._changed.notify_all()
        try:
            if graceful:
                with self._changed:
                    while self._active:
                        self._changed.wait(0.5)
        except KeyboardInterrupt:
            pass
        with self._lock:
            remaining = list(self._active.values())
        failed = 0
        for context in remaining:
            context.request_stop(WorkerShutdown)
            if context.channel.emit("run_failed", {"error": INTERRUPTED_ERROR}, terminal=True):
                failed += 1
                with self._lock:
                    self.results[context.run_id] = "FAILED"
        if failed:
            self._say("perfect: reported %d running run(s) FAILED (%s)" % (failed, INTERRUPTED_ERROR))
        self._heartbeat_stop.set()
        delivered = True
        try:
            if self._sender.pending_events():
                delivered = self._sender.flush(self.flush_timeout)
        except KeyboardInterrupt:
            delivered = False
        if not delivered:
            self._say("perfect: could not deliver the events of %d run(s) before exiting"
                      % self._sender.pending_events())
        self._sender.stop()

    def _say(self, line):
        # type: (str) -> None
        try:
            self._out.write(line + "\n")
            self._out.flush()
        except Exception:
            pass


def _terminate(signum, frame):
    # SIGTERM (docker stop, systemd) gets the same clean stop as Ctrl-C.
    raise KeyboardInterrupt


def serve(*flows, url=None, client_id=None, token=None, max_concurrent_runs=4,
          exit_when_all_completed=False, transport=None, flush_timeout=10.0, out=None,
          retry_initial=0.25, retry_cap=5.0):
    # type: (Any, Optional[str], Optional[str], Optional[str], int, bool, Any, float, Any, float, float) -> None
    """Serve ``flows`` to a Perfect server until stopped.

    Registers the flows (with their tasks and parameters), long-polls for triggered runs and
    executes up to ``max_concurrent_runs`` at once, each in its own thread, streaming events
    (task progress, logs, print output, results) in batches. ``url``, ``client_id`` and ``token``
    default to ``PERFECT_URL`` (``http://localhost:3000``), ``PERFECT_CLIENT_ID``
    (``perfect_example``) and ``PERFECT_TOKEN`` (``dev-token``).

    While the server is unreachable it retries with backoff and keeps every event. Ctrl-C (or
    SIGTERM) reports runs still executing as FAILED (``worker interrupted``), flushes buffered
    events for up to ``flush_timeout`` seconds and returns. ``exit_when_all_completed=True``
    returns once every flow has completed one run. A rejected token raises ``TokenRejected``,
    which exits the process with status 2. ``transport``, ``out``, ``retry_initial`` and
    ``retry_cap`` are for tests and embedding (see ``Worker``).
    """
    if len(flows) == 1 and isinstance(flows[0], (list, tuple)):
        flows = tuple(flows[0])
    Worker(flows, url=url, client_id=client_id, token=token, max_concurrent_runs=max_concurrent_runs,
           exit_when_all_completed=exit_when_all_completed, transport=transport,
           flush_timeout=flush_timeout, out=out, retry_initial=retry_initial, retry_cap=retry_cap).serve()
