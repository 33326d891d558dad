"""The heart of the Prefect shim: Prefect's ``@flow``/``@task``, futures, states, tags and
``serve`` mapped onto Perfect's own (``perfect_client``): a shim task *is* a Perfect ``Task`` and
a shim flow *is* a Perfect ``Flow`` (so discovery, registration, served runs, direct runs and
subflows work unchanged); only the Prefect-shaped surface — keyword names, ``return_state``,
``wait_for``, returned states, hooks, ``serve(cron=…)`` — lives here.
"""
import contextlib
import contextvars
import datetime as _dt
import enum
import functools
import inspect
import logging
import queue
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

from .. import decorators as _decorators
from ..context import current_call, current_run
from ..errors import RunCancelled
from ..futures import PerfectFuture, unmapped
from ..log_capture import get_logger
from ..schedules import cron as _cron
from ..schedules import interval as _interval


class UnsupportedFeature(ImportError):
    """A Prefect feature the shim does not cover; the launcher prints one line naming it."""

    def __init__(self, feature):
        # type: (str) -> None
        self.feature = feature
        super().__init__("%s is not supported by Perfect's Prefect shim" % feature)


class UnsupportedAttribute(AttributeError):
    """An attribute of a shim module the shim does not provide (``prefect.deploy``): an
    ``AttributeError`` so ``getattr(prefect, name, default)`` and ``hasattr`` keep working; the
    launcher reports it as one line."""

    def __init__(self, feature):
        # type: (str) -> None
        self.feature = feature
        super().__init__("%s is not supported by Perfect's Prefect shim" % feature)


def unsupported(feature):
    # type: (str) -> UnsupportedFeature
    """The error for ``feature``."""
    return UnsupportedFeature(feature)


# -- states ---------------------------------------------------------------------------------------


class StateType(enum.Enum):
    """Prefect's state types."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CANCELLING = "CANCELLING"
    CRASHED = "CRASHED"
    PAUSED = "PAUSED"


class FailedRun(RuntimeError):
    """What a failed state without an exception raises (its message)."""


FailedRun.__module__ = "prefect.exceptions"  # how tracebacks name it: the user's vocabulary


def _is(kind):
    # type: (StateType) -> Any
    """``State.is_<kind>()``: True when the state is of ``kind``."""
    def check(self):
        return self.type is kind
    check.__name__ = "is_" + kind.value.lower()
    check.__doc__ = "True for %s." % kind.value
    return check


class State:
    """A Prefect state: ``type``, ``name``, ``message``, ``data`` (the result or the exception)."""

    def __init__(self, type, message=None, data=None, name=None):  # noqa: A002 - Prefect's name
        # type: (StateType, Optional[str], Any, Optional[str]) -> None
        self.type = type
        self.message = message
        self.data = data
        self.name = name or type.value.title()
        self.timestamp = _dt.datetime.now(_dt.timezone.utc)

    def result(self, raise_on_failure=True, fetch=True):
        # type: (bool, bool) -> Any
        """The data of a completed state; a failed or cancelled one raises (or, with
        ``raise_on_failure=False``, returns its exception)."""
        if self.type in (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED):
            error = self.data if isinstance(self.data, BaseException) else (
                RunCancelled(self.message or "cancelled") if self.type is StateType.CANCELLED
                else FailedRun(self.message or "run failed"))
            if raise_on_failure:
                raise error
            return error
        if isinstance(self.data, State):
            return self.data.result(raise_on_failure=raise_on_failure)
        return self.data

    is_completed = _is(StateType.COMPLETED)
    is_failed = _is(StateType.FAILED)
    is_crashed = _is(StateType.CRASHED)
    is_cancelled = _is(StateType.CANCELLED)
    is_running = _is(StateType.RUNNING)
    is_pending = _is(StateType.PENDING)
    is_scheduled = _is(StateType.SCHEDULED)
    is_paused = _is(StateType.PAUSED)

    def is_final(self):
        """True for COMPLETED, FAILED, CRASHED and CANCELLED."""
        return self.type in (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)

    def __repr__(self):
        return "%s(message=%r, type=%s)" % (self.name, self.message, self.type.value)


def _state_maker(kind, doc):
    # type: (StateType, str) -> Any
    """Prefect's state constructors (``Completed(message=None, data=None, name=None)``, …)."""
    def make(message=None, data=None, **kwargs):
        return State(kind, message, data, kwargs.get("name"))
    make.__name__ = make.__qualname__ = kind.value.title()
    make.__doc__ = doc
    return make


