"""``serve``: the worker process that registers flows, long-polls for runs and supervises them.

With ``isolation="process"`` (the default) each run executes in a process of its own
(``process_runtime``, ``child``): the worker itself only registers, polls, heartbeats, delivers
events and watches its run processes, so nothing a run's code does — a C call holding the GIL
for minutes, ``os._exit``, a segfault, an OOM kill — can delay a heartbeat or touch another run.
``isolation="thread"`` runs each flow in a thread of the worker (flows defined inside a function
always do: a fresh process cannot import them).

Threads: the caller's thread registers and polls; one thread per run executes the flow (thread
isolation) or watches its process; one thread heartbeats; one thread sends events (``sender``).
Everything that crosses threads goes through ``Worker._lock`` or the run's own
``RunContext``/``EventChannel``.
"""
import atexit
import collections
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from typing import Any, Dict, Iterable, List, Optional

from .backoff import Backoff
from .concurrency import ApiSlots, serve_slot_release, serve_slot_request
from .context import RunContext, _current_run
from .decorators import Flow
from .errors import (
    FatalWorkerError,
    PerfectError,
    RunCancelled,
    RunFinished,
    RunsFailed,
    TokenRejected,
    WorkerShutdown,
)
from .log_capture import install_stdout_router, uninstall_stdout_router
from .protocol import RunGone, UnknownWorker, WorkerApi, is_transient
from . import child as _child
from .fork_server import ForkServer
from .process_runtime import ProcessPool, describe_exit
from .run_execution import execute_flow
from .sender import EventSender
from .subflows import SubflowContext, SubflowError
from .transport import FailoverTransport, HttpTransport, split_urls
from .version import __version__

DEFAULT_URL = "http://localhost:3000"
DEFAULT_CLIENT_ID = "perfect_example"
DEFAULT_TOKEN = "dev-token"
#: Error reported for runs still executing when the worker stops.
INTERRUPTED_ERROR = "worker interrupted"
#: How long a stopping worker waits for the server to take its goodbye (seconds).
GOODBYE_TIMEOUT = 3.0
TERMINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED")
_TERMINAL_EVENTS = ("run_completed", "run_failed", "run_cancelled")


