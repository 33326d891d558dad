"""``@task`` and ``@flow``: declarative wrappers that keep the function (``.func``) and can be
called like it. Execution lives in ``execution`` (tasks) and ``runner`` (served flows)."""
import ast
import collections.abc
import functools
import hashlib
import inspect
import numbers
import types
from typing import Any, Callable, Dict, List, Mapping, Optional

from .concurrency import check_key
from .discovery import discover_tasks
from .execution import call_task
from .parallel import MAX_PARALLEL_TASKS, is_coroutine_function, map_task, submit_task
from .parameters import parameter_schema
from .schedules import MAX_SCHEDULES, Schedule

#: The server's bound on ``max_active_runs``.
MAX_ACTIVE_RUNS = 100000


class Task:
    """A function decorated with ``@task``.

    Calling it runs ``func`` with its retry policy. Inside a served run the call is reported to
    the server (started, progress, logs, retries, completed or failed); anywhere else it is just
    a function call with retries.

    ``submit(...)`` runs a call in the run's task pool and returns a ``PerfectFuture``;
    ``map(...)`` submits one call per item. An ``async def`` task returns a coroutine when
    called (await it, or ``asyncio.gather`` several).

    Attributes: ``func``, ``name``, ``estimated_time`` (ms or None), ``retries``, ``retry_delay``
    (seconds), ``description``, ``timeout`` (seconds or None), ``is_async``.
    """

    def __init__(self, func, name=None, estimated_time=None, retries=0, retry_delay=0.0, description=None,
                 timeout=None, concurrency_key=None):
        # type: (Callable[..., Any], Optional[str], Optional[float], int, float, Optional[str], Optional[float], Optional[str]) -> None
        if not callable(func):
            raise TypeError("@task decorates a function, got %r (use @task(estimated_time=...))" % (func,))
        if estimated_time is not None:
            if isinstance(estimated_time, bool) or not isinstance(estimated_time, numbers.Real) or estimated_time < 1:
                raise ValueError("estimated_time must be a number of milliseconds >= 1, got %r" % (estimated_time,))
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError("retries must be an int >= 0, got %r" % (retries,))
        if not isinstance(retry_delay, numbers.Real) or retry_delay < 0:
            raise ValueError("retry_delay must be a number of seconds >= 0, got %r" % (retry_delay,))
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or timeout <= 0):
            raise ValueError("timeout must be a number of seconds > 0, got %r" % (timeout,))
        functools.update_wrapper(self, func)
        self.timeout = None if timeout is None else float(timeout)
        #: Global concurrency limit key (``concurrency.py``): each call in a served run holds a slot.
        self.concurrency_key = check_key(concurrency_key)
        self.func = func
        self.name = name or getattr(func, "__name__", "task")
        self.estimated_time = None if estimated_time is None else int(round(estimated_time))
        self.retries = retries
        self.retry_delay = float(retry_delay)
        self.description = description if description is not None else inspect.getdoc(func)
        self.is_async = is_coroutine_function(func)

    def __call__(self, *args, **kwargs):
        return call_task(self, args, kwargs)

    def submit(self, *args, **kwargs):
        # type: (*Any, **Any) -> Any
        """Run ``self(*args, **kwargs)`` in the run's task pool (at most ``max_parallel_tasks``
        at once) and return its ``PerfectFuture`` at once. Futures among the arguments are
        waited for first. Inside an async flow an async task runs on the flow's event loop."""
        return submit_task(self, args, kwargs)

    def map(self, *iterables, **kwargs):
        # type: (*Any, **Any) -> List[Any]
        """Submit one call per position of the zipped iterables (equal lengths); return the
        futures in order. ``unmapped(value)`` passes ``value`` whole to every call; keyword
        arguments that are not iterable, and strings, bytes and dicts, are constants too."""
        return map_task(self, iterables, kwargs)

    def __get__(self, instance, owner=None):
        # Tasks defined in a class body behave like methods.
        return self if instance is None else types.MethodType(self, instance)

    def definition(self):
        # type: () -> Dict[str, Any]
        """The task as the register request lists it: ``{name, estimatedTime?, description?}``."""
        entry = {"name": self.name}  # type: Dict[str, Any]
        if self.estimated_time is not None:
            entry["estimatedTime"] = self.estimated_time
        if self.description:
            entry["description"] = self.description
        return entry

    def __repr__(self):
        return "<Task %s>" % self.name


