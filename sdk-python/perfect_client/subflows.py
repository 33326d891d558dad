"""Subflows: a flow called inside a served run is a child run of its own.

``Flow.__call__`` comes here. Outside a served run the flow is just its function. Inside one, the
call is a task call of the parent (named after the child flow: ``task_started`` … ``task_completed``
or ``task_failed`` on the parent's channel) and, on the server, a child run (``parentRunId``)
created RUNNING for this worker, with its own task runs and logs: tasks, ``print`` and logging
inside the child flow land on the child run (its ``SubflowContext`` is the current run while it
executes). The child's exception is re-raised in the parent, so it propagates like a task's.

Stops: a stop of the parent (cancel, finished by the server, shutdown) stops the child at its next
task boundary, and the child's stop becomes the parent's. A cancel of the child alone ends the
child CANCELLED and raises ``RunCancelled`` in the parent at that call (so the parent ends
CANCELLED too, unless the flow catches it — it is a ``BaseException``).

Where the child run is requested depends on the isolation: with ``isolation="thread"`` the
worker asks the server itself (``Worker.start_subflow``); inside a run's own process the request
goes over the pipe to the supervisor, which asks the server and relays the child's events like
the run's (``ProcessSubflowHost``, ``PipeSubflowChannel``).
"""
import asyncio
import inspect
import itertools
import json
import threading
import time
from typing import Any, Dict, Optional, Tuple

from . import context as _context
from . import parallel as _parallel
from .context import RunContext, TaskCall, _current_call, _current_run, current_run
from .errors import RunCancelled, RunFinished, RunInterrupted, WorkerShutdown, describe_exception
from .execution import report_flow_failure
from .log_capture import flush_line_buffer

_RANK = {RunCancelled: 1, RunFinished: 2, WorkerShutdown: 3}


class SubflowError(RuntimeError):
    """A subflow could not run as a child run (the server refused it), or the server ended the
    child run on its own; raised in the parent at the call."""


class SubflowContext(RunContext):
    """The run context of a child run: its own channel and task calls, and the stops of every run
    above it (a parent's stop is the child's too)."""

    def __init__(self, run_id, flow_name, channel, parent):
        # type: (str, str, Any, RunContext) -> None
        super().__init__(run_id, flow_name, channel)
        self.parent = parent
        self.subflow_host = getattr(parent, "subflow_host", None)
        self.server = getattr(parent, "server", None)
        self.echo = getattr(parent, "echo", False)

    def inherited_stop(self):
        # type: () -> Optional[type]
        """The strongest stop requested of a run above this one, if any."""
        run = self.parent  # type: Any
        kind = None
        while run is not None:
            own = run._stop
            if own is not None and (kind is None or _RANK[own] > _RANK[kind]):
                kind = own
            run = getattr(run, "parent", None)
        return kind

    @property
    def stop_kind(self):
        # type: () -> Optional[type]
        """The pending stop request of this run or of a run above it."""
        own, up = self._stop, self.inherited_stop()
        if own is None or (up is not None and _RANK[up] > _RANK[own]):
            return up
        return own

    def check_boundary(self):
        # type: () -> None
        """Raise the pending stop request of this run or of a run above it."""
        kind = self.stop_kind
        if kind is not None:
            raise kind("run %s stopped at a task boundary" % self.run_id)


def _json_safe(value):
    # type: (Any) -> Any
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


def wire_parameters(func, args, kwargs):
    # type: (Any, Tuple[Any, ...], Dict[str, Any]) -> Dict[str, Any]
    """The call's arguments by parameter name, as the child run's parameters (values that are
    not JSON are sent as their ``repr``); raises ``TypeError`` as the call itself would."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return {}
    bound = signature.bind(*args, **kwargs)
    out = {}  # type: Dict[str, Any]
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            for key, item in value.items():
                out[str(key)] = _json_safe(item)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        else:
            out[name] = _json_safe(value)
    return out


def call_flow(flow, args, kwargs):
    # type: (Any, Tuple[Any, ...], Dict[str, Any]) -> Any
    """``flow(*args, **kwargs)``: a subflow inside a served run; elsewhere the flow called
    directly (``parallel.call_flow``: its own scope for submissions, its timeout). An ``async``
    subflow returns an awaitable, like the function: it executes in a thread of its own with
    its own event loop, so the parent's loop keeps running."""
    parent = current_run()
    if parent is None:
        # Outside any run: with PERFECT_URL set the call is recorded as a direct run.
        from .direct import call_direct

        return call_direct(flow, args, kwargs)
    host = getattr(parent, "subflow_host", None)
    if host is None:
        return _parallel.call_flow(flow, args, kwargs)
    if getattr(flow, "is_async", False):
        async def awaited():
            return await asyncio.to_thread(_call_subflow, parent, host, flow, args, kwargs)
        return awaited()
    return _call_subflow(parent, host, flow, args, kwargs)


