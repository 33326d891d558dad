"""Executing one claimed run: its flow called with the run's parameters, and the terminal event
(``run_completed`` / ``run_failed`` / ``run_cancelled``) that says how it ended.

The same function runs a flow in a worker thread (``isolation="thread"``) and inside a run's own
process (``child``); only the channel the events go to differs.
"""
from typing import Any, Callable, Dict, Optional

from .context import RunContext
from .errors import RunCancelled, RunFinished, WorkerShutdown
from .execution import report_flow_failure
from .log_capture import flush_line_buffer
from .parallel import run_flow
from .parameters import coerce_arguments


def execute_flow(context, flow, parameters, describe_failure=None):
    # type: (RunContext, Any, Dict[str, Any], Optional[Callable[[BaseException], Optional[str]]]) -> str
    """Run ``flow`` for ``context`` and emit the run's terminal event; return the local outcome
    (``COMPLETED``, ``FAILED``, ``CANCELLED``, ``FINISHED_BY_SERVER``, ``INTERRUPTED``).

    ``describe_failure(exc)`` may give a clearer error text for an exception (a memory limit).
    """
    channel = context.channel
    if flow is None:
        # Another worker of this client registered it; this process cannot run it.
        message = "flow %r is not served by this worker" % context.flow_name
        context.log("ERROR", message)
        channel.emit("run_failed", {"error": message}, terminal=True)
        return "FAILED"
    try:
        kwargs = coerce_arguments(flow.func, parameters)
        ignored = sorted(set(parameters) - set(kwargs))
        if ignored:
            context.log("WARNING", "ignored parameters not in the signature of %s: %s"
                        % (flow.name, ", ".join(ignored)))
        run_flow(flow, kwargs, context)
    except RunCancelled:
        flush_line_buffer(context)
        return "CANCELLED" if channel.emit("run_cancelled", terminal=True) else "FAILED"
    except RunFinished:
        channel.drop()
        return "FINISHED_BY_SERVER"
    except WorkerShutdown:
        return "INTERRUPTED"  # the shutdown already reported the run FAILED
    except BaseException as exc:
        report_flow_failure(context, context.flow_name, exc, describe_failure(exc) if describe_failure else None)
        return "FAILED"
    flush_line_buffer(context)
    stop = context.stop_kind
    if stop is RunCancelled:
        # The cancel arrived during the last task: the flow had nothing left to stop at, but the
        # user asked for a cancel, so the run is CANCELLED, not COMPLETED.
        return "CANCELLED" if channel.emit("run_cancelled", terminal=True) else "FAILED"
    if stop is RunFinished:
        channel.drop()
        return "FINISHED_BY_SERVER"
    if stop is WorkerShutdown:
        return "INTERRUPTED"
    if channel.emit("run_completed", terminal=True):
        return "COMPLETED"
    return "FINISHED_BY_SERVER" if context.stop_kind is RunFinished else "INTERRUPTED"
