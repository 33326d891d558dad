"""Futures of submitted tasks (``task.submit``, ``task.map``), ``unmapped`` and ``wait``.

A ``PerfectFuture`` is the handle of one submitted task call. Its outcome is the task's return
value or the exception it raised (after its retries); ``result()`` returns the one or raises the
other. A failed future whose exception nobody retrieved fails the run when the flow ends (see
``parallel``): calling ``result()`` (or ``exception()``) is what "handled" means.
"""
import collections
import threading
from typing import Any, Callable, Iterable, List, Optional

#: ``wait``'s answer: the futures that are done and those that are not (sets, like
#: ``concurrent.futures.wait``).
DoneAndNotDone = collections.namedtuple("DoneAndNotDone", ["done", "not_done"])
DoneAndNotDone.__doc__ = "``wait``'s answer: ``done`` and ``not_done``, two sets of futures."

_allocate_lock = threading.Lock
#: Guards every future's callback list (held for a few instructions; one lock, not one per future).
_callbacks_lock = threading.Lock()


class PerfectFuture:
    """The eventual outcome of one submitted task call.

    ``result(timeout=None)`` waits for it and returns the task's value or raises its exception;
    ``done()`` says whether it ended; ``wait(timeout=None)`` waits without retrieving it. Inside an
    ``async`` flow a future can also be awaited. ``task_name`` and ``call`` (the run's task call
    index, None outside a served run) say what it stands for.
    """

    __slots__ = ("task_name", "call", "_finished", "_gate", "_value", "_error", "_retrieved", "_callbacks",
                 "_job", "__weakref__")

    def __init__(self, task_name, call=None):
        # type: (str, Optional[int]) -> None
        self.task_name = task_name
        self.call = call
        self._finished = False
        # One lock, held until the outcome is set: waiting is acquiring it (and handing it on),
        # far cheaper to create than an Event, which matters at thousands of submits.
        self._gate = _allocate_lock()
        self._gate.acquire()
        self._value = None  # type: Any
        self._error = None  # type: Optional[BaseException]
        self._retrieved = False
        self._callbacks = None  # type: Optional[List[Callable[[PerfectFuture], None]]]
        self._job = None  # type: Any  # the queued job (parallel._Job), for a waiting pool thread


    def _wait(self, timeout):
        # type: (Optional[float]) -> bool
        if self._finished:
            return True
        job = self._job
        if job is not None and timeout is None and job.steal():
            return True
        if timeout is None:
            got = self._gate.acquire()
        elif timeout <= 0:
            got = self._gate.acquire(False)
        else:
            got = self._gate.acquire(True, timeout)
        if got:
            self._gate.release()  # the next waiter passes too
        return got or self._finished

    # -- outcome ---------------------------------------------------------------------------------

    def done(self):
        # type: () -> bool
        """True once the task ended (returned, raised, or was never started)."""
        return self._finished

    def wait(self, timeout=None):
        # type: (Optional[float]) -> bool
        """Wait until the task ended (at most ``timeout`` seconds); True if it did. Does not
        retrieve the outcome: a failure is still unhandled until ``result()`` is called."""
        return self._wait(timeout)

    def result(self, timeout=None):
        # type: (Optional[float]) -> Any
        """The task's return value; raises the task's exception if it failed (this handles the
        failure: it no longer fails the run at the flow's end), ``TimeoutError`` if it is not
        done within ``timeout`` seconds (the task keeps running)."""
        if not self._wait(timeout):
            raise TimeoutError("task %s did not finish within %gs" % (self.task_name, timeout))
        self._retrieved = True
        if self._error is not None:
            raise self._error
        return self._value

    def exception(self, timeout=None):
        # type: (Optional[float]) -> Optional[BaseException]
        """The task's exception (None if it succeeded), waiting like ``result``; handles the
        failure the same way."""
        if not self._wait(timeout):
            raise TimeoutError("task %s did not finish within %gs" % (self.task_name, timeout))
        self._retrieved = True
        return self._error

    @property
    def failed(self):
        # type: () -> bool
        """True if the task ended with an exception."""
        return self._finished and self._error is not None

    @property
    def unhandled_error(self):
        # type: () -> Optional[BaseException]
        """The exception of a failed future nobody retrieved (None otherwise)."""
        if self._finished and self._error is not None and not self._retrieved:
            return self._error
        return None

    def add_done_callback(self, callback):
        # type: (Callable[[PerfectFuture], None]) -> None
        """Call ``callback(future)`` when the future is done (at once if it already is), in
        the thread that finishes it."""
        with _callbacks_lock:
            if not self._finished:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(callback)
                return
        callback(self)

    # -- producer side (the task runner) --------------------------------------------------------

    def set_result(self, value):
        # type: (Any) -> None
        """The task returned ``value``."""
        self._value = value
        self._finish()

    def set_exception(self, error):
        # type: (BaseException) -> None
        """The task (or one of its inputs) raised ``error``."""
        self._error = error
        self._finish()

    def mark_handled(self):
        # type: () -> None
        """Its failure was passed on (to a dependent task's future): report it there, once."""
        self._retrieved = True

    def _finish(self):
        # type: () -> None
        with _callbacks_lock:
            if self._finished:
                return
            self._finished = True
            callbacks, self._callbacks = self._callbacks, None
        self._gate.release()
        for callback in callbacks or ():
            try:
                callback(self)
            except Exception:
                pass

    # -- asyncio ---------------------------------------------------------------------------------

    async def finished(self):
        # type: () -> None
        """Await this future's end from a coroutine without retrieving its outcome (its
        callbacks run on the thread that finishes it; the wake-up crosses to the loop)."""
        import asyncio

        if self._finished:
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()

        def wake(_future):
            def settle():
                if not waiter.done():
                    waiter.set_result(None)
            try:
                loop.call_soon_threadsafe(settle)
            except RuntimeError:
                pass  # the loop closed meanwhile

        self.add_done_callback(wake)
        await waiter

    def __await__(self):
        yield from self.finished().__await__()
        return self.result()

    def __repr__(self):
        state = "pending" if not self.done() else ("failed" if self._error is not None else "done")
        return "<PerfectFuture %s%s %s>" % (self.task_name, "" if self.call is None else " call %d" % self.call, state)