def _call_subflow(parent, host, flow, args, kwargs):
    # type: (RunContext, Any, Any, Tuple[Any, ...], Dict[str, Any]) -> Any
    parameters = wire_parameters(flow.func, args, kwargs)
    parent.check_boundary()
    call = TaskCall(parent.next_call(), flow.name)
    channel = parent.channel
    channel.emit("task_started", {"call": call.index, "task": flow.name, "attempt": 1})
    start = time.monotonic()
    try:
        child = host.start_subflow(parent, call.index, flow, parameters)
    except RunInterrupted:
        raise
    except BaseException as exc:
        _task_failed(parent, call, exc, start, "subflow %s could not start: %s" % (flow.name, describe_exception(exc)))
        raise
    try:
        result = _execute_child(child, flow, args, kwargs)
    except RunInterrupted:
        raise  # the parent stops too: its end closes this task call
    except BaseException as exc:
        _task_failed(parent, call, exc, start, "subflow %s (run %s) failed: %s"
                     % (flow.name, child.run_id, describe_exception(exc)))
        raise
    finally:
        host.subflow_ended(child)
    channel.end_task(call.index)
    channel.emit("task_completed", {"call": call.index, "durationMs": int(round((time.monotonic() - start) * 1000))})
    return result


def _task_failed(parent, call, exc, start, message):
    # type: (RunContext, TaskCall, BaseException, float, str) -> None
    parent.channel.end_task(call.index)
    parent.log("ERROR", message, call.index)
    parent.channel.emit("task_failed", {"call": call.index, "error": describe_exception(exc),
                                        "durationMs": int(round((time.monotonic() - start) * 1000))})


def _execute_child(child, flow, args, kwargs):
    # type: (SubflowContext, Any, Tuple[Any, ...], Dict[str, Any]) -> Any
    """Run the flow function as the child run and emit the child's terminal event; return its
    result or raise what the parent should see."""
    channel = child.channel
    run_token = _current_run.set(child)
    call_token = _current_call.set(None)
    # Inside a run's own process, threads the flow starts find their run through the process
    # run: the child's while it executes.
    swapped = _context._process_run is child.parent
    if swapped:
        _context.set_process_run(child)
    try:
        try:
            # The child's body gets what a flow called directly gets: a scope for its
            # submissions, its timeout, an event loop when it is async.
            body = _parallel.call_flow(flow, args, kwargs)
            result = asyncio.run(body) if getattr(flow, "is_async", False) else body
        except RunInterrupted as stop:
            flush_line_buffer(child)
            _child_stopped(child, type(stop))
            raise _for_parent(child, type(stop))
        except BaseException as exc:
            report_flow_failure(child, child.flow_name, exc)
            raise
        flush_line_buffer(child)
        stop = child.stop_kind
        if stop is not None:
            # Asked to stop during its last task: the child ends the way the stop says.
            _child_stopped(child, stop)
            raise _for_parent(child, stop)
        channel.emit("run_completed", terminal=True)
        return result
    finally:
        if swapped:
            _context.set_process_run(child.parent)
        _current_call.reset(call_token)
        _current_run.reset(run_token)


def _child_stopped(child, kind):
    # type: (SubflowContext, type) -> None
    if kind is RunCancelled:
        child.channel.emit("run_cancelled", terminal=True)
    elif kind is RunFinished:
        child.channel.drop()
    # WorkerShutdown: the shutdown reports every run it holds FAILED, children included.