# Prefect's names, one per state type; what returning each from a flow or task means.
Completed = _state_maker(StateType.COMPLETED, "A COMPLETED state (``data``: the result).")
Failed = _state_maker(StateType.FAILED, "A FAILED state: a flow or task returning it fails with ``message``.")
Crashed = _state_maker(StateType.CRASHED, "A CRASHED state (treated as FAILED).")
Cancelled = _state_maker(StateType.CANCELLED, "A CANCELLED state: a flow returning it ends CANCELLED.")
Pending = _state_maker(StateType.PENDING, "A PENDING state.")
Running = _state_maker(StateType.RUNNING, "A RUNNING state.")
Scheduled = _state_maker(StateType.SCHEDULED, "A SCHEDULED state.")


def _failed_state(exc):
    # type: (BaseException) -> State
    if isinstance(exc, RunCancelled):
        return Cancelled(message=str(exc), data=exc)
    if isinstance(exc, FailedRun):
        return Failed(message=str(exc), data=exc)
    return Failed(message="%s: %s" % (type(exc).__name__, exc), data=exc)


def _raise_for(state):
    # type: (State) -> None
    """A failed or cancelled state returned by a flow or task becomes its outcome."""
    if state.type in (StateType.FAILED, StateType.CRASHED):
        if isinstance(state.data, BaseException):
            raise state.data
        raise FailedRun(state.message or "returned a %s state" % state.name)
    if state.type is StateType.CANCELLED:
        raise RunCancelled(state.message or "returned a Cancelled state")


def _settle(value):
    # type: (Any) -> Any
    """What a flow or task returned, Prefect's way: a state is its outcome, futures are waited
    for, a list or tuple of them fails when any member failed."""
    if isinstance(value, PrefectFuture):
        return _settle(value.result())
    if isinstance(value, PerfectFuture):
        return value.result()
    if isinstance(value, State):
        _raise_for(value)
        return value.result()
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (State, PrefectFuture)) for v in value):
        states = [v if isinstance(v, State) else v.state for v in value]
        for state in states:
            _raise_for(state)
        return type(value)(s.result() for s in states) if isinstance(value, tuple) else [s.result() for s in states]
    return value


# -- futures --------------------------------------------------------------------------------------


class PrefectFuture:
    """Prefect's future over a Perfect ``PerfectFuture``: ``result(timeout=None,
    raise_on_failure=True)``, ``wait(timeout=None)``, ``state``, ``done()``."""

    def __init__(self, inner, task_name):
        # type: (PerfectFuture, str) -> None
        self._inner = inner
        self.task_name = task_name

    @property
    def task_run_id(self):
        """The task call's index in its run (Perfect has no separate task run id here)."""
        return getattr(self._inner, "call", None)

    def wait(self, timeout=None):
        # type: (Optional[float]) -> None
        """Wait until the call ended (or ``timeout`` seconds passed)."""
        self._inner.wait(timeout)

    def done(self):
        # type: () -> bool
        """Whether the call ended."""
        return self._inner.done()

    def result(self, timeout=None, raise_on_failure=True):
        # type: (Optional[float], bool) -> Any
        """The call's value; its exception is raised (returned with ``raise_on_failure=False``)."""
        try:
            return self._inner.result(timeout)
        except TimeoutError:
            raise
        except Exception as exc:
            if raise_on_failure:
                raise
            return exc

    @property
    def state(self):
        # type: () -> State
        """The call's state now."""
        if not self._inner.done():
            return Running()
        error = self._inner.exception(0)
        if error is not None:
            self._inner.mark_handled()
            return _failed_state(error)
        return Completed(data=self._inner.result(0))

    def add_done_callback(self, fn):
        # type: (Callable[[Any], None]) -> None
        """Call ``fn(self)`` when the call ends."""
        self._inner.add_done_callback(lambda _f: fn(self))

    def __repr__(self):
        return "PrefectFuture(%s, %s)" % (self.task_name, "done" if self.done() else "running")


class PrefectFutureList(list):
    """What ``task.map`` returns: a list of futures with ``wait()`` and ``result()``."""

    def wait(self, timeout=None):
        # type: (Optional[float]) -> None
        """Wait for every future."""
        wait(list(self), timeout)

    def result(self, timeout=None, raise_on_failure=True):
        # type: (Optional[float], bool) -> List[Any]
        """Every future's value, in order."""
        return [f.result(timeout, raise_on_failure=raise_on_failure) for f in self]


