"""Direct runs: a flow called outside ``serve`` (``python etl.py``) with ``PERFECT_URL`` set is
recorded on the server as it executes, with ``trigger: "local"``.

The first direct call of a process registers its flow as a worker of ``PERFECT_CLIENT_ID`` (a
worker that never polls, so it is given no other run), asks for a RUNNING run of it
(``POST /api/worker/{clientId}/runs``) and executes the flow in the calling thread with that
run as the current run: task runs, progress, logs, ``print`` (still shown on the terminal),
subflows, artifacts and statistics reach the server as for a dispatched run, through the
worker's own event sender; a heartbeat thread keeps the run alive and brings its cancel. The
flow's result or exception is the caller's, as without a server.

Without ``PERFECT_URL`` nothing of this happens: the flow runs locally. When the server cannot
be reached (or refuses the registration) the flow runs locally too, with one warning on stderr;
events of a run whose server goes away mid-run are dropped at the end, with one warning.
"""
import asyncio
import atexit
import os
import sys
import threading
import time
from typing import Any, Dict, Optional, Tuple

from . import parallel as _parallel
from .concurrency import ApiSlots
from .context import RunContext, _current_call, _current_run
from .errors import FatalWorkerError, PerfectError, RunCancelled, RunInterrupted
from .execution import report_flow_failure
from .log_capture import flush_line_buffer, install_stdout_router, uninstall_stdout_router

#: Seconds a direct run waits at its end for its events to reach the server.
FLUSH_TIMEOUT = 10.0


class _Quiet:
    """Where the worker machinery's status lines go for a direct run: kept, not printed (the
    session says what matters once)."""

    def __init__(self):
        self.lines = []  # type: list

    def write(self, text):
        """Keep ``text`` (bounded)."""
        if len(self.lines) < 100:
            self.lines.append(text)

    def flush(self):
        """Nothing to flush."""


class DirectSession:
    """This process's connection to the server for direct runs: one worker registration
    (extended when another flow is called directly), one event sender, one heartbeat thread."""

    def __init__(self, out=None):
        # type: (Any) -> None
        self._out = out if out is not None else sys.stderr
        self._lock = threading.RLock()
        self._worker = None  # type: Any
        self._registered = set()  # type: set
        self.offline = False  # the server could not be reached: every later call runs locally
        self._warned = False
        self._heartbeat = None  # type: Optional[threading.Thread]

    # -- the warning, once ----------------------------------------------------------------------

    def warn(self, text):
        # type: (str) -> None
        """Say ``text`` on stderr, once per process."""
        if self._warned:
            return
        self._warned = True
        try:
            self._out.write("perfect: %s\n" % text)
            self._out.flush()
        except Exception:
            pass

    # -- registration ---------------------------------------------------------------------------

    def _worker_for(self, flow):
        # type: (Any) -> Any
        """The registered worker serving ``flow`` (registering again with it added if needed)."""
        from .runner import Worker

        with self._lock:
            if self._worker is not None and flow.name in self._registered:
                return self._worker
            flows = list(self._worker.flows) if self._worker is not None else []
            flows = [f for f in flows if f.name != flow.name] + [flow]
            worker = self._worker
            if worker is None:
                worker = Worker(flows, out=_Quiet(), isolation="thread", flush_timeout=FLUSH_TIMEOUT)
                for url in worker.urls:
                    if not url.startswith(("http://", "https://")):
                        raise PerfectError("PERFECT_URL must look like http://host:port, got %r" % url)
            else:
                worker.flows = flows
                worker._flows_by_name = {f.name: f for f in flows}
            answer = worker.api.register(worker._payload())
            worker.worker_id = str(answer["workerId"])
            worker._apply_intervals(answer)
            worker._need_register = False
            worker._registered_once = True
            if self._worker is None:
                worker._sender.start()
                self._worker = worker
                self._heartbeat = threading.Thread(target=worker._heartbeat_loop, name="perfect-direct-heartbeat",
                                                   daemon=True)
                self._heartbeat.start()
                atexit.register(self.close)
            self._registered = set(f.name for f in flows)
            return worker

    def close(self):
        # type: () -> None
        """Deliver what is left (bounded) and stop the threads (at interpreter exit)."""
        worker = self._worker
        if worker is None:
            return
        worker._heartbeat_stop.set()
        try:
            if worker._sender.pending_events():
                worker._sender.flush(FLUSH_TIMEOUT)
        finally:
            worker._sender.stop()

    # -- one run --------------------------------------------------------------------------------

    def start(self, flow, parameters):
        # type: (Any, Dict[str, Any]) -> Optional[Tuple[Any, RunContext]]
        """Register, create the run; ``(worker, context)``, or None (run locally, warned)."""
        if self.offline:
            return None
        try:
            worker = self._worker_for(flow)
            run = worker.api.start_local_run(worker.worker_id, flow.name, parameters)
        except (PerfectError, FatalWorkerError) as err:  # unreachable, or refused (a wrong token, client)
            if self._worker is None:
                self.offline = True
            self.warn("cannot record flow %s on the Perfect server at %s (%s); running it locally, its events "
                      "are dropped" % (flow.name, os.environ.get("PERFECT_URL"), err))
            return None
        run_id = str(run["id"])
        context = RunContext(run_id, flow.name, worker._sender.open_channel(run_id))
        context.slots = ApiSlots(worker.api, lambda: worker.worker_id, context)
        context.server = worker
        context.subflow_host = worker  # type: ignore[attr-defined]
        context.echo = True
        with worker._changed:
            worker._active[run_id] = context
            worker._held[run_id] = flow.name
        return worker, context

    def finish(self, worker, context):
        # type: (Any, RunContext) -> None
        """The run ended here: wait (bounded) for its events to be delivered."""
        channel = context.channel
        deadline = time.monotonic() + FLUSH_TIMEOUT
        worker._sender.wake()
        while not channel.finished and time.monotonic() < deadline:
            time.sleep(0.01)
        with worker._changed:
            worker._active.pop(context.run_id, None)
        if not channel.finished:
            channel.drop()
            worker._release(context.run_id)
            self.warn("the Perfect server did not take the events of run %s (flow %s) within %.0fs; they are "
                      "dropped" % (context.run_id, context.flow_name, FLUSH_TIMEOUT))


