"""Variables: named JSON values flows read and write at run time (Prefect's ``Variable``).

Inside a served or direct run they are read from and written to the server (the worker route
``/api/worker/{clientId}/variables/{name}``); outside one, with ``PERFECT_URL`` set, the same
route is used with ``PERFECT_CLIENT_ID``/``PERFECT_TOKEN``. With no server at all they live in
this process only (a flow run locally still works).
"""
import os
import re
import threading
from typing import Any, Dict, Optional

from .context import current_run
from .errors import FatalWorkerError, PerfectError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")

class VariableError(RuntimeError):
    """A variable could not be read or written on the server (unreachable, refused)."""


_local = {}  # type: Dict[str, Any]
_local_lock = threading.Lock()


def _check_name(name):
    # type: (Any) -> str
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError("variable names are 1..200 letters, digits and _ . -, got %r" % (name,))
    return name


def _api():
    # type: () -> Any
    run = current_run()
    server = getattr(run, "server", None) if run is not None else None
    if server is not None:
        return server.api
    if not os.environ.get("PERFECT_URL"):
        return None
    from .protocol import WorkerApi
    from .runner import DEFAULT_CLIENT_ID, DEFAULT_TOKEN
    from .transport import FailoverTransport, HttpTransport, split_urls

    urls = split_urls(os.environ["PERFECT_URL"])
    token = os.environ.get("PERFECT_TOKEN") or DEFAULT_TOKEN
    transport = HttpTransport(urls[0], token) if len(urls) == 1 else FailoverTransport.for_urls(urls, token)
    return WorkerApi(transport, os.environ.get("PERFECT_CLIENT_ID") or DEFAULT_CLIENT_ID)


def get_variable(name, default=None):
    # type: (str, Any) -> Any
    """The value of variable ``name``, or ``default`` when it does not exist."""
    name = _check_name(name)
    api = _api()
    if api is None:
        with _local_lock:
            return _local.get(name, default)
    try:
        found, value = api.get_variable(name)
    except (PerfectError, FatalWorkerError) as err:
        raise VariableError("variable %r could not be read: %s" % (name, err)) from None
    return value if found else default


def set_variable(name, value, overwrite=True):
    # type: (str, Any, bool) -> Any
    """Create or replace variable ``name`` (any JSON value); ``overwrite=False`` refuses to
    replace an existing one (``ValueError``). Returns the value."""
    name = _check_name(name)
    api = _api()
    if api is None:
        with _local_lock:
            if not overwrite and name in _local:
                raise ValueError("variable %r already exists (pass overwrite=True to replace it)" % name)
            _local[name] = value
        return value
    try:
        if not overwrite and api.get_variable(name)[0]:
            raise ValueError("variable %r already exists (pass overwrite=True to replace it)" % name)
        api.set_variable(name, value)
    except (PerfectError, FatalWorkerError) as err:
        raise VariableError("variable %r could not be set: %s" % (name, err)) from None
    return value


class Variable:
    """Prefect-style access: ``Variable.get(name, default=None)``, ``Variable.set(name, value,
    overwrite=False)``."""

    def __init__(self, name, value=None):
        # type: (str, Any) -> None
        self.name = name
        self.value = value

    @classmethod
    def get(cls, name, default=None):
        # type: (str, Any) -> Any
        """The variable's value, or ``default``."""
        return get_variable(name, default)

    @classmethod
    def set(cls, name, value, tags=None, overwrite=False):
        # type: (str, Any, Optional[Any], bool) -> "Variable"
        """Create the variable (``overwrite=True`` to replace one); ``tags`` are accepted and ignored."""
        set_variable(name, value, overwrite=overwrite)
        return cls(name, value)

    def __repr__(self):
        return "Variable(name=%r, value=%r)" % (self.name, self.value)
