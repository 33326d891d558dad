"""Perfect's Prefect shim: inside ``python -m perfect_client.prefect FILE.py`` (and
``perfect worker --prefect FILE.py``) ``import prefect`` resolves to this package, so an
unmodified Prefect 2/3 flow file runs on Perfect. The real ``prefect``, if installed, is never
shadowed anywhere else: the import hook (``finder.install``) exists only in that process.

Covered: ``flow``, ``task``, ``get_run_logger``, ``tags``, ``unmapped``, ``serve``, futures
(``.submit``/``.map``/``.result()``/``wait``/``as_completed``), states, ``ThreadPoolTaskRunner``,
hooks, ``prefect.artifacts``, ``prefect.variables.Variable``, ``prefect.runtime``. Anything else
raises ``UnsupportedFeature``, which the launcher reports as one line.
"""
from ..futures import unmapped
from .core import (
    Flow,
    PrefectFuture,
    State,
    Task,
    UnsupportedAttribute,
    UnsupportedFeature,
    flow,
    get_run_logger,
    serve,
    tags,
    task,
)

__version__ = "3.0.0+perfect"

__all__ = ["flow", "task", "Flow", "Task", "State", "PrefectFuture", "get_run_logger", "tags", "unmapped", "serve",
           "UnsupportedFeature", "__version__"]


def __getattr__(name):
    # ``from prefect import deploy`` and friends: one clear error naming the feature.
    if name.startswith("__"):
        raise AttributeError(name)
    raise UnsupportedAttribute("prefect.%s" % name)
