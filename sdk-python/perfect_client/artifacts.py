"""Artifacts: what a run publishes for its run view (Prefect's ``prefect.artifacts``).

Four kinds, each shown in the dashboard's run view and the run report: markdown (rendered
safely: HTML in it is shown as text), a table, a link (http/https only) and a progress bar (a
progress artifact with a ``key`` is updated in place when it is created again). Inside a served
or direct run each call is one request to the server, attributed to the current task call;
outside a run (no server to publish to) it does nothing and returns None.
"""
import collections.abc
import math
from typing import Any, Dict, List, Optional

from .context import _current_call, current_run
from .errors import FatalWorkerError, PerfectError


class ServerHandle:
    """The way to the server from inside a run's own process: its own ``WorkerApi`` and the
    worker id of the supervisor that holds the run."""

    def __init__(self, api, worker_id):
        # type: (Any, str) -> None
        self.api = api
        self.worker_id = worker_id


def server_handle(spec):
    # type: (Any) -> Optional[ServerHandle]
    """A ``ServerHandle`` from the supervisor's handover (``{urls, token, client_id, worker_id}``)."""
    if not isinstance(spec, dict) or not spec.get("urls") or not spec.get("worker_id"):
        return None
    from .protocol import WorkerApi
    from .transport import FailoverTransport, HttpTransport

    urls = list(spec["urls"])
    transport = HttpTransport(urls[0], spec.get("token") or "") if len(urls) == 1 \
        else FailoverTransport.for_urls(urls, spec.get("token") or "")
    return ServerHandle(WorkerApi(transport, spec.get("client_id") or ""), str(spec["worker_id"]))


def _server():
    # type: () -> Any
    run = current_run()
    server = getattr(run, "server", None) if run is not None else None
    if server is None or getattr(server, "worker_id", None) is None:
        return None, None
    return run, server


def _drain(run, server):
    # type: (Any, Any) -> None
    """Wait (at most two seconds) until the run's events so far reached the server."""
    import time

    channel = run.channel
    if not hasattr(channel, "has_data"):
        return  # a run process: its supervisor delivers, the artifact is then the run's
    sender = getattr(server, "_sender", None)
    if sender is not None:
        sender.wake()
    deadline = time.monotonic() + 2.0
    while channel.has_data() and time.monotonic() < deadline:
        time.sleep(0.005)


def _publish(artifact):
    # type: (Dict[str, Any]) -> Optional[str]
    run, server = _server()
    if server is None:
        return None
    call = _current_call.get()
    if call is not None:
        artifact["call"] = call.index
        _drain(run, server)  # the server learns the task run from task_started, sent in batches
    artifact = {k: v for k, v in artifact.items() if v is not None}
    try:
        answer = server.api.create_artifact(run.run_id, server.worker_id, artifact)
    except (PerfectError, FatalWorkerError) as err:
        run.log("WARNING", "artifact %s was not published: %s" % (artifact.get("key") or artifact["type"], err))
        return None
    return str(answer.get("id")) if answer.get("id") is not None else None


def _cell(value):
    # type: (Any) -> Any
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value if not (isinstance(value, float) and (math.isnan(value) or math.isinf(value))) else str(value)
    return str(value)


def table_data(table):
    # type: (Any) -> Dict[str, List[Any]]
    """``{columns, rows}`` of a table given as Prefect takes it: a list of dicts (columns from
    their keys, in first-seen order), a dict of columns (equal-length lists), or a list of lists
    (columns numbered from 0)."""
    if isinstance(table, collections.abc.Mapping):
        columns = [str(k) for k in table.keys()]
        values = [list(v) for v in table.values()]
        length = max((len(v) for v in values), default=0)
        rows = [[_cell(v[i]) if i < len(v) else None for v in values] for i in range(length)]
        return {"columns": columns, "rows": rows}
    rows_in = list(table)
    if all(isinstance(r, collections.abc.Mapping) for r in rows_in):
        columns = []  # type: List[str]
        for row in rows_in:
            for key in row.keys():
                if str(key) not in columns:
                    columns.append(str(key))
        rows = [[_cell(dict((str(k), v) for k, v in row.items()).get(c)) for c in columns] for row in rows_in]
        return {"columns": columns, "rows": rows}
    rows = [[_cell(v) for v in r] for r in rows_in]
    width = max((len(r) for r in rows), default=0)
    return {"columns": [str(i) for i in range(width)], "rows": rows}


def create_markdown_artifact(markdown, key=None, description=None):
    # type: (str, Optional[str], Optional[str]) -> Optional[str]
    """Publish ``markdown`` for the run view (HTML inside it is shown as text); its id, or None."""
    return _publish({"type": "markdown", "key": key, "description": description, "data": {"markdown": str(markdown)}})


def create_table_artifact(table, key=None, description=None):
    # type: (Any, Optional[str], Optional[str]) -> Optional[str]
    """Publish a table (list of dicts, dict of lists or list of lists); its id, or None."""
    return _publish({"type": "table", "key": key, "description": description, "data": table_data(table)})


def create_link_artifact(link, link_text=None, key=None, description=None):
    # type: (str, Optional[str], Optional[str], Optional[str]) -> Optional[str]
    """Publish a link (http:// or https:// only); its id, or None."""
    return _publish({"type": "link", "key": key, "description": description,
                     "data": {"url": str(link), "text": link_text}})


def _percent(progress):
    # type: (Any) -> float
    value = float(progress)
    if math.isnan(value):
        raise ValueError("progress must be a number from 0 to 100, got %r" % (progress,))
    return min(100.0, max(0.0, value))


def create_progress_artifact(progress, key=None, description=None):
    # type: (float, Optional[str], Optional[str]) -> Optional[str]
    """Publish a progress bar (0..100); with a ``key`` already used by the run it is updated in
    place. Its id (for ``update_progress_artifact``), or None."""
    return _publish({"type": "progress", "key": key, "description": description, "data": {"progress": _percent(progress)}})


def update_progress_artifact(artifact_id, progress, description=None):
    # type: (Any, float, Optional[str]) -> Optional[str]
    """Move the progress bar ``artifact_id`` (from ``create_progress_artifact``) to ``progress``."""
    run, server = _server()
    if server is None or artifact_id is None:
        return None
    try:
        server.api.update_artifact(run.run_id, server.worker_id, str(artifact_id), {"progress": _percent(progress)}, description)
    except (PerfectError, FatalWorkerError) as err:
        run.log("WARNING", "progress artifact %s was not updated: %s" % (artifact_id, err))
        return None
    return str(artifact_id)


__all__ = ["create_markdown_artifact", "create_table_artifact", "create_link_artifact",
           "create_progress_artifact", "update_progress_artifact", "table_data"]
