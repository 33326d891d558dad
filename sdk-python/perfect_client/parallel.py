"""Parallel task calls: ``task.submit``/``task.map`` on a per-flow-call thread pool, the flow's
end (outstanding futures waited for, an unhandled failure fails the run), ``async`` flows and
``@flow(timeout=...)``.

One ``TaskScope`` exists per flow body being executed (a served run, or a flow called directly).
Its pool has at most ``max_parallel_tasks`` threads; each submission runs in a copy of the
submitter's context (the run, the flow's scope), so ``print``, ``get_logger()``, library logging
and ``progress()`` inside it land on its own task call. Rules:

* a future passed as an argument (or inside a list/tuple/set/dict argument) is waited for first;
  if it failed, the dependent call never starts and its future holds the same exception (which
  then counts as handled on the input and unhandled on the dependent);
* at the flow's end every outstanding submission is waited for; the first failed one (in
  submission order) whose exception nobody retrieved with ``result()``/``exception()`` fails the
  run with that exception;
* when the body raises, queued submissions never start and running ones are waited for (not on
  a cancel or stop: the run ends at once and running ones stop at their boundary);
* a cancel or stop request keeps queued submissions from starting: their futures raise the stop.
"""
import asyncio
import collections
import collections.abc
import contextvars
import inspect
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from .context import _process_run_is, current_run
from .errors import RunInterrupted
from .futures import InputFailed, PerfectFuture, resolve_arguments, unmapped

#: ``@flow(max_parallel_tasks=...)`` when not given: threads of a run's task pool. Tasks usually
#: wait on I/O (databases, HTTP), so more threads than cores pay off; 16 keeps a run's footprint
#: small and its load on shared systems bounded.
DEFAULT_MAX_PARALLEL_TASKS = 16
#: Upper bound of ``max_parallel_tasks``.
MAX_PARALLEL_TASKS = 1000

_current_scope = contextvars.ContextVar("perfect_task_scope", default=None)  # type: contextvars.ContextVar


class _NotStarted(RuntimeError):
    """A queued submission the flow's end (or its timeout) kept from starting."""


#: Marks the threads of task pools (a wait there may run the awaited job itself).
_worker = threading.local()


class _Job:
    """One queued submission; ``taken`` once a thread (a pool's, or a waiting one) runs it."""

    __slots__ = ("fn", "pool", "taken")

    def __init__(self, fn, pool):
        # type: (Callable[[], None], _Pool) -> None
        self.fn = fn
        self.pool = pool
        self.taken = False

    def steal(self):
        # type: () -> bool
        """Run the job in this thread if no thread took it yet (a pool thread waiting for a
        future it depends on: with every thread waiting, nothing would ever run it)."""
        if not getattr(_worker, "active", False):
            return False  # only a pool thread, whose slot is idle while it waits
        with self.pool._cv:
            if self.taken:
                return False
            self.taken = True
        self.fn()
        return True


