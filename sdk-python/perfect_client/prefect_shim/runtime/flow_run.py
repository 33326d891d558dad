"""``prefect.runtime.flow_run``: ``id``, ``name``, ``flow_name``, ``parameters`` of the current run (None outside one)."""
from ...context import current_run
from ..core import current_parameters


def __getattr__(name):
    run = current_run()
    if name == "id":
        return run.run_id if run is not None else None
    if name == "name":
        return "run-%s" % run.run_id if run is not None else None
    if name == "flow_name":
        return run.flow_name if run is not None else None
    if name == "parameters":
        return current_parameters()
    if name in ("tags",):
        return []
    if name in ("scheduled_start_time", "run_count", "parent_flow_run_id", "parent_deployment_id"):
        return None
    raise AttributeError(name)
