"""The worker side of the wire protocol (``docs/API.md``, "Worker protocol").

``WorkerApi`` turns each endpoint into one method and each HTTP status into either a return value
or a precise exception, so the runner never looks at status codes.
"""
import time
import urllib.parse
from typing import Any, Dict, List, Optional

from .errors import (
    FatalWorkerError,
    PerfectError,
    ServerError,
    ServerUnreachable,
    TokenRejected,
    error_message,
)
from .transport import Undecodable


class UnknownWorker(PerfectError):
    """The server does not know this worker id (404 on poll or heartbeat): register again."""


class RunGone(PerfectError):
    """The server will not take more events for a run (409 finished, 404 unknown, 403 not ours).

    ``status`` is the HTTP status and ``state`` the run's terminal state when the server said it.
    """

    def __init__(self, run_id, status, body):
        # type: (str, int, Any) -> None
        self.run_id = run_id
        self.status = status
        details = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        details = details.get("details") if isinstance(details, dict) else None
        self.state = details.get("state") if isinstance(details, dict) else None
        super().__init__("run %s refused by the server (HTTP %d: %s)" % (run_id, status, error_message(body)))


class SeqGap(PerfectError):
    """409 ``seq_gap``: the batch starts past what the server has (an earlier batch was lost);
    ``expected_seq`` is the first ``seq`` it is missing."""

    def __init__(self, run_id, expected_seq, body):
        # type: (str, int, Any) -> None
        self.run_id = run_id
        self.expected_seq = expected_seq
        super().__init__("run %s: the server expects seq %d next (%s)" % (run_id, expected_seq, error_message(body)))


