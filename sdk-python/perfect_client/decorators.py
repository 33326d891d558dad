"""``@task`` and ``@flow``: declarative wrappers that keep the function (``.func``) and can be
called like it. Execution lives in ``execution`` (tasks) and ``runner`` (served flows)."""
import collections.abc
import functools
import hashlib
import inspect
import numbers
import types
from typing import Any, Callable, Dict, List, Mapping, Optional

from .discovery import discover_tasks
from .execution import call_task
from .parameters import parameter_schema


class Task:
    """A function decorated with ``@task``.

    Calling it runs ``func`` with its retry policy. Inside a served run the call is reported to
    the server (started, progress, logs, retries, completed or failed); anywhere else it is just
    a function call with retries.

    Attributes: ``func``, ``name``, ``estimated_time`` (ms or None), ``retries``, ``retry_delay``
    (seconds), ``description``.
    """

    def __init__(self, func, name=None, estimated_time=None, retries=0, retry_delay=0.0, description=None,
                 timeout=None):
        # type: (Callable[..., Any], Optional[str], Optional[float], int, float, Optional[str], Optional[float]) -> None
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
        self.func = func
        self.name = name or getattr(func, "__name__", "task")
        self.estimated_time = None if estimated_time is None else int(round(estimated_time))
        self.retries = retries
        self.retry_delay = float(retry_delay)
        self.description = description if description is not None else inspect.getdoc(func)

    def __call__(self, *args, **kwargs):
        return call_task(self, args, kwargs)

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


def task(func=None, *, estimated_time=None, retries=0, retry_delay=0.0, name=None, description=None, timeout=None):
    # type: (Optional[Callable[..., Any]], Optional[float], int, float, Optional[str], Optional[str]) -> Any
    """Declare a task: ``@task`` or ``@task(estimated_time=ms, retries=0, retry_delay=s, name=None)``.

    ``estimated_time`` (milliseconds) is the task's weight in the run's progress until the server
    has enough history. ``retries`` extra attempts are made when the function raises, waiting
    ``retry_delay`` seconds between them. ``name`` defaults to the function name, the description
    to its docstring. ``timeout`` (seconds): an attempt still running past it fails with
    ``TimeoutError`` (retried like any exception; the flow goes on as after any exception). The
    attempt runs in a thread of the run so the flow can move on; an attempt stuck past its
    timeout is left behind and ends with the run's process.
    """
    def wrap(function):
        # type: (Callable[..., Any]) -> Task
        return Task(function, name=name, estimated_time=estimated_time, retries=retries,
                    retry_delay=retry_delay, description=description, timeout=timeout)

    return wrap if func is None else wrap(func)


def _normalise_tags(tags):
    # type: (Optional[Mapping[str, Any]]) -> Dict[str, str]
    if tags is None:
        return {}
    if not isinstance(tags, collections.abc.Mapping):
        raise TypeError("tags must map names to values, e.g. {'team': 'data-eng'}, got %r" % (tags,))
    return {str(key): str(value) for key, value in tags.items()}


#: Longest ``@flow(version=...)`` the server accepts.
MAX_VERSION = 128


def _source_of(func):
    # type: (Any) -> str
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        return "%s.%s" % (getattr(func, "__module__", "?"), getattr(func, "__qualname__", repr(func)))


def is_task(obj):
    # type: (Any) -> bool
    """True if ``obj`` is a ``Task`` (what task discovery looks for)."""
    return isinstance(obj, Task)


class Flow:
    """A function decorated with ``@flow``: a named, tagged entry point that ``serve`` registers.

    Calling it directly just runs the function (tasks inside run locally). ``tasks`` and
    ``parameters`` are computed from the function on demand, so tasks defined after the flow
    in the module are found.

    Attributes: ``func``, ``name``, ``description``, ``tags`` (str → str), ``version``.
    """

    def __init__(self, func, name=None, description=None, tags=None, version=None):
        # type: (Callable[..., Any], Optional[str], Optional[str], Optional[Mapping[str, Any]], Optional[str]) -> None
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

    def __call__(self, *args, **kwargs):
        return self.func(*args, **kwargs)

    @property
    def tasks(self):
        # type: () -> List[Task]
        """The tasks the flow's source calls, in call order (see ``discovery``)."""
        return discover_tasks(self.func, is_task)

    @property
    def version(self):
        # type: () -> str
        """The version sent at registration: ``@flow(version=...)``, else a code fingerprint.

        The server gives a run only to workers that registered the flow's current version, so
        a worker with old code never runs a run meant for new code. The fingerprint is the first
        16 hex digits of the SHA-256 of the flow function's source and of the source of each
        task it calls (its qualified name when the source cannot be read): it changes when the
        code that runs changes, and only then.
        """
        if self._version is not None:
            return self._version
        digest = hashlib.sha256()
        seen = set()
        for func in [self.func] + [t.func for t in self.tasks]:
            if id(func) in seen:
                continue
            seen.add(id(func))
            digest.update(_source_of(func).encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return digest.hexdigest()[:16]

    @property
    def parameters(self):
        # type: () -> List[Dict[str, Any]]
        """The parameter schema: ``[{name, type, default?, required}]``."""
        return parameter_schema(self.func)

    def definition(self):
        # type: () -> Dict[str, Any]
        """The flow as the register request lists it."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "tags": dict(self.tags),
            "tasks": [t.definition() for t in self.tasks],
            "parameters": self.parameters,
        }

    def __repr__(self):
        return "<Flow %s>" % self.name


def flow(func=None, *, name=None, description=None, tags=None, version=None):
    # type: (Optional[Callable[..., Any]], Optional[str], Optional[str], Optional[Mapping[str, Any]], Optional[str]) -> Any
    """Declare a flow: ``@flow`` or ``@flow(name=None, description=None, tags=None, version=None)``.

    ``name`` defaults to the function name and must be unique per client; ``description`` to the
    docstring; ``tags`` is a dict of strings (e.g. team, priority) copied onto every run.
    ``version`` (at most 128 characters) defaults to a fingerprint of the flow's and its tasks'
    source: runs are claimed only by workers serving the flow's current version.
    """
    def wrap(function):
        # type: (Callable[..., Any]) -> Flow
        return Flow(function, name=name, description=description, tags=tags, version=version)

    return wrap if func is None else wrap(func)
