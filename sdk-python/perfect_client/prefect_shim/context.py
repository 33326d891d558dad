"""``prefect.context``: ``get_run_context()`` with the current flow run (and task run)."""
from ..context import current_call, current_run
from .core import current_parameters
from .exceptions import MissingContextError


class _FlowRun:
    def __init__(self, run):
        self.id = run.run_id
        self.name = "run-%s" % run.run_id
        self.flow_name = run.flow_name
        self.parameters = current_parameters()


class _TaskRun:
    def __init__(self, run, call):
        self.id = "%s:%d" % (run.run_id, call.index)
        self.name = "%s-%d" % (call.name, call.index)
        self.task_name = call.name


class FlowRunContext:
    """The flow run executing here: ``flow_run`` (``id``, ``name``, ``flow_name``, ``parameters``)."""

    def __init__(self, run):
        self.flow_run = _FlowRun(run)

    @classmethod
    def get(cls):
        """The context, or None outside a run."""
        run = current_run()
        return cls(run) if run is not None else None


class TaskRunContext:
    """The task call executing here: ``task_run`` (``id``, ``name``, ``task_name``)."""

    def __init__(self, run, call):
        self.task_run = _TaskRun(run, call)

    @classmethod
    def get(cls):
        """The context, or None outside a task."""
        run, call = current_run(), current_call()
        return cls(run, call) if run is not None and call is not None else None


def get_run_context():
    """The task run's context inside a task, else the flow run's; ``MissingContextError`` outside a run."""
    context = TaskRunContext.get() or FlowRunContext.get()
    if context is None:
        raise MissingContextError("no run is executing here")
    return context


__all__ = ["get_run_context", "FlowRunContext", "TaskRunContext"]