class _Pool:
    """A minimal pool of daemon threads (at most ``size``), started on demand.

    Daemon threads, unlike ``concurrent.futures``' ones, never hold the interpreter's exit for a
    task left running after its flow was abandoned (a timeout, a stop). A pool thread waiting
    for a future whose job is still queued runs that job itself, so nested submissions (a task
    submitting tasks and waiting for them) never deadlock, even with ``max_parallel_tasks=1``.
    """

    def __init__(self, size, name):
        # type: (int, str) -> None
        self._size = size
        self._name = name
        self._queue = collections.deque()  # type: Any
        self._cv = threading.Condition(threading.Lock())
        self._threads = 0
        self._idle = 0
        self._closed = False

    def submit(self, fn):
        # type: (Callable[[], None]) -> _Job
        job = _Job(fn, self)
        spawn = False
        with self._cv:
            self._queue.append(job)
            if self._idle >= len(self._queue):
                self._cv.notify()
            elif self._threads < self._size:
                self._threads += 1
                spawn = True
        if spawn:
            threading.Thread(target=self._loop, name="%s-%d" % (self._name, self._threads), daemon=True).start()
        return job

    def drain(self):
        # type: () -> List[Callable[[], None]]
        """Take every job not started yet out of the queue (their functions)."""
        with self._cv:
            jobs = [job for job in self._queue if not job.taken]
            for job in jobs:
                job.taken = True
            self._queue.clear()
            return [job.fn for job in jobs]

    def close(self):
        # type: () -> None
        """Let idle threads exit (running jobs finish first)."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def _loop(self):
        # type: () -> None
        _worker.active = True
        while True:
            with self._cv:
                while not self._queue:
                    if self._closed:
                        self._threads -= 1
                        return
                    self._idle += 1
                    try:
                        self._cv.wait()
                    finally:
                        self._idle -= 1
                job = self._queue.popleft()
                if job.taken:
                    continue  # a waiting thread ran it already
                job.taken = True
            job.fn()


class TaskScope:
    """The submissions of one flow call: its pool, its futures and the rules of its end."""

    def __init__(self, flow_name, max_workers=DEFAULT_MAX_PARALLEL_TASKS):
        # type: (str, int) -> None
        self.flow_name = flow_name
        self.max_workers = max_workers
        self._pool = _Pool(max_workers, "perfect-task")
        self._lock = threading.Lock()
        #: Futures not done yet, by submission number (a done one is dropped at once, so a flow
        #: submitting millions of tasks keeps only the failed ones, not every value).
        self._pending = {}  # type: Dict[int, PerfectFuture]
        #: Failed futures by submission number: the end of the flow looks for unretrieved ones.
        self._failed = []  # type: List[Tuple[int, PerfectFuture]]
        self._submitted = 0
        self._outstanding = 0
        self._idle = threading.Condition(self._lock)
        #: Why nothing may start any more (the flow ended, failed or timed out), else None.
        self.refusal = None  # type: Optional[BaseException]
        self._semaphores = {}  # type: Dict[Any, Any]

    # -- submitting ------------------------------------------------------------------------------

    def submit(self, task, args, kwargs):
        # type: (Any, Tuple[Any, ...], Dict[str, Any]) -> PerfectFuture
        """Start ``task(*args, **kwargs)`` on the pool (or on the running event loop for an
        ``async`` task submitted from one); return its future."""
        run = current_run()
        if run is not None:
            run.check_boundary()  # a submission is a task boundary: a cancel stops the flow here
        if self.refusal is not None:
            raise self.refusal
        future = PerfectFuture(task.name, run.next_call() if run is not None else None)
        with self._lock:
            number = self._submitted
            self._submitted += 1
            self._pending[number] = future
            self._outstanding += 1
        context = contextvars.copy_context()
        if getattr(task, "is_async", False):
            loop = _running_loop()
            if loop is not None:
                loop.create_task(self._run_async(task, args, kwargs, future, number), context=context)
                return future
        future._job = self._pool.submit(lambda: context.run(self._run, task, args, kwargs, future, number))
        return future

    def _finished(self, future, number):
        # type: (PerfectFuture, int) -> None
        with self._lock:
            del self._pending[number]
            if future.failed:
                self._failed.append((number, future))
            self._outstanding -= 1
            if self._outstanding == 0:
                self._idle.notify_all()

    def _run(self, task, args, kwargs, future, number):
        # type: (Any, Tuple[Any, ...], Dict[str, Any], PerfectFuture, int) -> None
        from .execution import call_task_now

        try:
            self.check_open()
            args, kwargs = resolve_arguments(args, kwargs)
            if getattr(task, "is_async", False):
                from .async_execution import call_task_async

                value = asyncio.run(call_task_async(task, args, kwargs, future.call))
            else:
                value = call_task_now(task, args, kwargs, future.call)
        except InputFailed as exc:
            future.set_exception(exc.error)
        except BaseException as exc:  # noqa: B902 - the future carries it to whoever asks
            future.set_exception(exc)
        else:
            future.set_result(value)
        self._finished(future, number)

    async def _run_async(self, task, args, kwargs, future, number):
        # type: (Any, Tuple[Any, ...], Dict[str, Any], PerfectFuture, int) -> None
        from .async_execution import call_task_async

        try:
            async with self._semaphore():
                self.check_open()
                args, kwargs = await _resolve_async(args, kwargs)
                value = await call_task_async(task, args, kwargs, future.call)
        except InputFailed as exc:
            future.set_exception(exc.error)
        except BaseException as exc:  # noqa: B902 - CancelledError too: the future must end
            future.set_exception(exc)
        else:
            future.set_result(value)
        self._finished(future, number)

    def _semaphore(self):
        # type: () -> Any
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.max_workers)
        return semaphore

    def check_open(self):
        # type: () -> None
        """Raise why nothing may start any more (the run's stop, the flow's end or timeout)."""
        run = current_run()
        if run is not None:
            run.check_boundary()
        refusal = self.refusal
        if refusal is not None:
            raise refusal

    # -- the flow's end --------------------------------------------------------------------------

    def refuse(self, error):
        # type: (BaseException) -> None
        """Nothing starts any more: queued submissions end with ``error``."""
        self.refusal = error
        for job in self._pool.drain():
            job()  # check_open raises at once: the future ends, the task never starts
        self._pool.close()

    def wait_all(self):
        # type: () -> None
        """Wait until no submission is outstanding (ones submitted meanwhile included)."""
        with self._lock:
            while self._outstanding:
                self._idle.wait()

    async def wait_all_async(self):
        # type: () -> None
        """``wait_all`` for an ``async`` flow: awaits, so the loop keeps running its tasks."""
        while True:
            with self._lock:
                pending = list(self._pending.values())
            if not pending:
                return
            for future in pending:
                await future.finished()

    def unhandled_error(self):
        # type: () -> Optional[BaseException]
        """The exception of the first failed submission nobody retrieved, if any."""
        with self._lock:
            futures = [future for _, future in sorted(self._failed, key=lambda item: item[0])]
        for future in futures:
            error = future.unhandled_error
            if error is not None:
                future.mark_handled()
                return error
        return None

    def end(self, error=None):
        # type: (Optional[BaseException]) -> None
        """The flow's body returned (``error`` None) or raised ``error``: apply the end rules."""
        if error is None:
            self.wait_all()
        else:
            self.refuse(_NotStarted("flow %s ended before this task started" % self.flow_name))
            if not isinstance(error, RunInterrupted):
                self.wait_all()
        self._pool.close()

    def close(self):
        # type: () -> None
        """Let the pool's threads go (after ``end``)."""
        self._pool.close()