def task(func=None, *, estimated_time=None, retries=0, retry_delay=0.0, name=None, description=None, timeout=None,
         concurrency_key=None):
    # type: (Optional[Callable[..., Any]], Optional[float], int, float, Optional[str], Optional[str]) -> Any
    """Declare a task: ``@task`` or ``@task(estimated_time=ms, retries=0, retry_delay=s, name=None)``.

    ``estimated_time`` (milliseconds) is the task's weight in the run's progress until the server
    has enough history. ``retries`` extra attempts are made when the function raises, waiting
    ``retry_delay`` seconds between them. ``name`` defaults to the function name, the description
    to its docstring. ``timeout`` (seconds): an attempt still running past it fails with
    ``TimeoutError`` (retried like any exception; the flow goes on as after any exception). The
    attempt runs in a thread of the run so the flow can move on; an attempt stuck past its
    timeout is left behind and ends with the run's process. ``concurrency_key`` (1..200
    characters of letters, digits and ``_ . : -``): in a served run each call holds one of the
    key's slots while it runs (``PUT /api/concurrency-limits/{key}`` sets how many exist),
    waiting its turn when all are taken; outside ``serve`` it takes none.
    """
    def wrap(function):
        # type: (Callable[..., Any]) -> Task
        return Task(function, name=name, estimated_time=estimated_time, retries=retries,
                    retry_delay=retry_delay, description=description, timeout=timeout,
                    concurrency_key=concurrency_key)

    return wrap if func is None else wrap(func)


def _normalise_tags(tags):
    # type: (Optional[Mapping[str, Any]]) -> Dict[str, str]
    if tags is None:
        return {}
    if not isinstance(tags, collections.abc.Mapping):
        raise TypeError("tags must map names to values, e.g. {'team': 'data-eng'}, got %r" % (tags,))
    return {str(key): str(value) for key, value in tags.items()}


#: Longest ``@flow(timeout=...)`` the server accepts (a year, in seconds).
MAX_FLOW_TIMEOUT = 31536000

#: Longest ``@flow(version=...)`` the server accepts.
MAX_VERSION = 128


def _source_of(func):
    # type: (Any) -> str
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        return "%s.%s" % (getattr(func, "__module__", "?"), getattr(func, "__qualname__", repr(func)))


def _start(node, text_pos):
    # type: (Any, Callable[[int, int], int]) -> int
    """Offset in the source where an argument node of a call starts (its name for a keyword)."""
    if isinstance(node, ast.keyword) and hasattr(node, "col_offset"):  # Python 3.9+
        return text_pos(node.lineno, node.col_offset)
    return text_pos(node.value.lineno, node.value.col_offset) if isinstance(node, ast.keyword) \
        else text_pos(node.lineno, node.col_offset)


