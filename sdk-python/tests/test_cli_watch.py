"""``perfect run --watch`` / ``logs -f`` never hang: against a small real HTTP server whose SSE
stream ends at once (or never sends anything), or that goes down for a moment, the watcher
reconnects, keeps looking at the run, prints every log line once and exits with the run's code."""
import http.server
import io
import json
import os
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from perfect_client import cli  # noqa: E402


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, states, stream="close"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.states = list(states)  # the run's state at each GET, the last one repeated
        self.stream = stream
        self.streams = 0
        self.gets = 0
        self.failures = 0  # answer 503 to this many GETs of the run first
        self.lock = threading.Lock()


class _Handler(http.server.BaseHTTPRequestHandler):
    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        server = self.server
        if self.path == "/api/events":
            with server.lock:
                server.streams += 1
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            if server.stream == "change":
                self.wfile.write(b'event: change\ndata: {"kind":"run","runId":"7","flowId":"1","state":"RUNNING","progress":0.5}\n\n')
            self.wfile.flush()
            return  # the stream ends: the watcher must reconnect and go on
        if self.path.startswith("/api/runs/7/logs"):
            after = int(self.path.split("after=")[1].split("&")[0])
            logs = [{"id": str(i), "runId": "7", "taskRunId": None, "level": "INFO", "message": "line %d" % i,
                     "ts": "2026-12-02T10:00:0%d.000Z" % i} for i in (1, 2, 3) if i > after]
            with server.lock:
                shown = min(server.gets, 3)
            return self._json(200, {"logs": [entry for entry in logs if int(entry["id"]) <= shown]})
        if self.path == "/api/runs/7":
            with server.lock:
                if server.failures:
                    server.failures -= 1
                    return self._json(503, {"error": {"code": "internal", "message": "restarting"}})
                state = server.states[min(server.gets, len(server.states) - 1)]
                server.gets += 1
            return self._json(200, {"id": "7", "state": state, "progress": 1 if state == "COMPLETED" else 0.5,
                                    "taskRuns": [], "error": "boom" if state == "FAILED" else None})
        self._json(404, {"error": {"code": "not_found", "message": "no route"}})

    def log_message(self, *args):
        pass


class WatchTests(unittest.TestCase):
    def watch(self, server):
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        out, err = io.StringIO(), io.StringIO()
        api = cli.Api(url="http://127.0.0.1:%d" % server.server_address[1], token="")
        code = cli.Watcher(api, "7", progress=True, out=out, err=err).watch()
        return code, out.getvalue(), err.getvalue()

    def test_a_stream_that_ends_at_once_is_reconnected_and_the_run_followed_to_its_end(self):
        server = _Server(["RUNNING", "RUNNING", "RUNNING", "COMPLETED"], stream="close")
        code, out, err = self.watch(server)
        self.assertEqual(code, cli.EXIT_OK)
        self.assertEqual([line.split(None, 2)[2] for line in out.splitlines()], ["line 1", "line 2", "line 3"])
        self.assertIn("run 7 COMPLETED", err.splitlines()[-1])
        self.assertGreaterEqual(server.streams, 2)  # it ended, and was opened again

    def test_changes_wake_the_watcher_and_failed_and_cancelled_runs_have_their_codes(self):
        code, _, err = self.watch(_Server(["RUNNING", "FAILED"], stream="change"))
        self.assertEqual(code, cli.EXIT_FAILED)
        self.assertIn("run 7 FAILED: boom", err)
        self.assertEqual(self.watch(_Server(["CANCELLED"]))[0], cli.EXIT_CANCELLED)

    def test_a_run_already_finished_returns_at_once_and_a_server_restart_is_waited_out(self):
        server = _Server(["COMPLETED"])
        server.failures = 2
        code, _, err = self.watch(server)
        self.assertEqual(code, cli.EXIT_OK)
        self.assertEqual(server.gets, 1)


if __name__ == "__main__":
    unittest.main()