class DoneAndNotDoneFutures(tuple):
    """``wait``'s answer: ``(done, not_done)`` sets."""

    def __new__(cls, done, not_done):
        return super().__new__(cls, (done, not_done))

    @property
    def done(self):
        """The futures that ended."""
        return self[0]

    @property
    def not_done(self):
        """The futures still running."""
        return self[1]


def wait(futures, timeout=None):
    # type: (Iterable[Any], Optional[float]) -> DoneAndNotDoneFutures
    """Wait for the futures (at most ``timeout`` seconds); ``(done, not_done)``."""
    futures = list(futures)
    deadline = None if timeout is None else time.monotonic() + timeout
    for f in futures:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        f.wait(left)
    done = set(f for f in futures if f.done())
    return DoneAndNotDoneFutures(done, set(futures) - done)


def as_completed(futures, timeout=None):
    # type: (Iterable[Any], Optional[float]) -> Any
    """Yield the futures in the order they end; ``TimeoutError`` past ``timeout`` seconds."""
    futures = list(futures)
    ended = queue.Queue()  # type: queue.Queue
    for f in futures:
        f.add_done_callback(ended.put)
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = set()  # type: set
    while len(seen) < len(set(map(id, futures))):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise TimeoutError("%d of %d futures did not finish within %ss" % (len(futures) - len(seen), len(futures), timeout))
        try:
            f = ended.get(timeout=left)
        except queue.Empty:
            continue
        if id(f) not in seen:
            seen.add(id(f))
            yield f


def _inner_futures(value):
    # type: (Any) -> Any
    """Shim futures among a call's arguments, as the Perfect futures it resolves."""
    if isinstance(value, PrefectFuture):
        return value._inner
    if isinstance(value, PrefectFutureList):
        return [v._inner if isinstance(v, PrefectFuture) else v for v in value]
    if isinstance(value, list):
        return [v._inner if isinstance(v, PrefectFuture) else v for v in value]
    if isinstance(value, tuple):
        return tuple(v._inner if isinstance(v, PrefectFuture) else v for v in value)
    if isinstance(value, unmapped):
        return unmapped(_inner_futures(value.value))
    return value


def _arguments(args, kwargs, wait_for):
    # type: (tuple, Dict[str, Any], Any) -> Any
    if wait_for:
        for f in (wait_for if isinstance(wait_for, (list, tuple, set)) else [wait_for]):
            if isinstance(f, (PrefectFuture, PerfectFuture)):
                f.wait()
    return tuple(_inner_futures(a) for a in args), {k: _inner_futures(v) for k, v in kwargs.items()}


# -- hooks ----------------------------------------------------------------------------------------

_hook_log = logging.getLogger("perfect.run.prefect")


class _RunInfo:
    """What hooks and ``prefect.runtime`` see of the current run."""

    def __init__(self, name, parameters):
        # type: (str, Dict[str, Any]) -> None
        run = current_run()
        self.id = getattr(run, "run_id", None)
        self.name = self.id and "run-%s" % self.id
        self.flow_name = name
        self.parameters = parameters


def _hooks(value, what):
    # type: (Any, str) -> List[Callable[..., Any]]
    if value is None:
        return []
    hooks = list(value) if isinstance(value, (list, tuple)) else [value]
    for hook in hooks:
        if not callable(hook):
            raise TypeError("%s hooks must be callables, got %r" % (what, hook))
    return hooks


def _run_hooks(hooks, owner, info, state):
    # type: (List[Callable[..., Any]], Any, Any, State) -> None
    for hook in hooks:
        try:
            hook(owner, info, state)
        except Exception as err:  # Prefect logs a failing hook and goes on
            get_logger().error("hook %s failed: %s: %s", getattr(hook, "__name__", hook), type(err).__name__, err)


# -- tags -----------------------------------------------------------------------------------------

_tags = contextvars.ContextVar("prefect_shim_tags", default=())  # type: contextvars.ContextVar


@contextlib.contextmanager
def tags(*names):
    # type: (*str) -> Any
    """``with tags("etl", "daily"):`` — flows called inside carry these tags (as Perfect tags
    ``{"etl": "true", ...}``)."""
    token = _tags.set(tuple(_tags.get()) + tuple(str(n) for n in names))
    try:
        yield set(_tags.get())
    finally:
        _tags.reset(token)