def _for_parent(child, kind):
    # type: (SubflowContext, type) -> BaseException
    """What the parent raises at the call after its child stopped with ``kind``."""
    if child.inherited_stop() is not None or kind is not RunFinished:
        return kind("run %s stopped: its subflow %s (run %s) stopped" % (child.parent.run_id, child.flow_name, child.run_id))
    return SubflowError("subflow %s (run %s) was ended by the server" % (child.flow_name, child.run_id))


# -- inside a run's own process --------------------------------------------------------------------


class PipeSubflowChannel:
    """A child run's channel inside a run's own process: every call is one message to the
    supervisor, which numbers, batches and delivers the child's events like the run's."""

    def __init__(self, pipe, run_id):
        # type: (Any, str) -> None
        self._pipe = pipe
        self.run_id = run_id
        self._progress_calls = set()  # type: set
        self.closed = False
        self.dropped = False

    def emit(self, event_type, fields=None, terminal=False, ts=None):
        # type: (str, Optional[Dict[str, Any]], bool, Optional[str]) -> bool
        """Forward an event of the child run; False once its end was sent."""
        from .protocol import iso_utc

        if self.closed or self.dropped:
            return False
        if terminal:
            self.closed = True
        return self._pipe._send(("emit_to", self.run_id, event_type, fields, ts or iso_utc(), terminal))

    def progress(self, call, fraction):
        # type: (int, float) -> None
        """Forward task progress of the child run."""
        if not (self.closed or self.dropped):
            self._progress_calls.add(call)
            self._pipe._send(("progress_to", self.run_id, call, fraction))

    def end_task(self, call):
        # type: (int) -> None
        """Let the supervisor send the task's held progress before its end."""
        if call in self._progress_calls:
            self._progress_calls.discard(call)
            self._pipe._send(("end_task_to", self.run_id, call))

    def drop(self):
        # type: () -> int
        """The server will not take the child's events any more."""
        self.dropped = True
        self._pipe._send(("drop_to", self.run_id))
        return 0


class ProcessSubflowHost:
    """Starts child runs from inside a run's own process: the request goes to the supervisor over
    the pipe and the answer comes back to the process's stop listener (``answer``)."""

    def __init__(self, pipe):
        # type: (Any) -> None
        self._pipe = pipe
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting = {}  # type: Dict[int, Dict[str, Any]]
        self._children = {}  # type: Dict[str, SubflowContext]

    def start_subflow(self, parent, call, flow, parameters):
        # type: (RunContext, int, Any, Dict[str, Any]) -> SubflowContext
        """Ask the supervisor for the child run of ``parent``'s task call ``call``."""
        request_id = next(self._ids)
        slot = {"done": threading.Event()}  # type: Dict[str, Any]
        with self._lock:
            self._waiting[request_id] = slot
        if not self._pipe._send(("subflow", request_id, parent.run_id, call, flow.definition(), parameters)):
            raise WorkerShutdown("the worker is gone: subflow %s cannot start" % flow.name)
        while not slot["done"].wait(0.2):
            parent.check_boundary()
        with self._lock:
            self._waiting.pop(request_id, None)
        if not slot.get("ok"):
            raise SubflowError(slot.get("error") or "subflow %s could not start" % flow.name)
        child = SubflowContext(str(slot["run_id"]), flow.name, PipeSubflowChannel(self._pipe, str(slot["run_id"])), parent)
        child.subflow_host = self
        with self._lock:
            self._children[child.run_id] = child
        return child

    def subflow_ended(self, child):
        # type: (SubflowContext) -> None
        """The child finished executing here."""
        with self._lock:
            self._children.pop(child.run_id, None)

    def answer(self, request_id, ok, value):
        # type: (int, bool, Any) -> None
        """The supervisor's answer to a ``subflow`` request: the child's id, or an error text."""
        with self._lock:
            slot = self._waiting.get(request_id)
        if slot is None:
            return
        slot["ok"] = ok
        slot["run_id" if ok else "error"] = value
        slot["done"].set()

    def stop(self, run_id, kind):
        # type: (str, type) -> None
        """A stop the supervisor relays for one child run."""
        with self._lock:
            child = self._children.get(run_id)
        if child is not None:
            child.request_stop(kind)