class Worker:
    """A worker serving ``flows``; ``serve()`` runs it in the calling thread until it stops.

    Most code calls the ``serve`` function instead. Keyword arguments are those of ``serve``;
    ``transport`` replaces the HTTP transport (anything with ``post(path, body, timeout)``
    returning ``(status, json)``), ``out`` receives the worker's one-line status messages
    (default: stderr), ``retry_initial``/``retry_cap`` bound the backoff (seconds) between
    attempts to reach the server.
    """

    #: How many final outcomes ``results`` keeps (oldest forgotten first), so a worker serving
    #: for months does not grow without bound.
    MAX_RESULTS = 1000

    def __init__(self, flows, url=None, client_id=None, token=None, max_concurrent_runs=4,
                 exit_when_all_completed=False, transport=None, flush_timeout=10.0, out=None,
                 retry_initial=0.25, retry_cap=5.0, isolation="process", cancel_grace_seconds=10.0,
                 max_run_memory_mb=None, warm_processes=None, process_start="fork_server"):
        # type: (Iterable[Flow], Optional[str], Optional[str], Optional[str], int, bool, Any, float, Any, float, float, str, float, Optional[int], Optional[int], str) -> None
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
        if isolation not in ("process", "thread"):
            raise ValueError("isolation must be 'process' or 'thread', got %r" % (isolation,))
        if cancel_grace_seconds < 0:
            raise ValueError("cancel_grace_seconds must be >= 0")
        if max_run_memory_mb is not None and (isinstance(max_run_memory_mb, bool) or max_run_memory_mb < 16):
            raise ValueError("max_run_memory_mb must be a number of megabytes >= 16, got %r" % (max_run_memory_mb,))
        if process_start not in ("fork_server", "spawn"):
            raise ValueError("process_start must be 'fork_server' or 'spawn', got %r" % (process_start,))
        self.isolation = isolation
        self.process_start = process_start
        self._fork_server = None  # type: Optional[ForkServer]
        self.cancel_grace_seconds = float(cancel_grace_seconds)
        self.max_run_memory_mb = max_run_memory_mb
        if warm_processes is None:
            warm_processes = min(2, max_concurrent_runs)
        self._pool = None  # type: Optional[ProcessPool]
        self._warm_processes = warm_processes
        #: Flows whose runs get their own process (a fresh process can import them).
        self._isolated = set()  # type: set
        if isolation == "process":
            for item in self.flows:
                if _process_ref(item) is not None:
                    self._isolated.add(item.name)
        #: Base URLs of the server instances, preferred first (``PERFECT_URL=A,B``).
        self.urls = split_urls(url or os.environ.get("PERFECT_URL") or DEFAULT_URL) or [DEFAULT_URL]
        self.url = ",".join(self.urls)
        self.client_id = client_id or os.environ.get("PERFECT_CLIENT_ID") or DEFAULT_CLIENT_ID
        token = token or os.environ.get("PERFECT_TOKEN") or DEFAULT_TOKEN
        self._token = token
        self.max_concurrent_runs = max_concurrent_runs
        self.exit_when_all_completed = exit_when_all_completed
        self.flush_timeout = flush_timeout
        self._backoff = lambda: Backoff(initial=retry_initial, cap=retry_cap)
        self._out = out if out is not None else sys.stderr
        if transport is None:
            agent = "perfect-client/" + __version__
            if len(self.urls) == 1:
                transport = HttpTransport(self.urls[0], token, user_agent=agent)
            else:
                transport = FailoverTransport.for_urls(self.urls, token, user_agent=agent, on_switch=self._switched)
        self.api = WorkerApi(transport, self.client_id)

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._active = {}  # type: Dict[str, RunContext]
        #: Subflows (child runs) executing inside the active runs, id → context: they take no
        #: slot of max_concurrent_runs, are listed in heartbeats and stopped like runs.
        self._subflows = {}  # type: Dict[str, RunContext]
        #: Runs this worker holds, id → flow name: from the poll answer that gave them until
        #: their final batch is acknowledged (or the run is given up). Heartbeats list exactly
        #: these, so the server requeues or fails a run the worker no longer reports.
        self._held = collections.OrderedDict()  # type: Dict[str, str]
        #: State of the last finished run of each served flow (the server's word when it gave it).
        self._last_outcome = {}  # type: Dict[str, str]
        #: Final outcome of the latest ``MAX_RESULTS`` runs (COMPLETED, FAILED, CANCELLED,
        #: FINISHED_BY_SERVER), the server's state once it acknowledged the run's last batch.
        self.results = collections.OrderedDict()  # type: Dict[str, str]
        self._registered_once = False
        self._token_rejected = False
        self._token_changed_at = 0.0  # monotonic time of the last change of _token_rejected
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
            on_delivered=self._delivered, on_done=self._release, on_token=self._token_state,
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
                self._start_pool()
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
        if self.exit_when_all_completed:
            failed = self.failed_flows()
            if failed:
                err = RunsFailed("the last run of %s failed" % ", ".join(repr(n) for n in failed))
                self._say("perfect: %s; exiting with status 1" % err)
                raise err

    def failed_flows(self):
        # type: () -> List[str]
        """Names of the served flows whose last finished run FAILED."""
        with self._lock:
            return [f.name for f in self.flows if self._last_outcome.get(f.name) == "FAILED"]

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

    @property
    def held_run_ids(self):
        # type: () -> List[str]
        """Ids of the runs this worker holds (executing, or with events still to deliver):
        what its heartbeats list."""
        with self._lock:
            return list(self._held)

    # -- registration and polling ------------------------------------------------------------------

    def _payload(self):
        # type: () -> Dict[str, Any]
        return {
            "worker": {"hostname": socket.gethostname(), "pid": os.getpid(), "sdkVersion": __version__},
            "flows": [f.definition() for f in self.flows],
        }

    def _register(self):
        # type: () -> bool
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise FatalWorkerError("PERFECT_URL must look like http://host:port (several separated by "
                                       "commas), got %r" % url)
        backoff = self._backoff()
        while not self._stop.is_set():
            self._raise_fatal()
            sent_at = time.monotonic()
            try:
                answer = self.api.register(self._payload())
            except TokenRejected as err:
                if not self._registered_once:
                    raise  # a wrong token from the start is a configuration error: say so, exit 2
                self._token_state(True, sent_at)
                self._stop.wait(backoff.next_delay())
                continue
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
            self._registered_once = True
            self._token_state(False, sent_at)
            self._say("perfect: serving %d flow(s) for client %s at %s (worker %s)"
                      % (len(self.flows), self.client_id, self.url, self.worker_id))
            return True
        return False

    def _start_pool(self):
        # type: () -> None
        if self.isolation != "process":
            return
        for item in self.flows:
            if item.name not in self._isolated:
                self._say("perfect: flow %s cannot be imported by a run process (defined inside a function, "
                          "or in a script run with -c); its runs execute in the worker's threads" % item.name)
        if self._isolated and self._pool is None:
            warm = self._warm_processes
            if self.process_start == "fork_server":
                refs = [_process_ref(f) for f in self.flows if f.name in self._isolated]
                server = ForkServer(multiprocessing.get_context("spawn"),
                                    {"max_run_memory_mb": self.max_run_memory_mb}, refs)
                if server.start():
                    self._fork_server = server
                    warm = 0  # spawning is only the fallback should the fork server die
                else:
                    self._say("perfect: the fork server could not start; spawning a process per run "
                              "(%d kept warm)" % warm)
            self._pool = ProcessPool(warm=warm, max_run_memory_mb=self.max_run_memory_mb)
            self._pool.start()

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
                self._say("perfect: every flow finished a run, exiting")
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
            sent_at = time.monotonic()
            try:
                runs = self.api.poll(self.worker_id or "", min(free, 50), wait_ms)
            except UnknownWorker:
                self._say("perfect: the server does not know worker %s any more; registering again" % self.worker_id)
                self._need_register = True
                continue
            except TokenRejected:
                # A token being rotated in clients.json: keep every run and buffered event and
                # ask again with backoff until the server takes the token again.
                self._token_state(True, sent_at)
                self._stop.wait(backoff.next_delay())
                continue
            except PerfectError as err:
                delay = backoff.next_delay()
                self._say("perfect: cannot poll the Perfect server at %s (%s); retrying in %.1fs" % (self.url, err, delay))
                self._stop.wait(delay)
                continue
            backoff.reset()
            self._token_state(False, sent_at)
            runs = [r for r in runs if isinstance(r, dict) and r.get("id")]
            with self._lock:
                # Held from now on, before anything can fail: heartbeats must list every run
                # the worker was given.
                for run in runs:
                    self._held.setdefault(str(run["id"]), str(run.get("flowName") or "?"))
            for run in runs:
                self._start_run(run)

    def _wait_for_free_slot(self):
        # type: () -> int
        with self._changed:
            while len(self._active) >= self.max_concurrent_runs and not self._stop.is_set() and self._fatal is None:
                self._changed.wait(1.0)
            return self.max_concurrent_runs - len(self._active)

    def _all_flows_completed(self):
        # type: () -> bool
        """Every served flow has finished a run, whatever its outcome (runs still executing
        are waited for by the graceful shutdown)."""
        with self._lock:
            return all(f.name in self._last_outcome for f in self.flows)

    def _token_state(self, rejected, sent_at=None):
        # type: (bool, Optional[float]) -> None
        """The token is rejected (a 401) or accepted (a 2xx), as the answer to a request sent at
        ``sent_at`` says. Polls, heartbeats and event deliveries run in threads of their own: an
        answer to a request sent before the last change is stale (a 401 that was in flight when
        the token came back) and changes nothing, so one rotation is reported once."""
        with self._lock:
            if sent_at is not None and sent_at < self._token_changed_at:
                return
            changed = rejected != self._token_rejected
            self._token_rejected = rejected
            if changed:
                self._token_changed_at = time.monotonic()
            held = len(self._held)
        if changed and rejected:
            self._say("perfect: token rejected for client %s (HTTP 401): check PERFECT_TOKEN; keeping %d run(s) "
                      "and their events, retrying with backoff" % (self.client_id, held))
        elif changed:
            self._say("perfect: token accepted again for client %s" % self.client_id)

    # -- runs --------------------------------------------------------------------------------------

    def _start_run(self, run):
        # type: (Dict[str, Any]) -> None
        run_id = str(run["id"])
        flow = self._flows_by_id.get(str(run.get("flowId"))) or self._flows_by_name.get(str(run.get("flowName")))
        name = flow.name if flow is not None else str(run.get("flowName") or "?")
        context = RunContext(run_id, name, self._sender.open_channel(run_id))
        context.slots = ApiSlots(self.api, lambda: self.worker_id, context)
        context.server = self
        with self._lock:
            if run_id in self._active:
                return
            self._active[run_id] = context
        parameters = run.get("parameters") if isinstance(run.get("parameters"), dict) else {}
        target = self._execute
        if flow is not None and flow.name in self._isolated and self._pool is not None:
            target = self._supervise
        else:
            context.subflow_host = self  # type: ignore[attr-defined]
        thread = threading.Thread(target=target, args=(context, flow, parameters),
                                  name="perfect-run-" + run_id, daemon=True)
        thread.start()

    def _supervise(self, context, flow, parameters):
        # type: (RunContext, Flow, Dict[str, Any]) -> None
        """Execute a run in a process of its own and relay its events until the process ends."""
        started = time.monotonic()
        outcome = "FAILED"
        self._say("perfect: run %s (%s) started" % (context.run_id, context.flow_name))
        try:
            outcome = self._watch_process(context, flow, parameters)
        except BaseException as err:  # a bug here must still end the run, not leave it RUNNING
            context.log("ERROR", "perfect: supervising the run failed: %r" % (err,))
            context.channel.emit("run_failed", {"error": "worker error: %r" % (err,)}, terminal=True)
        finally:
            self._run_ended(context, flow, outcome, started)

    def _watch_process(self, context, flow, parameters):
        # type: (RunContext, Flow, Dict[str, Any]) -> str
        channel = context.channel
        assert self._pool is not None
        handover = {"run_id": context.run_id, "flow_name": context.flow_name,
                    "flow_ref": _process_ref(flow), "parameters": parameters,
                    # artifacts and variables: the run process asks the server itself
                    "server": {"urls": self.urls, "token": self._token, "client_id": self.client_id,
                               "worker_id": self.worker_id}}
        proc = None
        if self._fork_server is not None:
            proc = self._fork_server.fork()
            if proc is not None and not proc.assign(handover):
                proc.reap(1.0)
                proc.discard_crash_file()
                proc = None
        for _ in range(0 if proc is not None else 3):  # a warm spare may have died: take another
            proc = self._pool.take()
            if proc.assign(handover):
                break
            proc.reap(1.0)
            proc.discard_crash_file()
            proc = None
        if proc is None:
            raise RuntimeError("could not start a run process")
        context.process = proc
        stop = context.stop_kind
        if stop is not None:  # a stop that arrived while the process was being chosen
            proc.send(("stop", _STOP_NAMES[stop]))
        terminal = None  # type: Optional[str]
        outcome = None  # type: Optional[str]
        children = {}  # type: Dict[str, RunContext]
        while True:
            try:
                message = proc.conn.recv()
            except (EOFError, OSError):
                break
            except Exception as err:  # an unpicklable message: say so, keep relaying
                context.log("WARNING", "perfect: a message of the run process could not be read: %r" % (err,))
                continue
            kind = message[0]
            if kind == "emit":
                _, event_type, fields, ts, is_terminal = message
                if event_type == "task_started":
                    context.current_task = (fields.get("call"), fields.get("task"))
                elif event_type in ("task_completed", "task_failed"):
                    # Parallel tasks: only the end of the task last seen starting clears it.
                    if context.current_task is not None and context.current_task[0] == fields.get("call"):
                        context.current_task = None
                accepted = channel.emit(event_type, fields, terminal=is_terminal, ts=ts)
                if is_terminal:
                    terminal = event_type if accepted else "refused"
            elif kind == "progress":
                channel.progress(message[1], message[2])
            elif kind == "end_task":
                channel.end_task(message[1])
            elif kind == "slot":  # a task call of the process asks for a concurrency slot
                serve_slot_request(context.slots, proc.send, *message[1:])
            elif kind == "slot_release":
                serve_slot_release(context.slots, message[1])
            elif kind == "done":
                outcome = message[1]
            elif kind in _SUBFLOW_MESSAGES:
                self._relay_subflow(context, proc, children, message)
        exitcode = proc.reap()
        self._orphaned_subflows(context, children, describe_exit(exitcode, self.max_run_memory_mb))
        try:
            if terminal is not None:
                if terminal == "refused":
                    return "FINISHED_BY_SERVER" if context.stop_kind is RunFinished else "INTERRUPTED"
                return {"run_completed": "COMPLETED", "run_failed": "FAILED", "run_cancelled": "CANCELLED"}[terminal]
            if outcome in ("FINISHED_BY_SERVER", "INTERRUPTED"):
                return outcome
            stop = context.stop_kind
            if stop is WorkerShutdown:
                return "INTERRUPTED"
            if stop is RunFinished:
                channel.drop()
                return "FINISHED_BY_SERVER"
            if context.hard_stopped and stop is RunCancelled:
                task = context.current_task
                what = "task %s" % task[1] if task else "the flow"
                context.log("WARNING", "cancel: %s was still running %.0f s after the cancel request; its "
                            "process was terminated" % (what, self.cancel_grace_seconds))
                return "CANCELLED" if channel.emit("run_cancelled", terminal=True) else "INTERRUPTED"
            # The process died without reporting the run's end: that run, and only it, failed.
            error = describe_exit(exitcode, self.max_run_memory_mb)
            report = proc.crash_report()
            task = context.current_task
            where = " during task %s" % task[1] if task else ""
            context.log("ERROR", "%s%s%s" % (error, where, "\n" + report if report else ""))
            channel.emit("run_failed", {"error": error}, terminal=True)
            return "FAILED"
        finally:
            proc.discard_crash_file()

    def _execute(self, context, flow, parameters):
        # type: (RunContext, Optional[Flow], Dict[str, Any]) -> None
        token = _current_run.set(context)
        started = time.monotonic()
        outcome = "FAILED"
        self._say("perfect: run %s (%s) started" % (context.run_id, context.flow_name))
        try:
            outcome = execute_flow(context, flow, parameters)
        finally:
            _current_run.reset(token)
            self._run_ended(context, flow, outcome, started)

    def _run_ended(self, context, flow, outcome, started):
        # type: (RunContext, Optional[Flow], str, float) -> None
        if outcome == "INTERRUPTED":
            outcome = "FAILED"  # the shutdown reported it FAILED (worker interrupted)
        with self._changed:
            self._active.pop(context.run_id, None)
            if context.run_id not in self.results:
                self._record(context.run_id, outcome)
            final = self.results[context.run_id]
            if flow is not None and final in TERMINAL_STATES:
                self._last_outcome[flow.name] = final
            self._changed.notify_all()
        self._say("perfect: run %s (%s) %s in %.1fs"
                  % (context.run_id, context.flow_name, final, time.monotonic() - started))

    def _record(self, run_id, state):
        # type: (str, str) -> None
        """Remember ``state`` as the run's outcome (call with the lock held)."""
        self.results[run_id] = state
        self.results.move_to_end(run_id)  # type: ignore[attr-defined]
        while len(self.results) > self.MAX_RESULTS:
            self.results.popitem(last=False)  # type: ignore[call-arg]

    def _delivered(self, run_id, answer, batch):
        # type: (str, Dict[str, Any], List[Dict[str, Any]]) -> None
        """A batch was acknowledged; when it held the run's end, the answer's state is final."""
        if not any(e.get("type") in _TERMINAL_EVENTS for e in batch):
            return
        state = answer.get("state")
        if state not in TERMINAL_STATES:
            return
        with self._changed:
            flow_name = self._held.get(run_id)
            local = self.results.get(run_id)
            self._record(run_id, state)
            if flow_name in self._flows_by_name and run_id not in self._active:
                self._last_outcome[flow_name] = state
            self._changed.notify_all()
        if local is not None and local != state:
            self._say("perfect: run %s ended %s on the server (reported %s%s)"
                      % (run_id, state, local, ", its cancel was requested" if state == "CANCELLED" else ""))

    def _release(self, run_id):
        # type: (str) -> None
        """The run's final batch was acknowledged (or its events dropped): stop reporting it."""
        with self._changed:
            self._held.pop(run_id, None)
            self._changed.notify_all()

    def _request_stop(self, run_id, kind):
        # type: (str, type) -> bool
        with self._lock:
            context = self._active.get(run_id)
            subflow = self._subflows.get(run_id) if context is None else None
        if subflow is not None:
            return self._stop_subflow(subflow, kind)
        changed = context is not None and context.request_stop(kind)
        if changed and context is not None and context.process is not None:
            # The run's process stops at its next task boundary; one that does not get there
            # within the grace period (a task stuck in a long call) is terminated.
            context.process.send(("stop", _STOP_NAMES[kind]))
            if kind in (RunCancelled, RunFinished):
                timer = threading.Timer(self.cancel_grace_seconds, self._hard_stop, args=(context, kind))
                timer.daemon = True
                timer.start()
        if kind is RunFinished:
            channel = self._sender.channel(run_id)
            if channel is not None:
                channel.drop()
            self._release(run_id)  # given up: the server fails it when heartbeats stop listing it
        return changed

    def _stop_subflow(self, context, kind):
        # type: (RunContext, type) -> bool
        """A stop of a child run alone: at its next task boundary (a stuck task is ended by its
        root run's own stop, never by killing the process that also runs the parent)."""
        changed = context.request_stop(kind)
        if changed and context.process is not None:
            context.process.send(("stop", _STOP_NAMES[kind], context.run_id))
        if kind is RunFinished:
            channel = self._sender.channel(context.run_id)
            if channel is not None:
                channel.drop()
            self._release(context.run_id)
        return changed

    # -- subflows ----------------------------------------------------------------------------------

    def _create_subflow(self, parent_id, call, definition, parameters, stopped):
        # type: (str, int, Dict[str, Any], Dict[str, Any], Any) -> str
        """Ask the server for the child run of ``parent_id``'s call ``call`` (re-sent after a
        transient failure: the server answers the same child); its id, held from now on."""
        backoff = self._backoff()
        while True:
            try:
                run = self.api.start_subflow(parent_id, self.worker_id or "", call, definition, parameters)
                break
            except RunGone as err:
                raise SubflowError("subflow %s refused: %s" % (definition.get("name"), err))
            except PerfectError as err:
                if not is_transient(err) or self._stop.is_set() or stopped():
                    raise SubflowError("subflow %s could not start: %s" % (definition.get("name"), err))
                time.sleep(backoff.next_delay())
        run_id = str(run["id"])
        with self._changed:
            # Held (listed in heartbeats) until its final batch is acknowledged; no flow name:
            # a child's end is not its flow's "last outcome" for exit_when_all_completed.
            self._held[run_id] = None  # type: ignore[assignment]
        return run_id

    def start_subflow(self, parent, call, flow, parameters):
        # type: (RunContext, int, Flow, Dict[str, Any]) -> SubflowContext
        """The child run of ``parent``'s task call ``call`` (``isolation="thread"``)."""
        run_id = self._create_subflow(parent.run_id, call, flow.definition(), parameters, lambda: parent.stop_kind is not None)
        child = SubflowContext(run_id, flow.name, self._sender.open_channel(run_id), parent)
        with self._lock:
            self._subflows[run_id] = child
        return child

    def subflow_ended(self, child):
        # type: (RunContext) -> None
        """The child run finished executing: the parent goes on once the child's end is delivered,
        so the server never sees a parent finish before its child."""
        _await_delivery(child.channel)
        with self._lock:
            self._subflows.pop(child.run_id, None)

    def _relay_subflow(self, context, proc, children, message):
        # type: (RunContext, Any, Dict[str, RunContext], Any) -> None
        """A run process's subflow message: start a child run, or one of a child's events."""
        kind = message[0]
        if kind == "subflow":
            _, request_id, parent_id, call, definition, parameters = message
            try:
                run_id = self._create_subflow(parent_id, call, definition, parameters, lambda: context.stop_kind is not None)
            except Exception as err:
                proc.send(("subflow_reply", request_id, False, str(err)))
                return
            child = RunContext(run_id, str(definition.get("name")), self._sender.open_channel(run_id))
            child.process = proc
            children[run_id] = child
            with self._lock:
                self._subflows[run_id] = child
            proc.send(("subflow_reply", request_id, True, run_id))
            return
        child = children.get(message[1])
        if child is None:
            return
        if kind == "emit_to":
            _, _, event_type, fields, ts, is_terminal = message
            child.channel.emit(event_type, fields, terminal=is_terminal, ts=ts)
            if is_terminal:
                # The parent's later events wait in the pipe until the child's end is delivered.
                _await_delivery(child.channel)
                self._end_relayed(children, child)
        elif kind == "progress_to":
            child.channel.progress(message[2], message[3])
        elif kind == "end_task_to":
            child.channel.end_task(message[2])
        elif kind == "drop_to":
            child.channel.drop()
            self._release(child.run_id)
            self._end_relayed(children, child)

    def _end_relayed(self, children, child):
        # type: (Dict[str, RunContext], RunContext) -> None
        children.pop(child.run_id, None)
        with self._lock:
            self._subflows.pop(child.run_id, None)

    def _orphaned_subflows(self, context, children, error):
        # type: (RunContext, Dict[str, RunContext], str) -> None
        """The run process ended with child runs still open: they end with it (cancelled when
        the process was terminated for a cancel, else failed)."""
        for child in list(children.values()):
            stop = context.stop_kind
            if stop is WorkerShutdown or stop is RunFinished:
                pass  # the shutdown reports them FAILED; a finished run's children are the server's
            elif context.hard_stopped and stop is RunCancelled or child.stop_kind is RunCancelled and context.hard_stopped:
                child.channel.emit("run_cancelled", terminal=True)
            else:
                child.channel.emit("run_failed", {"error": error}, terminal=True)
            self._end_relayed(children, child)

    def _hard_stop(self, context, kind):
        # type: (RunContext, type) -> None
        with self._lock:
            if self._active.get(context.run_id) is not context:
                return  # it stopped in time
        proc = context.process
        if proc is not None and proc.alive():
            context.hard_stopped = True
            proc.kill()

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
            sent_at = time.monotonic()
            try:
                answer = self.api.heartbeat(self.worker_id, self.held_run_ids)
            except UnknownWorker:
                self._need_register = True
                continue
            except TokenRejected:
                self._token_state(True, sent_at)
                continue  # the next beat tries again; work in flight is kept
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
            remaining = list(self._subflows.values()) + list(self._active.values())
        failed = 0
        for context in remaining:
            context.request_stop(WorkerShutdown)
            if context.channel.emit("run_failed", {"error": INTERRUPTED_ERROR}, terminal=True):
                failed += 1
                with self._lock:
                    self._record(context.run_id, "FAILED")
                    if context.flow_name in self._flows_by_name:
                        self._last_outcome[context.flow_name] = "FAILED"
        if failed:
            self._say("perfect: reported %d running run(s) FAILED (%s)" % (failed, INTERRUPTED_ERROR))
        for context in remaining:
            if context.process is not None:
                context.process.kill()  # its run was reported FAILED above
        if self._fork_server is not None:
            self._fork_server.close()
        if self._pool is not None:
            self._pool.close()
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
        self._say_goodbye()

    def _say_goodbye(self):
        # type: () -> None
        """The last request: this worker stops on purpose, so the server forgets it now rather
        than judging it lost (and alerting) after the heartbeat timeout. Best effort: a server
        that cannot be told notices the silence as before."""
        if not self.worker_id:
            return
        try:
            self.api.goodbye(self.worker_id, timeout=GOODBYE_TIMEOUT)
        except (PerfectError, OSError):
            pass
        except KeyboardInterrupt:
            pass

    def _switched(self, old, new, reason):
        # type: (str, str, str) -> None
        self._say("perfect: failed over from %s to %s (%s)" % (old, new, reason or "it answers again"))

    def _say(self, line):
        # type: (str) -> None
        try:
            self._out.write(line + "\n")
            self._out.flush()
        except Exception:
            pass