async def _resolve_async(args, kwargs):
    # type: (Tuple[Any, ...], Dict[str, Any]) -> Tuple[Tuple[Any, ...], Dict[str, Any]]
    from .futures import holds_futures

    if not holds_futures(args, kwargs):
        return args, kwargs
    # Wait on the loop first, so resolving below never blocks it.
    for value in list(args) + list(kwargs.values()):
        items = [value] if type(value) is PerfectFuture else (
            list(value.values()) if type(value) is dict else list(value) if isinstance(value, (list, tuple, set, frozenset)) else [])
        for item in items:
            if type(item) is PerfectFuture:
                await item.finished()
    return resolve_arguments(args, kwargs)


def _running_loop():
    # type: () -> Any
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# -- where submissions go ----------------------------------------------------------------------

_fallback = None  # type: Optional[TaskScope]
_fallback_lock = threading.Lock()


def current_scope():
    # type: () -> TaskScope
    """The scope of the flow call executing in this context; outside any flow, a process-wide
    scope (its failures are the caller's to collect: there is no flow end to fail)."""
    scope = _current_scope.get()
    if scope is not None:
        return scope
    global _fallback
    with _fallback_lock:
        if _fallback is None:
            _fallback = TaskScope("(no flow)")
        return _fallback


def check_local_start():
    # type: () -> None
    """Outside a served run: raise if the flow call this task belongs to may start nothing
    any more (it passed its timeout)."""
    scope = _current_scope.get()
    if scope is not None and scope.refusal is not None:
        raise scope.refusal


