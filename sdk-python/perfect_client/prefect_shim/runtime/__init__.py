"""``prefect.runtime``: ``flow_run``, ``task_run`` and ``deployment`` read at run time."""
from . import deployment, flow_run, task_run

__all__ = ["flow_run", "task_run", "deployment"]
