"""Executing one task call: locally (no server) or inside a served run, with retries and the
``task_*`` events that describe it."""
import contextvars
import logging
import threading
import time
import traceback
from typing import Any, Dict, Optional, Tuple

from .concurrency import Held, acquire_slot, log_slot_wait, release_slot
from .context import RunContext, TaskCall, _current_call, current_run
from .errors import RunInterrupted, describe_exception
from .futures import InputFailed, holds_futures, resolve_arguments
from .log_capture import flush_line_buffer
from .parallel import check_local_start

_local_logger = logging.getLogger("perfect.run")
#: The clock durations are measured with (replaceable in tests).
_clock = time.monotonic


def call_task(task, args, kwargs):
    # type: (Any, Tuple[Any, ...], Dict[str, Any]) -> Any
    """Run ``task`` with its retry policy; report it to the server when inside a served run.

    Futures among the arguments (``task.submit``) are waited for first; a failed one raises its
    exception here. An ``async`` task returns a coroutine (``async_execution``)."""
    if getattr(task, "is_async", False):
        from .async_execution import call_task_async

        return call_task_async(task, args, kwargs)
    if holds_futures(args, kwargs):
        try:
            args, kwargs = resolve_arguments(args, kwargs)
        except InputFailed as exc:
            raise exc.error from None
    return call_task_now(task, args, kwargs)


def call_task_now(task, args, kwargs, call_index=None):
    # type: (Any, Tuple[Any, ...], Dict[str, Any], Optional[int]) -> Any
    """``call_task`` once its arguments are values; ``call_index`` is the task call a
    submission was given when it was submitted (None: the next one)."""
    run = current_run()
    if run is None:
        check_local_start()
        return _call_locally(task, args, kwargs)
    return _call_in_run(run, task, args, kwargs, call_index)


def _call_locally(task, args, kwargs):
    # type: (Any, Tuple[Any, ...], Dict[str, Any]) -> Any
    attempt = 1
    while True:
        try:
            return _attempt(task, args, kwargs)
        except Exception as exc:
            delay = local_retry(task, exc, attempt)
            attempt += 1
            if delay > 0:
                time.sleep(delay)


def local_retry(task, exc, attempt):
    # type: (Any, BaseException, int) -> float
    """Attempt ``attempt`` of ``task`` failed outside a served run: re-raises ``exc`` when the
    retries are spent, else logs the retry and returns the delay before the next attempt.
    Shared by the sync and async paths."""
    if attempt > task.retries:
        raise exc
    delay = _delay(task, attempt)
    _local_logger.warning("task %s failed (%s); retry %d of %d in %ss", task.name, describe_exception(exc), attempt, task.retries, delay)
    return delay


def next_attempt(run, task, call, exc, attempt, start):
    # type: (RunContext, Any, TaskCall, BaseException, int, float) -> Tuple[int, float, str]
    """Attempt ``attempt`` of a task call failed inside a run: when its retries are spent the
    call fails (its event sent) and ``exc`` is re-raised; else the retry is logged and the next
    attempt's number, the delay before it and the error are returned. Shared by the sync and
    async paths, which only wait differently."""
    if attempt > task.retries:
        _fail(run, call, exc, attempt, start)
        raise exc
    delay = _delay(task, attempt)
    error = describe_exception(exc)
    run.log("WARNING", "task %s attempt %d failed (%s); retrying in %ss" % (task.name, attempt, error, delay), call.index)
    return attempt + 1, delay, error


def start_attempt(run, call, attempt, error):
    # type: (RunContext, TaskCall, int, str) -> float
    """After a retry's delay: a new attempt is a task boundary too (a cancel during the delay
    stops here); ``task_retrying`` marks its start, and its duration is measured from the same
    instant (returned)."""
    run.check_boundary()
    run.channel.emit("task_retrying", {"call": call.index, "attempt": attempt, "error": error})
    return _clock()