def submit_task(task, args, kwargs):
    # type: (Any, Tuple[Any, ...], Dict[str, Any]) -> PerfectFuture
    """``task.submit(*args, **kwargs)``."""
    return current_scope().submit(task, args, kwargs)


_SCALARS = (str, bytes, bytearray, memoryview)


def _is_mapped(value):
    # type: (Any) -> bool
    if isinstance(value, (unmapped, PerfectFuture, _SCALARS)) or isinstance(value, collections.abc.Mapping):
        return False
    try:
        iter(value)
    except TypeError:
        return False
    return True


def map_task(task, iterables, kwargs):
    # type: (Any, Tuple[Any, ...], Dict[str, Any]) -> List[PerfectFuture]
    """``task.map(*iterables, **kwargs)``: one submission per position of the zipped iterables."""
    columns = []  # type: List[Tuple[Any, Any, Any]]  (kind, key, values or constant)
    length = None  # type: Optional[int]
    lengths = []
    for index, value in enumerate(iterables):
        columns.append(_column("argument %d" % (index + 1), value))
    for key, value in kwargs.items():
        columns.append(_column(key, value))
    for kind, key, values in columns:
        if kind == "mapped":
            lengths.append((key, len(values)))
    if not lengths:
        raise TypeError("%s.map() needs at least one iterable argument to map over (constants go in "
                        "unmapped(...))" % task.name)
    length = lengths[0][1]
    if any(n != length for _, n in lengths):
        raise ValueError("%s.map(): the mapped arguments differ in length (%s)"
                         % (task.name, ", ".join("%s: %d" % item for item in lengths)))
    scope = current_scope()
    positional = [c for c in columns[:len(iterables)]]
    named = columns[len(iterables):]
    futures = []
    for position in range(length):
        args = tuple(values[position] if kind == "mapped" else values for kind, _, values in positional)
        call_kwargs = {key: values[position] if kind == "mapped" else values for kind, key, values in named}
        futures.append(scope.submit(task, args, call_kwargs))
    return futures


def _column(key, value):
    # type: (str, Any) -> Tuple[str, str, Any]
    if isinstance(value, unmapped):
        return ("constant", key, value.value)
    if _is_mapped(value):
        return ("mapped", key, value if isinstance(value, (list, tuple)) else list(value))
    return ("constant", key, value)


# -- executing a flow's body --------------------------------------------------------------------

def flow_timeout_error(flow):
    # type: (Any) -> TimeoutError
    """The run's error when ``flow`` passes its ``timeout``."""
    return TimeoutError("flow %s exceeded its timeout of %gs" % (flow.name, flow.timeout))


def _max_workers(flow):
    # type: (Any) -> int
    return getattr(flow, "max_parallel_tasks", None) or DEFAULT_MAX_PARALLEL_TASKS


def _sync_body(scope, func, args, kwargs):
    # type: (TaskScope, Callable[..., Any], Tuple[Any, ...], Dict[str, Any]) -> Any
    token = _current_scope.set(scope)
    try:
        result = func(*args, **kwargs)
    except BaseException as exc:
        scope.end(exc)
        raise
    finally:
        _current_scope.reset(token)
    scope.end()
    error = scope.unhandled_error()
    if error is not None:
        raise error
    return result


