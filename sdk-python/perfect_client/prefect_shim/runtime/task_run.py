"""``prefect.runtime.task_run``: ``id``, ``name``, ``task_name`` of the current task call (None outside one)."""
from ...context import current_call, current_run


def __getattr__(name):
    run, call = current_run(), current_call()
    if name == "id":
        return "%s:%d" % (run.run_id, call.index) if run is not None and call is not None else None
    if name == "name":
        return "%s-%d" % (call.name, call.index) if call is not None else None
    if name == "task_name":
        return call.name if call is not None else None
    if name == "parameters":
        return {}
    raise AttributeError(name)
