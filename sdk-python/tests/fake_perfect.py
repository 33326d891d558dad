"""A small in-process Perfect server speaking the worker protocol of docs/API.md.

It is the test double for the *server*, not for the SDK: the SDK under test runs for real against
it, either in-process (``FakePerfect.post`` is a transport) or over real HTTP
(``FakeHttpServer``). It implements what the SDK relies on: atomic claims, per-run ``seq``
deduplication, 409 for finished runs, cancel requests, unknown workers, plus fault injection.
"""
import http.server
import io
import json
import os
import socket
import sys
import threading
import time
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perfect_client import Worker  # noqa: E402
from perfect_client.errors import ServerUnreachable  # noqa: E402
from perfect_client.transport import Response  # noqa: E402

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
_RUN_END = {"run_completed": "COMPLETED", "run_failed": "FAILED", "run_cancelled": "CANCELLED"}


def _error(status, code, message, details=None):
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return status, body


class FakePerfect:
    """Protocol state machine; ``post(path, body, timeout)`` makes it a transport."""

    def __init__(self, client_id="perfect_example", token="test-token", heartbeat_interval_ms=5000,
                 long_poll_ms=300):
        self.client_id = client_id
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.long_poll_ms = long_poll_ms
        self.cond = threading.Condition()
        self.workers = {}  # type: Dict[str, float]
        self.flows = {}  # type: Dict[str, Dict[str, Any]]
        self.runs = {}  # type: Dict[str, Dict[str, Any]]
        self.queue = []  # type: List[str]
        self.requests = []  # type: List[Any]
        self.attempts = []  # type: List[Any]
        self.batches = {}  # type: Dict[str, List[List[Dict[str, Any]]]]
        self.heartbeats = []  # type: List[Any]
        self.faults = []  # type: List[Dict[str, Any]]
        self.registrations = []  # type: List[Dict[str, Any]]
        #: Worker ids that said goodbye (stopped on purpose), in order.
        self.goodbyes = []  # type: List[str]
        #: False: events answers leave cancelRequested out, so only heartbeats carry cancels.
        self.cancel_in_events_answer = True
        #: ``refuse(event)`` true → the batch holding that event is answered 400 (a value the
        #: server's schema rejects).
        self.refuse = None
        #: Batches that held the same seq twice (the SDK must never send one).
        self.duplicate_seq_batches = []  # type: List[List[Dict[str, Any]]]
        #: Heartbeats that did not list a claimed run, per run (two in a row: requeue or fail).
        self.missed_beats = {}  # type: Dict[str, int]
        self._ids = 0

    # -- test controls -----------------------------------------------------------------------------

    def _next_id(self, prefix):
        self._ids += 1
        return "%s_%04d" % (prefix, self._ids)

    def trigger(self, flow_name, parameters=None):
        """Create a PENDING run of ``flow_name`` (registered or not) and wake pollers."""
        with self.cond:
            flow = self.flows.get(flow_name)
            run_id = self._next_id("run")
            self.runs[run_id] = {
                "id": run_id, "flowId": flow["id"] if flow else "flw_unknown", "flowName": flow_name,
                "parameters": parameters or {}, "state": "PENDING", "events": [], "lastSeq": 0,
                "cancelRequested": False, "error": None, "worker": None,
            }
            self.queue.append(run_id)
            self.cond.notify_all()
            return run_id

    def cancel(self, run_id):
        with self.cond:
            run = self.runs[run_id]
            if run["state"] == "PENDING":
                run["state"] = "CANCELLED"
                self.queue.remove(run_id)
            elif run["state"] == "RUNNING":
                run["cancelRequested"] = True

    def finish(self, run_id, state="FAILED", error="client heartbeat lost"):
        """Finish a run server-side, as the heartbeat monitor would."""
        with self.cond:
            self.runs[run_id]["state"] = state
            self.runs[run_id]["error"] = error
            self.cond.notify_all()

    def forget_workers(self):
        with self.cond:
            self.workers.clear()

    def fail(self, path_part, times, kind="unreachable"):
        """Make the next ``times`` requests whose path contains ``path_part`` fail.

        ``kind``: "unreachable" (no answer), "lost_answer" (applied, then no answer),
        "ack_and_forget" (answered 200 as if applied, but nothing stored: a lost batch),
        "deep_answer" / "garbage_answer" (over HTTP only: a 200 whose body nests 100,000 levels /
        is not JSON, after the request was applied), or an HTTP status such as 503 or 401.
        """
        with self.cond:
            self.faults.append({"path": path_part, "times": times, "kind": kind})

    def wait_for(self, predicate, timeout=10.0):
        """Wait until ``predicate(self)`` is true (checked under the lock); return its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(self)
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("timed out waiting for the fake server")
                self.cond.wait(min(remaining, 0.05))

    def state(self, run_id):
        with self.cond:
            return self.runs[run_id]["state"]

    def events(self, run_id, type_=None):
        with self.cond:
            return [e for e in self.runs[run_id]["events"] if type_ is None or e["type"] == type_]

    # -- transport interface -----------------------------------------------------------------------

    def post(self, path, body, timeout):
        """Transport entry point (no auth check: the in-process fake trusts its worker)."""
        status, answer = self.handle(path, json.loads(json.dumps(body)))
        return Response(status, answer)

    def handle(self, path, body):
        with self.cond:
            self.attempts.append((path, body))  # every request, answered or not
        fault = self._take_fault(path)
        if fault == "unreachable":
            raise ServerUnreachable("injected outage")
        if fault == 401:
            return _error(401, "unauthorized", "bad token")
        if isinstance(fault, int):
            return _error(fault, "internal", "injected failure")
        if fault == "ack_and_forget" and "/events" in path:
            events = body["events"]
            return 200, {"applied": len(events), "duplicates": 0, "lastSeq": events[-1]["seq"],
                         "state": "RUNNING", "cancelRequested": False}
        with self.cond:
            self.requests.append((path, body))
            result = self._route(path, body)
            self.cond.notify_all()
        if fault == "lost_answer":
            raise ServerUnreachable("injected lost answer")
        if fault in ("deep_answer", "garbage_answer"):
            return fault, result
        return result

    def _take_fault(self, path):
        with self.cond:
            for fault in self.faults:
                if fault["path"] in path and fault["times"] > 0:
                    fault["times"] -= 1
                    return fault["kind"]
        return None

    def _route(self, path, body):
        parts = path.strip("/").split("/")
        if parts[:2] != ["api", "worker"] or len(parts) < 4:
            return _error(404, "not_found", "no route " + path)
        if parts[2] != self.client_id:
            return _error(404, "not_found", "unknown client " + parts[2])
        if parts[3] == "register":
            return self._register(body)
        worker_id = body.get("workerId")
        if worker_id not in self.workers:
            return _error(404, "not_found", "unknown worker %s" % worker_id)
        self.workers[worker_id] = time.monotonic()
        if parts[3] == "poll":
            return self._poll(worker_id, body)
        if parts[3] == "heartbeat":
            return self._heartbeat(body)
        if parts[3] == "goodbye":
            self.goodbyes.append(worker_id)
            del self.workers[worker_id]
            return 204, None
        if parts[3] == "runs" and len(parts) == 6 and parts[5] == "events":
            return self._events(parts[4], body)
        return _error(404, "not_found", "no route " + path)

    def _register(self, body):
        self.registrations.append(body)
        worker_id = self._next_id("wkr")
        self.workers[worker_id] = time.monotonic()
        answer_flows = []
        for definition in body["flows"]:
            flow = self.flows.get(definition["name"]) or {"id": self._next_id("flw")}
            flow["definition"] = definition
            self.flows[definition["name"]] = flow
            answer_flows.append({"id": flow["id"], "name": definition["name"]})
        return 200, {"clientId": self.client_id, "workerId": worker_id,
                     "heartbeatIntervalMs": self.heartbeat_interval_ms, "longPollMs": self.long_poll_ms,
                     "flows": answer_flows}

    def _poll(self, worker_id, body):
        deadline = time.monotonic() + min(body.get("waitMs", self.long_poll_ms), self.long_poll_ms) / 1000.0
        while not self.queue and time.monotonic() < deadline:
            self.cond.wait(deadline - time.monotonic())
        claimed = []
        while self.queue and len(claimed) < body.get("maxRuns", 1):
            run = self.runs[self.queue.pop(0)]
            run["state"] = "RUNNING"
            run["worker"] = worker_id
            claimed.append({k: run[k] for k in ("id", "flowId", "flowName", "parameters")})
            claimed[-1]["createdAt"] = "2026-11-25T10:00:00.000Z"
        return 200, {"runs": claimed}

    def _heartbeat(self, body):
        self.heartbeats.append((time.monotonic(), body))
        ids = [r for r in body["runIds"] if r in self.runs]
        # As the server does: a claimed run two heartbeats in a row do not list is given back
        # (no events yet: the poll answer never arrived) or failed (the worker gave it up).
        for run in self.runs.values():
            if run["state"] != "RUNNING" or run["worker"] != body["workerId"]:
                continue
            if run["id"] in ids:
                self.missed_beats.pop(run["id"], None)
                continue
            missed = self.missed_beats[run["id"]] = self.missed_beats.get(run["id"], 0) + 1
            if missed >= 2:
                del self.missed_beats[run["id"]]
                if run["events"]:
                    run["state"], run["error"] = "FAILED", "worker stopped reporting this run"
                else:
                    run["state"], run["worker"] = "PENDING", None
                    self.queue.append(run["id"])
        return 200, {
            "cancelledRunIds": [r for r in ids if self.runs[r]["cancelRequested"] and self.runs[r]["state"] == "RUNNING"],
            "finishedRunIds": [r for r in ids if self.runs[r]["state"] in TERMINAL],
            "heartbeatIntervalMs": self.heartbeat_interval_ms,
        }

    def _events(self, run_id, body):
        run = self.runs.get(run_id)
        if run is None:
            return _error(404, "not_found", "unknown run " + run_id)
        self.batches.setdefault(run_id, []).append(body["events"])
        seqs = [e["seq"] for e in body["events"]]
        if len(set(seqs)) != len(seqs):
            self.duplicate_seq_batches.append(body["events"])
        if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            return _error(400, "validation_error", "events: seqs must be contiguous")
        if self.refuse is not None and any(self.refuse(e) for e in body["events"]):
            return _error(400, "validation_error", "events: refused by the test")
        fresh = [e for e in body["events"] if e["seq"] > run["lastSeq"]]
        if run["state"] in TERMINAL and fresh:
            return _error(409, "run_finished", "run %s is already %s" % (run_id, run["state"]),
                          {"state": run["state"]})
        if fresh and fresh[0]["seq"] != run["lastSeq"] + 1:
            return _error(409, "seq_gap", "expected seq %d" % (run["lastSeq"] + 1),
                          {"expectedSeq": run["lastSeq"] + 1})
        for event in fresh:
            run["events"].append(event)
            run["lastSeq"] = event["seq"]
            if event["type"] in _RUN_END:
                run["state"] = _RUN_END[event["type"]]
                if run["state"] == "COMPLETED" and run["cancelRequested"]:
                    run["state"] = "CANCELLED"  # a cancel requested before the end wins
                run["error"] = event.get("error")
        return 200, {"applied": len(fresh), "duplicates": len(body["events"]) - len(fresh),
                     "lastSeq": run["lastSeq"], "state": run["state"],
                     "cancelRequested": run["cancelRequested"] and self.cancel_in_events_answer}


class FakeHttpServer:
    """Serves a ``FakePerfect`` over real HTTP on 127.0.0.1, checking the bearer token."""

    def __init__(self, fake, port=0):
        self.fake = fake
        outer = self
        #: Paths of the requests this instance answered (several instances may share one fake,
        #: as several ``next start`` share one database).
        self.paths = []  # type: List[str]
        #: An HTTP status answered to every request without touching the fake (503: starting).
        self.status_override = None  # type: Optional[int]
        self._killed = False
        self._open = set()  # type: set
        self._lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with outer._lock:
                    outer._open.add(self.connection)

            def finish(self):
                with outer._lock:
                    outer._open.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if outer._killed:
                    self.close_connection = True
                    return
                if outer.status_override is not None:
                    status, answer = _error(outer.status_override, "unavailable", "instance starting")
                elif self.headers.get("Authorization") != "Bearer " + outer.fake.token:
                    status, answer = _error(401, "unauthorized", "bad token")
                elif self.headers.get("Content-Type") != "application/json":
                    status, answer = _error(415, "unsupported_media_type", "json only")
                else:
                    try:
                        status, answer = outer.fake.handle(self.path, json.loads(raw.decode("utf-8")))
                    except ServerUnreachable:
                        self.close_connection = True
                        return  # no answer at all, like a dropped connection
                if status == "deep_answer":
                    status, data = 200, b'{"runs":' + b"[" * 100000 + b"]" * 100000 + b"}"
                elif status == "garbage_answer":
                    status, data = 200, b"<html>proxy error</html>"
                else:
                    data = json.dumps(answer).encode("utf-8")
                if outer._killed:  # killed while the request was being handled: no answer
                    self.close_connection = True
                    return
                with outer._lock:
                    outer.paths.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                # A worker that is killed or stops mid-long-poll hangs up; that is expected here.
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def kill(self):
        """Like ``kill -9`` of the instance: stop listening, drop every open connection (a long
        poll in flight gets no answer), answer nothing more. The fake's state (the database)
        stays, for the other instances."""
        self._killed = True
        self.httpd.shutdown()
        self.httpd.server_close()
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def answered(self, part):
        """How many answered requests of this instance had ``part`` in their path."""
        with self._lock:
            return sum(1 for p in self.paths if part in p)


class WorkerThread:
    """Runs a real ``Worker`` against a fake server in a background thread."""

    def __init__(self, fake, *flows, **kwargs):
        self.out = io.StringIO()
        kwargs.setdefault("transport", fake)
        kwargs.setdefault("client_id", fake.client_id)
        kwargs.setdefault("out", self.out)
        kwargs.setdefault("isolation", "thread")  # the flows of most tests are local functions
        self.worker = Worker(flows, **kwargs)
        self.error = None  # type: Optional[BaseException]
        self.thread = threading.Thread(target=self._run, name="test-worker", daemon=True)

    def _run(self):
        try:
            self.worker.serve()
        except BaseException as err:  # noqa: B902 - reported to the test
            self.error = err

    def start(self):
        self.thread.start()
        return self

    def join(self, timeout=15.0):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError("worker did not stop; output:\n" + self.out.getvalue())

    def stop(self, timeout=15.0):
        self.worker.stop()
        self.join(timeout)