_STOP_NAMES = {RunCancelled: "cancel", RunFinished: "finished", WorkerShutdown: "shutdown"}
#: How long a parent waits for its finished child's last events to reach the server (seconds).
SUBFLOW_DELIVERY_WAIT = 5.0


def _await_delivery(channel, timeout=SUBFLOW_DELIVERY_WAIT):
    # type: (Any, float) -> None
    """Wait (bounded) until a finished channel has delivered everything (at once for a channel
    still open: a child stopped by a shutdown has no end to deliver)."""
    if not getattr(channel, "closed", False):
        return
    deadline = time.monotonic() + timeout
    while not getattr(channel, "finished", True) and time.monotonic() < deadline:
        time.sleep(0.005)


#: What a run process sends about its subflows (see ``subflows.ProcessSubflowHost``).
_SUBFLOW_MESSAGES = ("subflow", "emit_to", "progress_to", "end_task_to", "drop_to")


def _process_ref(flow):
    # type: (Flow) -> Any
    """``(module, qualname)`` by which a run process finds ``flow``, or None if it cannot."""
    func = flow.func
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", "")
    if not module or not qualname or "<locals>" in qualname or "<lambda>" in qualname:
        return None
    # The process finds the flow where this one finds it: the module holds the Flow under the
    # function's (qualified) name when @flow decorated it.
    target = sys.modules.get(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    if target is not flow:
        return None
    if module == "__main__" and not _main_importable():
        return None
    return (module, qualname)


def _main_importable():
    # type: () -> bool
    """Whether a spawned process can import this script again (not ``python -c`` or a REPL)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None):
        return not spec.name.endswith(".__main__") and spec.name != "__main__"
    return bool(getattr(main, "__file__", None))


def _in_run_process():
    # type: () -> bool
    """True while a run process imports the script (``serve()`` there must do nothing)."""
    return _child.IN_RUN_PROCESS or bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def _terminate(signum, frame):
    # SIGTERM (docker stop, systemd) gets the same clean stop as Ctrl-C.
    raise KeyboardInterrupt


def serve(*flows, url=None, client_id=None, token=None, max_concurrent_runs=4,
          exit_when_all_completed=False, transport=None, flush_timeout=10.0, out=None,
          retry_initial=0.25, retry_cap=5.0, isolation="process", cancel_grace_seconds=10.0,
          max_run_memory_mb=None, warm_processes=None, process_start="fork_server"):
    # type: (Any, Optional[str], Optional[str], Optional[str], int, bool, Any, float, Any, float, float, str, float, Optional[int], Optional[int], str) -> None
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
    if _in_run_process():
        return  # a run process importing the script to find its flows: not a second worker
    if len(flows) == 1 and isinstance(flows[0], (list, tuple)):
        flows = tuple(flows[0])
    Worker(flows, url=url, client_id=client_id, token=token, max_concurrent_runs=max_concurrent_runs,
           exit_when_all_completed=exit_when_all_completed, transport=transport,
           flush_timeout=flush_timeout, out=out, retry_initial=retry_initial, retry_cap=retry_cap,
           isolation=isolation, cancel_grace_seconds=cancel_grace_seconds,
           max_run_memory_mb=max_run_memory_mb, warm_processes=warm_processes,
           process_start=process_start).serve()