def _source_without_schedules(source):
    # type: (str) -> str
    """``source`` of a flow function without the ``schedules=...`` argument of its decorators.

    The text is cut from the end of the argument before it (or up to the one after it), so
    ``@flow(name="X", schedules=[...])`` reads ``@flow(name="X")`` and ``@flow(schedules=[...])``
    reads ``@flow``: adding, changing or removing schedules leaves the fingerprint as it was.
    Source that cannot be parsed is returned as it is.
    """
    indented = source[:1] in (" ", "\t")
    offset = 1 if indented else 0
    try:
        tree = ast.parse(("if True:\n" + source) if indented else source)
        node = tree.body[0].body[0] if indented else tree.body[0]
    except (SyntaxError, ValueError, IndexError, AttributeError):
        return source
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return source
    lines = source.splitlines(True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def text_pos(lineno, col):
        # type: (int, int) -> int
        index = lineno - 1 - offset
        return starts[index] + len(lines[index].encode("utf-8")[:col].decode("utf-8", "ignore"))

    cuts = []
    try:
        for decorator in node.decorator_list:
            if not isinstance(decorator, ast.Call):
                continue
            arguments = sorted(decorator.args + decorator.keywords, key=lambda n: _start(n, text_pos))
            for index, argument in enumerate(arguments):
                if not (isinstance(argument, ast.keyword) and argument.arg == "schedules"):
                    continue
                value_end = text_pos(argument.value.end_lineno, argument.value.end_col_offset)
                if len(arguments) == 1:  # the only argument: drop the parentheses too
                    cuts.append((text_pos(decorator.func.end_lineno, decorator.func.end_col_offset),
                                 text_pos(decorator.end_lineno, decorator.end_col_offset)))
                elif index > 0:
                    before = arguments[index - 1]
                    before = before.value if isinstance(before, ast.keyword) else before
                    cuts.append((text_pos(before.end_lineno, before.end_col_offset), value_end))
                else:
                    start = source.rfind("schedules", 0, text_pos(argument.value.lineno, argument.value.col_offset))
                    cuts.append((start, _start(arguments[1], text_pos)))
    except (AttributeError, IndexError):
        return source
    for start, end in sorted(cuts, reverse=True):
        if 0 <= start <= end:
            source = source[:start] + source[end:]
    return source


def _check_schedules(schedules, func, flow_name):
    # type: (Any, Callable[..., Any], str) -> tuple
    """The ``@flow(schedules=...)`` list as a tuple of ``Schedule``, each checked against the
    flow's signature: a name it does not take or a required parameter left out would make the
    server refuse the registration."""
    if schedules is None:
        return ()
    if isinstance(schedules, Schedule) or not isinstance(schedules, (list, tuple)):
        raise TypeError("schedules must be a list such as [cron(\"0 6 * * *\"), interval(minutes=15)], got %r"
                        % (schedules,))
    if len(schedules) > MAX_SCHEDULES:
        raise ValueError("flow %r declares %d schedules; at most %d are allowed"
                         % (flow_name, len(schedules), MAX_SCHEDULES))
    for item in schedules:
        if not isinstance(item, Schedule):
            raise TypeError("each schedule of flow %r must come from cron(...) or interval(...), got %r"
                            % (flow_name, item))
    try:
        inspect.signature(func)
    except (TypeError, ValueError):
        return tuple(schedules)  # nothing to check against: the server will
    schema = parameter_schema(func)
    takes_any = any(p.get("kind") == "var_keyword" for p in schema)
    names = set(p["name"] for p in schema if p.get("kind") != "var_keyword")
    required = [p["name"] for p in schema if p.get("required")]
    for number, item in enumerate(schedules, 1):
        given = item.parameters
        unknown = sorted(name for name in given if name not in names)
        if unknown and not takes_any:
            raise ValueError("schedule %d of flow %r (%r) passes %s, which the flow does not take (it takes: %s)"
                             % (number, flow_name, item, ", ".join(repr(n) for n in unknown),
                                ", ".join(sorted(names)) or "no parameters"))
        missing = [name for name in required if name not in given]
        if missing:
            raise ValueError("schedule %d of flow %r (%r) gives no value for the required parameter(s) %s"
                             % (number, flow_name, item, ", ".join(repr(n) for n in missing)))
    return tuple(schedules)


def is_task(obj):
    # type: (Any) -> bool
    """True if ``obj`` is a ``Task`` (what task discovery looks for)."""
    return isinstance(obj, Task)


class Flow:
    """A function decorated with ``@flow``: a named, tagged entry point that ``serve`` registers.

    Calling it directly just runs the function (tasks inside run locally; submitted ones are
    waited for before it returns, and ``timeout`` applies). ``tasks`` and
    ``parameters`` are computed from the function on demand, so tasks defined after the flow
    in the module are found.

    Attributes: ``func``, ``name``, ``description``, ``tags`` (str → str), ``version``,
    ``schedules`` (a tuple of ``Schedule``; registered with the flow, ignored by direct calls).
    """

    def __init__(self, func, name=None, description=None, tags=None, version=None, schedules=None, max_active_runs=None,
                 max_parallel_tasks=None, timeout=None):
        # type: (Callable[..., Any], Optional[str], Optional[str], Optional[Mapping[str, Any]], Optional[str], Optional[List[Schedule]], Optional[int], Optional[int], Optional[float]) -> None
        if not callable(func):
            raise TypeError("@flow decorates a function, got %r" % (func,))
        if version is not None and (not isinstance(version, str) or not version.strip() or len(version) > MAX_VERSION):
            raise ValueError("version must be a non-empty string of at most %d characters, got %r" % (MAX_VERSION, version))
        self._version = version
        functools.update_wrapper(self, func)
        self.func = func
        self.name = name or getattr(func, "__name__", "flow")
        self.description = description if description is not None else (inspect.getdoc(func) or "")
        self.tags = _normalise_tags(tags)
        self.schedules = _check_schedules(schedules, func, self.name)
        if max_active_runs is not None and (isinstance(max_active_runs, bool) or not isinstance(max_active_runs, int)
                                            or not 1 <= max_active_runs <= MAX_ACTIVE_RUNS):
            raise ValueError("max_active_runs must be a whole number from 1 to %d, got %r" % (MAX_ACTIVE_RUNS, max_active_runs))
        self.max_active_runs = max_active_runs
        if max_parallel_tasks is not None and (isinstance(max_parallel_tasks, bool) or not isinstance(max_parallel_tasks, int)
                                               or not 1 <= max_parallel_tasks <= MAX_PARALLEL_TASKS):
            raise ValueError("max_parallel_tasks must be a whole number from 1 to %d, got %r"
                             % (MAX_PARALLEL_TASKS, max_parallel_tasks))
        self.max_parallel_tasks = max_parallel_tasks
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, numbers.Real)
                                    or not 0 < timeout <= MAX_FLOW_TIMEOUT):
            raise ValueError("timeout must be a number of seconds > 0 (at most %d), got %r" % (MAX_FLOW_TIMEOUT, timeout))
        self.timeout = None if timeout is None else float(timeout)
        self.is_async = is_coroutine_function(func)

    def __call__(self, *args, **kwargs):
        # Inside a served run this is a subflow: a child run of its own (see ``subflows``);
        # elsewhere the flow runs directly (``parallel.call_flow``).
        from .subflows import call_flow

        return call_flow(self, args, kwargs)

    @property
    def tasks(self):
        # type: () -> List[Any]
        """The tasks the flow's source calls, in call order (see ``discovery``); a flow it calls
        (a subflow) is listed as a task of its own, named after that flow."""
        return discover_tasks(self.func, _is_task_or_flow)

    @property
    def version(self):
        # type: () -> str
        """The version sent at registration: ``@flow(version=...)``, else a code fingerprint.

        The server gives a run only to workers that registered the flow's current version, so
        a worker with old code never runs a run meant for new code. The fingerprint is the first
        16 hex digits of the SHA-256 of the flow function's source and of the source of each
        task it calls (its qualified name when the source cannot be read): it changes when the
        code that runs changes, and only then. The ``schedules=`` argument of the decorator is
        left out: schedules say when runs are made, not which code runs them.
        """
        if self._version is not None:
            return self._version
        digest = hashlib.sha256()
        seen = set()
        for func in [self.func] + [t.func for t in self.tasks]:
            if id(func) in seen:
                continue
            seen.add(id(func))
            source = _source_of(func)
            if func is self.func and "schedules" in source:  # also ``schedules=[]``
                source = _source_without_schedules(source)
            digest.update(source.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return digest.hexdigest()[:16]

    @property
    def parameters(self):
        # type: () -> List[Dict[str, Any]]
        """The parameter schema: ``[{name, type, default?, required}]``."""
        return parameter_schema(self.func)

    def definition(self):
        # type: () -> Dict[str, Any]
        """The flow as the register request lists it; ``schedules`` only when it declares any
        (a server that predates schedules never sees the key)."""
        definition = {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "tags": dict(self.tags),
            "tasks": [t.definition() if isinstance(t, Task) else t.as_task(()) for t in self.tasks],
            "parameters": self.parameters,
        }  # type: Dict[str, Any]
        if self.schedules:
            definition["schedules"] = [s.to_wire() for s in self.schedules]
        if self.max_active_runs is not None:
            definition["maxActiveRuns"] = self.max_active_runs
        if self.max_parallel_tasks is not None:
            definition["maxParallelTasks"] = self.max_parallel_tasks
        if self.timeout is not None:
            definition["timeoutSeconds"] = self.timeout
        return definition

    def as_task(self, outer):
        # type: (tuple) -> Dict[str, Any]
        """The flow as a task of a flow that calls it: its name, and as estimated time the sum
        of its own tasks' when every one is known (``outer``: the flows above, so recursion ends)."""
        entry = {"name": self.name}  # type: Dict[str, Any]
        if self in outer:
            return entry
        total = 0
        tasks = self.tasks
        for item in tasks:
            part = item.estimated_time if isinstance(item, Task) else item.as_task(outer + (self,)).get("estimatedTime")
            if part is None:
                return entry
            total += part
        if tasks:
            entry["estimatedTime"] = min(int(total), 7 * 24 * 3600 * 1000)
        return entry

    def __repr__(self):
        return "<Flow %s>" % self.name


def _is_task_or_flow(obj):
    # type: (Any) -> bool
    return isinstance(obj, (Task, Flow))


def flow(func=None, *, name=None, description=None, tags=None, version=None, schedules=None, max_active_runs=None,
         max_parallel_tasks=None, timeout=None):
    # type: (Optional[Callable[..., Any]], Optional[str], Optional[str], Optional[Mapping[str, Any]], Optional[str], Optional[List[Schedule]], Optional[int], Optional[int], Optional[float]) -> Any
    """Declare a flow: ``@flow`` or ``@flow(name=None, description=None, tags=None, version=None,
    schedules=None, max_active_runs=None, max_parallel_tasks=None, timeout=None)``.

    ``name`` defaults to the function name and must be unique per client; ``description`` to the
    docstring; ``tags`` is a dict of strings (e.g. team, priority) copied onto every run.
    ``version`` (at most 128 characters) defaults to a fingerprint of the flow's and its tasks'
    source: runs are claimed only by workers serving the flow's current version.
    ``schedules``: a list of ``cron(...)`` / ``interval(...)``; the server creates the flow's
    runs at their fire times (``source: "code"`` schedules, replaced at each registration).
    They do not change the version, and calling the flow directly ignores them.
    ``max_active_runs``: at most this many runs of the flow RUNNING at once across all workers;
    the server keeps the rest PENDING until a slot frees.
    ``max_parallel_tasks`` (1 to 1000, default 16): threads of the run's task pool, i.e. at most
    this many submitted tasks (``task.submit``/``task.map``) run at once.
    ``timeout`` (seconds): a run still executing past it is FAILED with ``TimeoutError``; no task
    starts after the deadline. A direct call raises ``TimeoutError`` at the deadline (an async
    flow's coroutine is cancelled; a sync body is left running in its thread).
    An ``async def`` flow runs in an event loop of its own when served; called directly it
    returns a coroutine, like the function.
    """
    def wrap(function):
        # type: (Callable[..., Any]) -> Flow
        return Flow(function, name=name, description=description, tags=tags, version=version, schedules=schedules,
                    max_active_runs=max_active_runs, max_parallel_tasks=max_parallel_tasks, timeout=timeout)

    return wrap if func is None else wrap(func)