def _tag_dict(names):
    # type: (Iterable[Any]) -> Dict[str, str]
    if isinstance(names, dict):
        return {str(k): str(v) for k, v in names.items()}
    return {str(n): "true" for n in names or ()}


# -- tasks ----------------------------------------------------------------------------------------

_TASK_IGNORED = ("tags", "version", "log_prints", "task_run_name", "persist_result", "cache_key_fn",
                 "cache_expiration", "cache_policy", "refresh_cache", "retry_jitter_factor", "cache_result_in_memory",
                 "result_storage_key", "viz_return_value")
_TASK_UNSUPPORTED = ("result_storage", "result_serializer", "retry_condition_fn", "on_rollback", "on_commit",
                     "asset_deps")


def _delays(retry_delay_seconds):
    # type: (Any) -> List[float]
    if retry_delay_seconds is None:
        return [0.0]
    if isinstance(retry_delay_seconds, (list, tuple)):
        values = [float(v) for v in retry_delay_seconds] or [0.0]
    else:
        values = [float(retry_delay_seconds)]
    if any(v < 0 for v in values):
        raise ValueError("retry_delay_seconds must be >= 0, got %r" % (retry_delay_seconds,))
    return values


class Task(_decorators.Task):
    """Prefect's ``@task`` on a Perfect task: ``name``, ``description``, ``retries``,
    ``retry_delay_seconds`` (seconds, or one per retry), ``timeout_seconds``, ``on_completion``/
    ``on_failure`` hooks; ``tags``, ``version``, ``log_prints`` (print is always captured),
    ``task_run_name``, ``persist_result`` and ``cache_*`` are accepted and ignored."""

    def __init__(self, fn, name=None, description=None, retries=None, retry_delay_seconds=None, timeout_seconds=None,
                 on_completion=None, on_failure=None, **options):
        # type: (Callable[..., Any], Optional[str], Optional[str], Optional[int], Any, Optional[float], Any, Any, **Any) -> None
        for key in options:
            if key in _TASK_UNSUPPORTED or key not in _TASK_IGNORED:
                raise unsupported("@task(%s=...)" % key)
        self.fn = fn
        self._options = dict(options, name=name, description=description, retries=retries,
                             retry_delay_seconds=retry_delay_seconds, timeout_seconds=timeout_seconds,
                             on_completion=on_completion, on_failure=on_failure)
        delays = _delays(retry_delay_seconds)

        @functools.wraps(fn)
        def body(*args, **kwargs):
            return _settle(fn(*args, **kwargs))

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def body(*args, **kwargs):  # noqa: F811 - the async form of the same body
                return _settle(await fn(*args, **kwargs))

        super().__init__(body, name=name or getattr(fn, "__name__", "task"), retries=int(retries or 0),
                         retry_delay=delays[0], description=description, timeout=timeout_seconds)
        self.retry_delays = delays if len(delays) > 1 else None
        self.tags = set(options.get("tags") or ())
        self.on_completion_hooks = _hooks(on_completion, "on_completion")
        self.on_failure_hooks = _hooks(on_failure, "on_failure")

    def with_options(self, **changes):
        # type: (**Any) -> "Task"
        """A copy with some options changed."""
        options = dict(self._options)
        options.update(changes)
        return Task(self.fn, **options)

    def _finish(self, state):
        # type: (State) -> None
        hooks = self.on_completion_hooks if state.is_completed() else self.on_failure_hooks
        if hooks:
            call = current_call()
            _run_hooks(hooks, self, _RunInfo(getattr(call, "name", self.name), {}), state)

    def __call__(self, *args, return_state=False, wait_for=None, **kwargs):
        args, kwargs = _arguments(args, kwargs, wait_for)
        if self.is_async:
            return self._call_async(args, kwargs, return_state)
        try:
            value = super().__call__(*args, **kwargs)
        except Exception as exc:
            state = _failed_state(exc)
            self._finish(state)
            if return_state:
                return state
            raise
        state = Completed(data=value)
        self._finish(state)
        return state if return_state else value

    async def _call_async(self, args, kwargs, return_state):
        try:
            value = await super().__call__(*args, **kwargs)
        except Exception as exc:
            state = _failed_state(exc)
            self._finish(state)
            if return_state:
                return state
            raise
        state = Completed(data=value)
        self._finish(state)
        return state if return_state else value

    def submit(self, *args, return_state=False, wait_for=None, **kwargs):
        # type: (*Any, bool, Any, **Any) -> Any
        """Run the call in the run's task pool; a ``PrefectFuture`` (its state with ``return_state=True``)."""
        args, kwargs = _arguments(args, kwargs, wait_for)
        inner = super().submit(*args, **kwargs)
        future = PrefectFuture(inner, self.name)
        if self.on_completion_hooks or self.on_failure_hooks:
            inner.add_done_callback(lambda f: self._finish(future.state))
        if return_state:
            future.wait()
            return future.state
        return future

    def map(self, *iterables, return_state=False, wait_for=None, **kwargs):
        # type: (*Any, bool, Any, **Any) -> Any
        """One call per item; a ``PrefectFutureList`` (states with ``return_state=True``)."""
        iterables, kwargs = _arguments(iterables, kwargs, wait_for)
        futures = PrefectFutureList(PrefectFuture(f, self.name) for f in super().map(*iterables, **kwargs))
        if self.on_completion_hooks or self.on_failure_hooks:
            for future in futures:
                future.add_done_callback(lambda f: self._finish(f.state))
        if return_state:
            futures.wait()
            return [f.state for f in futures]
        return futures