def _seq_gap(body):
    # type: (Any) -> Any
    """The ``expectedSeq`` of a ``seq_gap`` error body, else None."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict) or err.get("code") != "seq_gap":
        return None
    details = err.get("details")
    expected = details.get("expectedSeq") if isinstance(details, dict) else None
    if isinstance(expected, int) and not isinstance(expected, bool) and expected >= 1:
        return expected
    return None


def _unknown_worker(body):
    # type: (Any) -> bool
    """A 404 that names the worker (not the run): the worker must register again."""
    message = error_message(body)
    return message.startswith("worker ")


def is_transient(exc):
    # type: (BaseException) -> bool
    """True for failures worth retrying later: no answer, 5xx, 408, 429, or a 2xx that is not a
    JSON object (a proxy or a server still starting)."""
    if isinstance(exc, ServerUnreachable):
        return True
    return isinstance(exc, ServerError) and (exc.status >= 500 or exc.status in (408, 429) or exc.status < 300)


def iso_utc(epoch_seconds=None):
    # type: (float) -> str
    """Format a Unix time (default: now) as ISO 8601 UTC with milliseconds, e.g. ``2026-11-25T10:00:00.010Z``."""
    t = time.time() if epoch_seconds is None else epoch_seconds
    whole = int(t)
    return "%s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)), int((t - whole) * 1000))


class WorkerApi:
    """Typed access to ``/api/worker/{clientId}/...`` over any transport with ``post``."""

    #: Seconds added to a long poll's ``waitMs`` before the client gives up on the answer.
    POLL_MARGIN = 10.0
    #: Timeout for the short requests (register, heartbeat, events).
    REQUEST_TIMEOUT = 15.0

    def __init__(self, transport, client_id):
        # type: (Any, str) -> None
        self.transport = transport
        self.client_id = client_id
        self._prefix = "/api/worker/%s" % urllib.parse.quote(client_id, safe="")

    def register(self, payload):
        # type: (Dict[str, Any]) -> Dict[str, Any]
        """Register the worker and its flows; return the answer (``workerId``, ``heartbeatIntervalMs``, ...)."""
        status, body = self.transport.post(self._prefix + "/register", payload, self.REQUEST_TIMEOUT)
        if status == 404:
            raise FatalWorkerError(
                "client %r is unknown to the server: check PERFECT_CLIENT_ID and the server's clients.json "
                "(or PERFECT_URL does not point at a Perfect server)" % self.client_id
            )
        if status in (400, 403, 413):
            # Waiting will not make the server accept these flow definitions.
            raise FatalWorkerError(
                "server rejected the registration of client %s: %s" % (self.client_id, error_message(body))
            )
        answer = self._check(status, body)
        if not answer.get("workerId"):
            raise ServerError(status, body, "register answer has no workerId")
        return answer

    def poll(self, worker_id, max_runs, wait_ms):
        # type: (str, int, int) -> List[Dict[str, Any]]
        """Long-poll for up to ``max_runs`` runs, holding the request up to ``wait_ms``."""
        body = {"workerId": worker_id, "maxRuns": max_runs, "waitMs": wait_ms}
        status, answer = self.transport.post(self._prefix + "/poll", body, wait_ms / 1000.0 + self.POLL_MARGIN)
        if status == 404:
            raise UnknownWorker(error_message(answer))
        runs = self._check(status, answer).get("runs")
        return runs if isinstance(runs, list) else []

    def heartbeat(self, worker_id, run_ids):
        # type: (str, List[str]) -> Dict[str, Any]
        """Report liveness and the runs being executed; return cancelled/finished run ids."""
        body = {"workerId": worker_id, "runIds": list(run_ids)}
        status, answer = self.transport.post(self._prefix + "/heartbeat", body, self.REQUEST_TIMEOUT)
        if status == 404:
            raise UnknownWorker(error_message(answer))
        return self._check(status, answer)

    def goodbye(self, worker_id, timeout=None):
        # type: (str, Optional[float]) -> None
        """Tell the server this worker process is stopping on purpose: it forgets the worker at
        once instead of judging it lost after the heartbeat timeout (no ``worker.lost`` alert)."""
        status, answer = self.transport.post(self._prefix + "/goodbye", {"workerId": worker_id},
                                             self.REQUEST_TIMEOUT if timeout is None else timeout)
        if status != 204:
            self._check(status, answer)

    def send_events(self, run_id, worker_id, events):
        # type: (str, str, List[Dict[str, Any]]) -> Dict[str, Any]
        """Send one batch of a run's events; ``sentAt`` is stamped now so the server can correct clock skew."""
        body = {"workerId": worker_id, "sentAt": iso_utc(), "events": events}
        path = "%s/runs/%s/events" % (self._prefix, urllib.parse.quote(run_id, safe=""))
        status, answer = self.transport.post(path, body, self.REQUEST_TIMEOUT)
        if status == 409 and _seq_gap(answer) is not None:
            raise SeqGap(run_id, _seq_gap(answer), answer)
        if status in (403, 404, 409):
            raise RunGone(run_id, status, answer)
        return self._check(status, answer)

    def start_subflow(self, parent_run_id, worker_id, call, definition, parameters):
        # type: (str, str, int, Dict[str, Any], Dict[str, Any]) -> Dict[str, Any]
        """Start the child run of ``parent_run_id``'s task call ``call`` (the same child again for a
        re-sent request); return the claimed run (``id``, ``flowId``, ``parameters``, ...).

        Raises ``RunGone`` when the parent is unknown, another's or no longer RUNNING (404, 403,
        409), ``ServerError`` for the rest (400: parameters the child flow refuses)."""
        body = {"workerId": worker_id, "call": call, "flow": definition, "parameters": parameters}
        path = "%s/runs/%s/subflows" % (self._prefix, urllib.parse.quote(parent_run_id, safe=""))
        status, answer = self.transport.post(path, body, self.REQUEST_TIMEOUT)
        if status in (403, 404, 409):
            raise RunGone(parent_run_id, status, answer)
        run = self._check(status, answer).get("run")
        if not isinstance(run, dict) or not run.get("id"):
            raise ServerError(status, answer, "subflow answer has no run")
        return run

    def start_local_run(self, worker_id, flow_name, parameters):
        # type: (str, str, Dict[str, Any]) -> Dict[str, Any]
        """A flow called directly (``python etl.py``): the server's new RUNNING run of the
        registered flow ``flow_name`` for this worker (``trigger: "local"``)."""
        body = {"workerId": worker_id, "flow": flow_name, "parameters": parameters}
        status, answer = self.transport.post(self._prefix + "/runs", body, self.REQUEST_TIMEOUT)
        if status == 404 and _unknown_worker(answer):
            raise UnknownWorker(error_message(answer))
        run = self._check(status, answer).get("run")
        if not isinstance(run, dict) or not run.get("id"):
            raise ServerError(status, answer, "local run answer has no run")
        return run

    def create_artifact(self, run_id, worker_id, artifact):
        # type: (str, str, Dict[str, Any]) -> Dict[str, Any]
        """Publish an artifact of the running run (``{type, key?, description?, data, call?}``);
        the stored artifact (``id``, ...)."""
        body = dict(artifact, workerId=worker_id)
        path = "%s/runs/%s/artifacts" % (self._prefix, urllib.parse.quote(run_id, safe=""))
        status, answer = self.transport.post(path, body, self.REQUEST_TIMEOUT)
        return self._check(status, answer).get("artifact") or {}

    def update_artifact(self, run_id, worker_id, artifact_id, data, description=None):
        # type: (str, str, str, Any, Any) -> Dict[str, Any]
        """New data for an artifact of the running run."""
        body = {"workerId": worker_id, "data": data}  # type: Dict[str, Any]
        if description is not None:
            body["description"] = description
        path = "%s/runs/%s/artifacts/%s" % (self._prefix, urllib.parse.quote(run_id, safe=""),
                                            urllib.parse.quote(str(artifact_id), safe=""))
        status, answer = self.transport.patch(path, body, self.REQUEST_TIMEOUT)
        return self._check(status, answer).get("artifact") or {}

    def get_variable(self, name):
        # type: (str) -> Any
        """``(True, value)`` of the variable, ``(False, None)`` when it does not exist."""
        path = "%s/variables/%s" % (self._prefix, urllib.parse.quote(name, safe=""))
        status, answer = self.transport.get(path, self.REQUEST_TIMEOUT)
        if status == 404:
            return False, None
        variable = self._check(status, answer).get("variable") or {}
        return True, variable.get("value")

    def set_variable(self, name, value):
        # type: (str, Any) -> Dict[str, Any]
        """Create or replace the variable; the stored variable."""
        path = "%s/variables/%s" % (self._prefix, urllib.parse.quote(name, safe=""))
        status, answer = self.transport.put(path, {"value": value}, self.REQUEST_TIMEOUT)
        return self._check(status, answer).get("variable") or {}

    def request_slot(self, run_id, worker_id, key, call, task, wait_ms):
        # type: (str, str, str, int, str, int) -> Dict[str, Any]
        """Ask for a slot of concurrency ``key`` for task call ``call``, waiting up to ``wait_ms``
        while the key is full; ``{slotId, state: HELD|WAITING, position?}``. 409/403/404 raise
        ``SlotRefused`` (the run is not RUNNING here any more)."""
        from .concurrency import SlotRefused

        body = {"workerId": worker_id, "key": key, "call": call, "task": task, "waitMs": wait_ms}
        path = "%s/runs/%s/slots" % (self._prefix, urllib.parse.quote(run_id, safe=""))
        status, answer = self.transport.post(path, body, wait_ms / 1000.0 + self.POLL_MARGIN)
        if status in (403, 409) or (status == 404 and not _unknown_worker(answer)):
            raise SlotRefused("HTTP %d: %s" % (status, error_message(answer)))
        if status == 404:
            raise UnknownWorker(error_message(answer))
        return self._check(status, answer)

    def release_slot(self, run_id, slot_id):
        # type: (str, str) -> None
        """Give a slot back (204, also when it was already gone). A transport without
        ``delete`` (a test's fake) skips it: the run's end frees the slot on the server."""
        delete = getattr(self.transport, "delete", None)
        if delete is None:
            return
        path = "%s/runs/%s/slots/%s" % (self._prefix, urllib.parse.quote(run_id, safe=""), urllib.parse.quote(slot_id, safe=""))
        status, answer = delete(path, self.REQUEST_TIMEOUT)
        if status != 204:
            self._check(status, answer)

    def _check(self, status, body):
        # type: (int, Any) -> Dict[str, Any]
        if status == 401:
            raise TokenRejected("token rejected for client %s: check PERFECT_TOKEN" % self.client_id)
        if isinstance(body, Undecodable):
            # Transient: the worker logs it, backs off and asks again; runs claimed in a lost
            # poll answer are not in its heartbeats, so the server gives them to a poll again.
            raise ServerError(status, None, "could not decode the server's answer (HTTP %d): %s"
                              % (status, body.reason))
        if not 200 <= status < 300:
            raise ServerError(status, body)
        if not isinstance(body, dict):
            # A 2xx that is not a JSON object is not a Perfect server (or a proxy page): transient.
            raise ServerError(status, body, "unexpected answer from the server (HTTP %d, not a JSON object)" % status)
        return body