class unmapped:  # noqa: N801 - the name users know from Prefect
    """Mark an argument of ``task.map`` as a constant: passed whole to every call instead of
    being iterated over (``t.map([1, 2, 3], unmapped(["a", "b"]))`` calls ``t(1, ["a", "b"])``...)."""

    __slots__ = ("value",)

    def __init__(self, value):
        # type: (Any) -> None
        self.value = value

    def __repr__(self):
        return "unmapped(%r)" % (self.value,)


def wait(futures, timeout=None):
    # type: (Iterable[PerfectFuture], Optional[float]) -> DoneAndNotDone
    """Wait until every future is done, or ``timeout`` seconds passed; return ``(done, not_done)``
    (a named tuple of sets). Like ``future.wait()`` it does not retrieve outcomes: call
    ``result()`` on the done ones to get values (and to handle failures)."""
    import time

    futures = list(futures)
    deadline = None if timeout is None else time.monotonic() + timeout
    for future in futures:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not future.wait(left):
            break
    done = set(f for f in futures if f.done())
    return DoneAndNotDone(done, set(futures) - done)


_CONTAINERS = (list, tuple, set, frozenset)


def _container_holds(value):
    # type: (Any) -> bool
    """Whether a list/tuple/set/dict argument holds a future (one level deep; checked with C-level
    ``map(type, ...)`` so a large list costs little)."""
    kind = type(value)
    if kind in _CONTAINERS:
        return PerfectFuture in set(map(type, value))
    if kind is dict:
        return PerfectFuture in set(map(type, value.values()))
    return False


def holds_futures(args, kwargs):
    # type: (Any, Any) -> bool
    """True if an argument, or an item of a list/tuple/set/dict argument, is a ``PerfectFuture``."""
    for item in args:
        if type(item) is PerfectFuture or _container_holds(item):
            return True
    for item in kwargs.values():
        if type(item) is PerfectFuture or _container_holds(item):
            return True
    return False


class InputFailed(Exception):
    """An input future of a task call failed; ``error`` is its exception (passed on as it is)."""

    def __init__(self, error):
        # type: (BaseException) -> None
        super().__init__(str(error))
        self.error = error


def _input_result(future):
    # type: (PerfectFuture) -> Any
    future.wait()
    error = future._error
    if error is not None:
        future.mark_handled()  # the dependent call carries it from here
        raise InputFailed(error)
    future._retrieved = True
    return future._value


def _resolve(value):
    # type: (Any) -> Any
    if type(value) is PerfectFuture:
        return _input_result(value)
    kind = type(value)
    if kind in _CONTAINERS and _container_holds(value):
        return kind(_input_result(item) if type(item) is PerfectFuture else item for item in value)
    if kind is dict and _container_holds(value):
        return {key: _input_result(item) if type(item) is PerfectFuture else item for key, item in value.items()}
    return value


def resolve_arguments(args, kwargs):
    # type: (Any, Any) -> Any
    """``(args, kwargs)`` with every future (an argument, or an item of a list/tuple/set/dict
    argument) replaced by its result, waiting for it. A failed one raises ``InputFailed``
    carrying its exception, which is then the dependent call's to report (the input's failure
    counts as handled)."""
    if not holds_futures(args, kwargs):
        return args, kwargs
    return tuple(_resolve(item) for item in args), {key: _resolve(item) for key, item in kwargs.items()}