def task(__fn=None, **options):
    # type: (Optional[Callable[..., Any]], **Any) -> Any
    """Prefect's ``@task`` / ``@task(...)``."""
    if __fn is not None:
        return Task(__fn, **options)
    return lambda fn: Task(fn, **options)


# -- task runners -------------------------------------------------------------------------------


class ThreadPoolTaskRunner:
    """Prefect 3's thread pool: ``max_workers`` becomes the flow's ``max_parallel_tasks``."""

    def __init__(self, max_workers=None):
        # type: (Optional[int]) -> None
        self.max_workers = max_workers


class ConcurrentTaskRunner(ThreadPoolTaskRunner):
    """Prefect 2's default concurrent runner (threads)."""


class SequentialTaskRunner(ThreadPoolTaskRunner):
    """Prefect 2's sequential runner: one submitted task at a time."""

    def __init__(self):
        super().__init__(max_workers=1)


# -- flows ----------------------------------------------------------------------------------------

_FLOW_IGNORED = ("version", "flow_run_name", "validate_parameters", "persist_result", "log_prints",
                 "cache_result_in_memory", "on_running", "result_storage_key")
_FLOW_UNSUPPORTED = ("result_storage", "result_serializer")
_params = contextvars.ContextVar("prefect_shim_params", default=None)  # type: contextvars.ContextVar


def _max_workers(task_runner):
    # type: (Any) -> Optional[int]
    if task_runner is None:
        return None
    if isinstance(task_runner, type):
        task_runner = task_runner()
    if not isinstance(task_runner, ThreadPoolTaskRunner):
        raise unsupported("task_runner=%s" % type(task_runner).__name__)
    workers = task_runner.max_workers
    return None if workers is None else max(1, min(int(workers), _decorators.MAX_PARALLEL_TASKS))


def _bound(fn, args, kwargs):
    # type: (Callable[..., Any], tuple, Dict[str, Any]) -> Dict[str, Any]
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)
    except (TypeError, ValueError):
        return {}