async def _async_body(scope, func, args, kwargs):
    # type: (TaskScope, Callable[..., Any], Tuple[Any, ...], Dict[str, Any]) -> Any
    token = _current_scope.set(scope)
    try:
        result = await func(*args, **kwargs)
    except BaseException as exc:
        scope.refuse(_NotStarted("flow %s ended before this task started" % scope.flow_name))
        if not isinstance(exc, (RunInterrupted, asyncio.CancelledError)):
            await scope.wait_all_async()
        raise
    finally:
        _current_scope.reset(token)
    await scope.wait_all_async()
    scope.close()
    error = scope.unhandled_error()
    if error is not None:
        raise error
    return result


def call_flow(flow, args, kwargs):
    # type: (Any, Tuple[Any, ...], Dict[str, Any]) -> Any
    """A flow called directly (not by ``serve``): its body with a scope of its own for
    submissions and its timeout. An ``async`` flow returns a coroutine, like the function."""
    scope = TaskScope(flow.name, _max_workers(flow))
    timeout = getattr(flow, "timeout", None)
    if getattr(flow, "is_async", False):
        async def direct():
            body = _async_body(scope, flow.func, args, kwargs)
            if timeout is None:
                return await body
            try:
                return await asyncio.wait_for(body, timeout)
            except asyncio.TimeoutError:
                raise flow_timeout_error(flow) from None
        return direct()
    if timeout is None:
        return _sync_body(scope, flow.func, args, kwargs)
    return _with_deadline(flow, scope, lambda: _sync_body(scope, flow.func, args, kwargs), None)


def run_flow(flow, kwargs, run):
    # type: (Any, Dict[str, Any], Any) -> Any
    """The body of a served run (``run_execution.execute_flow``): in this thread, an ``async``
    flow in an event loop of its own, with the flow's timeout."""
    scope = TaskScope(flow.name, _max_workers(flow))
    if getattr(flow, "is_async", False):
        holder = {}  # type: Dict[str, Any]

        async def main():
            holder["loop"] = asyncio.get_running_loop()
            holder["task"] = asyncio.current_task()
            return await _async_body(scope, flow.func, (), kwargs)

        body = lambda: asyncio.run(main())  # noqa: E731
    else:
        holder = {}
        body = lambda: _sync_body(scope, flow.func, (), kwargs)  # noqa: E731
    if getattr(flow, "timeout", None) is None:
        return body()
    return _with_deadline(flow, scope, body, run, holder)


def _with_deadline(flow, scope, body, run, holder=None):
    # type: (Any, TaskScope, Callable[[], Any], Any, Optional[Dict[str, Any]]) -> Any
    """Run ``body`` in a thread of its own (same context) and wait at most ``flow.timeout``; past
    it nothing starts any more, an async body is cancelled, a sync one is abandoned (reported in
    the run's logs), and ``TimeoutError`` is raised here."""
    outcome = {}  # type: Dict[str, Any]
    done = threading.Event()
    context = contextvars.copy_context()

    def target():
        try:
            outcome["value"] = context.run(body)
        except BaseException as exc:  # noqa: B902 - handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name="perfect-flow-" + flow.name, daemon=True)
    thread.start()
    if done.wait(flow.timeout):
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")
    error = flow_timeout_error(flow)
    if run is not None:
        run.expire(str(error))
    scope.refuse(TimeoutError(str(error)))
    loop, task = (holder or {}).get("loop"), (holder or {}).get("task")
    if loop is not None and task is not None:
        try:
            loop.call_soon_threadsafe(task.cancel)
        except RuntimeError:
            pass
    if run is not None:
        if _process_run_is(run):
            what = "its run process ends now"
        else:
            what = ("its body is still running in thread %s and is abandoned (a thread cannot be "
                    "interrupted); no task starts any more" % thread.name)
        run.log("ERROR", "%s; %s" % (error, what))
    raise error


def is_coroutine_function(func):
    # type: (Any) -> bool
    """Whether ``func`` is an ``async def`` function."""
    return inspect.iscoroutinefunction(func)