def _attempt(task, args, kwargs):
    # type: (Any, Tuple[Any, ...], Dict[str, Any]) -> Any
    """One attempt of ``task``; with a ``timeout``, in a thread of the run (same context: the
    run, the task call) waited for at most that long, then ``TimeoutError``."""
    timeout = getattr(task, "timeout", None)
    if timeout is None:
        return task.func(*args, **kwargs)
    outcome = {}  # type: Dict[str, Any]
    done = threading.Event()
    context = contextvars.copy_context()

    def body():
        try:
            outcome["value"] = context.run(task.func, *args, **kwargs)
        except BaseException as exc:  # noqa: B902 - handed to the caller's thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=body, name="perfect-task-" + task.name, daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError("task %s exceeded its timeout of %gs" % (task.name, timeout))
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _delay(task, failed_attempt):
    # type: (Any, int) -> float
    """Seconds to wait after attempt ``failed_attempt`` failed (a task may give one delay per
    retry: the Prefect shim's ``retry_delay_seconds=[...]``)."""
    delays = getattr(task, "retry_delays", None)
    if delays:
        return float(delays[min(failed_attempt, len(delays)) - 1])
    return task.retry_delay


def _milliseconds_since(start):
    # type: (float) -> int
    return int(round((_clock() - start) * 1000))


def format_traceback(exc):
    # type: (BaseException) -> str
    """The exception's traceback without the SDK's own calling frame."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


def report_flow_failure(context, flow_name, exc, error=None):
    # type: (RunContext, str, BaseException, Optional[str]) -> None
    """End ``context``'s run as FAILED by ``exc``: its buffered output flushed, the traceback logged
    once (not again when a task already logged it), then the terminal ``run_failed`` event with
    ``error`` (default: the exception described)."""
    flush_line_buffer(context)
    if not getattr(exc, "__perfect_logged__", False):
        context.log("ERROR", "flow %s failed\n%s" % (flow_name, format_traceback(exc)))
        mark_logged(exc)
    context.channel.emit("run_failed", {"error": error or describe_exception(exc)}, terminal=True)


def mark_logged(exc):
    # type: (BaseException) -> None
    """Remember that ``exc``'s traceback is already in the run's logs."""
    try:
        exc.__perfect_logged__ = True  # type: ignore[attr-defined]
    except Exception:
        pass


def _call_in_run(run, task, args, kwargs, call_index=None):
    # type: (RunContext, Any, Tuple[Any, ...], Dict[str, Any], Optional[int]) -> Any
    run.check_boundary()
    call = TaskCall(run.next_call() if call_index is None else call_index, task.name)
    channel = run.channel
    # A task with a concurrency_key holds one of the key's slots through all its attempts.
    held = acquire_slot(run, task, call)
    try:
        return _call_holding(run, task, call, channel, held, args, kwargs)
    finally:
        release_slot(run, held)


def _call_holding(run, task, call, channel, held, args, kwargs):
    # type: (RunContext, Any, TaskCall, Any, Optional[Held], Tuple[Any, ...], Dict[str, Any]) -> Any
    channel.emit("task_started", {"call": call.index, "task": task.name, "attempt": 1})
    log_slot_wait(run, call, held)
    # durationMs covers the last attempt only: the server judges outliers (and learns its
    # statistics) on one attempt's work, not on failed attempts and retry delays before it.
    start = _clock()
    attempt = 1
    token = _current_call.set(call)
    try:
        while True:
            try:
                result = _attempt(task, args, kwargs)
                break
            except RunInterrupted:
                raise
            except Exception as exc:
                attempt, delay, error = next_attempt(run, task, call, exc, attempt, start)
                if delay > 0:
                    run.stop_requested.wait(delay)
                start = start_attempt(run, call, attempt, error)
            except BaseException as exc:
                _fail(run, call, exc, attempt, start)
                raise
    finally:
        # Also on a stop request, so a half-printed line is not lost.
        flush_line_buffer(run, call)
        _current_call.reset(token)
    channel.end_task(call.index)
    channel.emit("task_completed", {"call": call.index, "durationMs": _milliseconds_since(start)})
    return result


def _fail(run, call, exc, attempt, start):
    # type: (RunContext, TaskCall, BaseException, int, float) -> None
    flush_line_buffer(run, call)
    run.channel.end_task(call.index)
    if not getattr(exc, "__perfect_logged__", False):
        attempts = " after %d attempts" % attempt if attempt > 1 else ""
        run.log("ERROR", "task %s failed%s\n%s" % (call.name, attempts, format_traceback(exc)), call.index)
        mark_logged(exc)
    run.channel.emit("task_failed", {
        "call": call.index, "error": describe_exception(exc), "durationMs": _milliseconds_since(start),
    })