class Flow(_decorators.Flow):
    """Prefect's ``@flow`` on a Perfect flow: ``name``, ``description``, ``version``,
    ``retries``/``retry_delay_seconds`` (the whole body again), ``timeout_seconds``,
    ``task_runner`` (``ThreadPoolTaskRunner(max_workers=N)`` → ``max_parallel_tasks``),
    ``on_completion``/``on_failure``/``on_cancellation``/``on_crashed`` hooks; returned states
    decide the run's end. ``flow_run_name``, ``validate_parameters``, ``persist_result`` and
    ``log_prints`` are accepted and ignored."""

    def __init__(self, fn, name=None, description=None, version=None, retries=None, retry_delay_seconds=None,
                 timeout_seconds=None, task_runner=None, on_completion=None, on_failure=None, on_cancellation=None,
                 on_crashed=None, tags=None, **options):
        # type: (Callable[..., Any], Optional[str], Optional[str], Any, Optional[int], Any, Optional[float], Any, Any, Any, Any, Any, Any, **Any) -> None
        for key in options:
            if key in _FLOW_UNSUPPORTED or key not in _FLOW_IGNORED:
                raise unsupported("@flow(%s=...)" % key)
        self.fn = fn
        self._options = dict(options, name=name, description=description, version=version, retries=retries,
                             retry_delay_seconds=retry_delay_seconds, timeout_seconds=timeout_seconds,
                             task_runner=task_runner, on_completion=on_completion, on_failure=on_failure,
                             on_cancellation=on_cancellation, on_crashed=on_crashed, tags=tags)
        attempts = int(retries or 0) + 1
        delays = _delays(retry_delay_seconds)
        flow_name = name or getattr(fn, "__name__", "flow").replace("_", "-")

        @functools.wraps(fn)
        def body(*args, **kwargs):
            parameters = _bound(fn, args, kwargs)
            token = _params.set(parameters)
            try:
                for attempt in range(1, attempts + 1):
                    try:
                        value = _settle(fn(*args, **kwargs))
                    except Exception as exc:
                        if attempt == attempts:
                            self._finish(_failed_state(exc), parameters)
                            raise
                        delay = delays[min(attempt, len(delays)) - 1]
                        get_logger().warning("flow %s attempt %d failed (%s: %s); retrying in %ss",
                                             flow_name, attempt, type(exc).__name__, exc, delay)
                        if delay > 0:
                            time.sleep(delay)
                        continue
                    except RunCancelled as exc:
                        self._finish(_failed_state(exc), parameters)
                        raise
                    self._finish(Completed(data=value), parameters)
                    return value
            finally:
                _params.reset(token)

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def body(*args, **kwargs):  # noqa: F811 - the async form of the same body
                parameters = _bound(fn, args, kwargs)
                token = _params.set(parameters)
                try:
                    try:
                        value = _settle(await fn(*args, **kwargs))
                    except (Exception, RunCancelled) as exc:
                        self._finish(_failed_state(exc), parameters)
                        raise
                    self._finish(Completed(data=value), parameters)
                    return value
                finally:
                    _params.reset(token)

        version = None if version is None else str(version)[:128]
        super().__init__(body, name=flow_name, description=description, tags=_tag_dict(tags or ()), version=version,
                         max_parallel_tasks=_max_workers(task_runner), timeout=timeout_seconds)
        self.on_completion_hooks = _hooks(on_completion, "on_completion")
        self.on_failure_hooks = _hooks(on_failure, "on_failure") + _hooks(on_crashed, "on_crashed")
        self.on_cancellation_hooks = _hooks(on_cancellation, "on_cancellation")
        self._base_tags = dict(self.tags)

    def with_options(self, **changes):
        # type: (**Any) -> "Flow"
        """A copy with some options changed."""
        options = dict(self._options)
        options.update(changes)
        return Flow(self.fn, **options)

    def _finish(self, state, parameters):
        # type: (State, Dict[str, Any]) -> None
        if state.is_completed():
            hooks = self.on_completion_hooks
        elif state.is_cancelled():
            hooks = self.on_cancellation_hooks
        else:
            hooks = self.on_failure_hooks
        if hooks:
            _run_hooks(hooks, self, _RunInfo(self.name, parameters), state)

    def _apply_tags(self):
        wanted = dict(self._base_tags)
        wanted.update(_tag_dict(_tags.get()))
        if wanted != self.tags:
            self.tags = wanted
            from .. import direct

            direct.forget(self.name)

    def __call__(self, *args, return_state=False, **kwargs):
        self._apply_tags()
        if self.is_async:
            return self._call_async(args, kwargs, return_state)
        try:
            value = super().__call__(*args, **kwargs)
        except (Exception, RunCancelled) as exc:
            if return_state:
                return _failed_state(exc)
            raise
        return Completed(data=value) if return_state else value

    async def _call_async(self, args, kwargs, return_state):
        try:
            value = await super().__call__(*args, **kwargs)
        except (Exception, RunCancelled) as exc:
            if return_state:
                return _failed_state(exc)
            raise
        return Completed(data=value) if return_state else value

    # -- serving --------------------------------------------------------------------------------

    def to_deployment(self, name=None, cron=None, interval=None, parameters=None, tags=None, description=None,
                      version=None, **options):
        # type: (Any, Any, Any, Any, Any, Any, Any, **Any) -> "Deployment"
        """A deployment for ``serve(...)``: the flow with its schedules."""
        return Deployment(self, name=name, cron=cron, interval=interval, parameters=parameters, tags=tags,
                          description=description, version=version, **options)

    def serve(self, name=None, cron=None, interval=None, parameters=None, tags=None, description=None, version=None,
              limit=None, **options):
        # type: (Any, Any, Any, Any, Any, Any, Any, Optional[int], **Any) -> None
        """Serve this flow (a Perfect worker): ``cron``/``interval`` become its schedules, with
        ``parameters``; ``name`` (the deployment's) is accepted; ``limit`` bounds concurrent runs."""
        serve(self.to_deployment(name=name, cron=cron, interval=interval, parameters=parameters, tags=tags,
                                 description=description, version=version, **options), limit=limit)

    def deploy(self, *args, **kwargs):
        """Not supported: Perfect runs flows on workers you start (``perfect worker --prefect``)."""
        raise unsupported("flow.deploy()")

    @classmethod
    def from_source(cls, *args, **kwargs):
        """Not supported: serve the file itself (``perfect worker --prefect FILE.py``)."""
        raise unsupported("flow.from_source()")