def forget(flow_name):
    # type: (str) -> None
    """Register ``flow_name`` again at its next direct call (its definition changed: tags)."""
    if _session is not None:
        with _session._lock:
            _session._registered.discard(flow_name)


_session = None  # type: Optional[DirectSession]
_session_lock = threading.Lock()


def session():
    # type: () -> Optional[DirectSession]
    """This process's ``DirectSession``, or None when ``PERFECT_URL`` is not set."""
    global _session
    if not os.environ.get("PERFECT_URL"):
        return None
    with _session_lock:
        if _session is None:
            _session = DirectSession()
        return _session


def call_direct(flow, args, kwargs):
    # type: (Any, Tuple[Any, ...], Dict[str, Any]) -> Any
    """``flow(*args, **kwargs)`` outside any run: recorded on the server when ``PERFECT_URL`` is
    set (see the module), else just called. An ``async`` flow returns an awaitable."""
    current = session()
    if current is None:
        return _parallel.call_flow(flow, args, kwargs)
    if getattr(flow, "is_async", False):
        async def awaited():
            return await asyncio.to_thread(_run, current, flow, args, kwargs)
        return awaited()
    return _run(current, flow, args, kwargs)


def _run(current, flow, args, kwargs):
    # type: (DirectSession, Any, Tuple[Any, ...], Dict[str, Any]) -> Any
    from .subflows import wire_parameters

    parameters = wire_parameters(flow.func, args, kwargs)  # a wrong call raises TypeError here
    started = current.start(flow, parameters)
    if started is None:
        body = _parallel.call_flow(flow, args, kwargs)
        return asyncio.run(body) if getattr(flow, "is_async", False) else body
    worker, context = started
    channel = context.channel
    run_token = _current_run.set(context)
    call_token = _current_call.set(None)
    install_stdout_router()
    try:
        try:
            body = _parallel.call_flow(flow, args, kwargs)
            result = asyncio.run(body) if getattr(flow, "is_async", False) else body
        except RunCancelled:
            flush_line_buffer(context)
            channel.emit("run_cancelled", terminal=True)
            raise
        except RunInterrupted:
            flush_line_buffer(context)
            channel.emit("run_failed", {"error": "interrupted"}, terminal=True)
            raise
        except BaseException as exc:
            report_flow_failure(context, flow.name, exc)
            raise
        flush_line_buffer(context)
        if context.stop_kind is RunCancelled:
            channel.emit("run_cancelled", terminal=True)
            raise RunCancelled("run %s was cancelled" % context.run_id)
        channel.emit("run_completed", terminal=True)
        return result
    finally:
        uninstall_stdout_router()
        _current_call.reset(call_token)
        _current_run.reset(run_token)
        current.finish(worker, context)
