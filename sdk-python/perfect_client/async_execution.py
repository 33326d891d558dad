"""Executing one call of an ``async def`` task: the coroutine a call returns.

Same reporting as a sync call (``execution``): ``task_started``, retries, ``task_completed`` or
``task_failed``, with ``print``/logging/``progress()`` attributed to the call through the context
variable ``_current_call``, which asyncio copies per task (so ``asyncio.gather`` of several calls
keeps each one's lines apart). ``timeout`` is ``asyncio.wait_for``: the attempt is cancelled and
fails with ``TimeoutError``.
"""
import asyncio
import time
from typing import Any, Dict, Optional, Tuple

from .concurrency import acquire_slot, log_slot_wait, release_slot
from .context import TaskCall, _current_call, current_run
from .errors import RunInterrupted
from .log_capture import flush_line_buffer

_clock = time.monotonic


async def _attempt(task, args, kwargs):
    # type: (Any, Tuple[Any, ...], Dict[str, Any]) -> Any
    timeout = getattr(task, "timeout", None)
    if timeout is None:
        return await task.func(*args, **kwargs)
    try:
        return await asyncio.wait_for(task.func(*args, **kwargs), timeout)
    except asyncio.TimeoutError:
        raise TimeoutError("task %s exceeded its timeout of %gs" % (task.name, timeout)) from None


async def _sleep(run, seconds):
    # type: (Any, float) -> None
    """Sleep ``seconds``, waking early on a stop request of ``run``."""
    deadline = _clock() + seconds
    while True:
        left = deadline - _clock()
        if left <= 0 or (run is not None and run.stop_requested.is_set()):
            return
        await asyncio.sleep(min(left, 0.05))


async def call_task_async(task, args, kwargs, call_index=None):
    # type: (Any, Tuple[Any, ...], Dict[str, Any], Optional[int]) -> Any
    """The coroutine of one call of an async ``task``: its retries, its timeout, and inside a
    served run its events. Futures among the arguments are awaited first."""
    from .execution import local_retry
    from .futures import InputFailed
    from .parallel import _resolve_async, check_local_start

    try:
        args, kwargs = await _resolve_async(args, kwargs)
    except InputFailed as exc:
        raise exc.error from None
    run = current_run()
    if run is None:
        check_local_start()
        attempt = 1
        while True:
            try:
                return await _attempt(task, args, kwargs)
            except Exception as exc:
                delay = local_retry(task, exc, attempt)
                attempt += 1
                await _sleep(None, delay)
    run.check_boundary()
    call = TaskCall(run.next_call() if call_index is None else call_index, task.name)
    # A task with a concurrency_key holds one of the key's slots through all its attempts; the
    # wait (an HTTP long poll, or the run process's pipe) happens off the event loop.
    held = await asyncio.to_thread(acquire_slot, run, task, call) if getattr(task, "concurrency_key", None) else None
    try:
        return await _call_async_holding(run, task, call, held, args, kwargs)
    finally:
        if held is not None:
            await asyncio.to_thread(release_slot, run, held)


async def _call_async_holding(run, task, call, held, args, kwargs):
    # type: (Any, Any, TaskCall, Any, Tuple[Any, ...], Dict[str, Any]) -> Any
    from .execution import _fail, _milliseconds_since, next_attempt, start_attempt

    channel = run.channel
    channel.emit("task_started", {"call": call.index, "task": task.name, "attempt": 1})
    log_slot_wait(run, call, held)
    start = _clock()
    attempt = 1
    token = _current_call.set(call)
    try:
        while True:
            try:
                result = await _attempt(task, args, kwargs)
                break
            except RunInterrupted:
                raise
            except Exception as exc:
                attempt, delay, error = next_attempt(run, task, call, exc, attempt, start)
                await _sleep(run, delay)
                start = start_attempt(run, call, attempt, error)
            except BaseException as exc:  # CancelledError: the flow (or its timeout) cancelled it
                _fail(run, call, exc, attempt, start)
                raise
    finally:
        flush_line_buffer(run, call)
        _current_call.reset(token)
    channel.end_task(call.index)
    channel.emit("task_completed", {"call": call.index, "durationMs": _milliseconds_since(start)})
    return result