def flow(__fn=None, **options):
    # type: (Optional[Callable[..., Any]], **Any) -> Any
    """Prefect's ``@flow`` / ``@flow(...)``."""
    if __fn is not None:
        return Flow(__fn, **options)
    return lambda fn: Flow(fn, **options)


_DEPLOYMENT_IGNORED = ("pause_on_shutdown", "print_starter_message", "webserver", "enforce_parameter_schema",
                       "work_pool_name", "job_variables", "concurrency_limit", "paused", "triggers", "entrypoint_type")


def _interval_schedule(value, parameters):
    # type: (Any, Dict[str, Any]) -> Any
    if isinstance(value, _dt.timedelta):
        return _interval(timedelta=value, parameters=parameters)
    return _interval(seconds=float(value), parameters=parameters)


class Deployment:
    """A flow with the schedules ``serve`` registers for it (``flow.to_deployment(...)``)."""

    def __init__(self, flow, name=None, cron=None, interval=None, parameters=None, tags=None, description=None,
                 version=None, **options):
        # type: (Flow, Any, Any, Any, Any, Any, Any, Any, **Any) -> None
        for key in options:
            if key not in _DEPLOYMENT_IGNORED:
                raise unsupported("serve(%s=...)" % key)
        self.flow = flow
        self.name = name
        parameters = dict(parameters or {})
        schedules = []
        for expr in (cron if isinstance(cron, (list, tuple)) else [cron] if cron else []):
            schedules.append(_cron(str(expr), parameters=parameters))
        for value in (interval if isinstance(interval, (list, tuple)) else [interval] if interval else []):
            schedules.append(_interval_schedule(value, parameters))
        self.schedules = schedules
        self.tags = tags
        self.description = description

    def apply(self):
        # type: () -> Flow
        """Put the schedules (and tags, description) on the flow."""
        flow = self.flow
        if self.schedules:
            flow.schedules = _decorators._check_schedules(self.schedules, flow.func, flow.name)
        if self.tags:
            flow._base_tags.update(_tag_dict(self.tags))
            flow.tags = dict(flow._base_tags)
        if self.description:
            flow.description = str(self.description)
        return flow


def serve(*deployments, limit=None, **options):
    # type: (*Any, Optional[int], **Any) -> None
    """Prefect's ``serve(flow.to_deployment(...), ...)``: one Perfect worker serving them all
    (runs in the worker's threads, so the shim stays installed for them)."""
    from ..runner import serve as perfect_serve

    for key in options:
        if key not in ("pause_on_shutdown", "print_starter_message", "webserver"):
            raise unsupported("serve(%s=...)" % key)
    flows = []
    for item in deployments:
        if isinstance(item, Deployment):
            flows.append(item.apply())
        elif isinstance(item, _decorators.Flow):
            flows.append(item)
        else:
            raise unsupported("serve(%s)" % type(item).__name__)
    perfect_serve(*flows, isolation="thread", max_concurrent_runs=int(limit or 4))


def current_parameters():
    # type: () -> Dict[str, Any]
    """The arguments of the shim flow executing in this context."""
    return dict(_params.get() or {})


def get_run_logger(*args, **kwargs):
    # type: (*Any, **Any) -> logging.Logger
    """Prefect's run logger: Perfect's run logger (its lines are the run's logs)."""
    return get_logger()

