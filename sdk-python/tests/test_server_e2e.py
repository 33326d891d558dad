"""End to end against the REAL Perfect server (`next start` of the production build).

Needs `npm run build` first (the test fails, on purpose, when `.next/BUILD_ID` is missing).
Each test starts its own server on a free port with a temporary database and clients file, runs
real worker processes using this SDK, and drives the server through its public JSON API.
With PERFECT_TEST_PG_PORT set (npm test's "python:postgres" step, scripts/python-postgres.mjs),
that database is a fresh PostgreSQL database on the cluster at that 127.0.0.1 port instead of
a SQLite file.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
ROOT = os.path.dirname(SDK)
TOKEN = "e2e-token"
HEARTBEAT_TIMEOUT_MS = 3000
PG_BIN = os.environ.get("PERFECT_PG_BIN", "/usr/lib/postgresql/15/bin")


def database_env(directory):
    """PERFECT_DATABASE_URL of a new database on the test cluster, or {} (SQLite) without one."""
    port = os.environ.get("PERFECT_TEST_PG_PORT")
    if not port:
        return {}
    name = "perfect_py_" + os.path.basename(directory).replace("-", "_").lower()
    subprocess.run([os.path.join(PG_BIN, "createdb"), "-h", "127.0.0.1", "-p", port, "-U", "perfect", name],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return {"PERFECT_DATABASE_URL": "postgres://perfect@127.0.0.1:%s/%s" % (port, name)}

WORKER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, %(sdk)r)
    from perfect_client import flow, get_logger, progress, serve, task

    @task(estimated_time=300)
    def fetch_rows(count):
        get_logger().info("fetching %%d rows", count)
        for i in range(3):
            time.sleep(0.1)
            progress((i + 1) / 3)
        return list(range(count))

    @task(estimated_time=200)
    def square(rows):
        print("squaring %%d rows" %% len(rows))
        return [r * r for r in rows]

    @task(estimated_time=100)
    def total(rows):
        get_logger().warning("total is %%d", sum(rows))
        return sum(rows)

    @flow(name="E2E Fast", tags={"suite": "e2e"})
    def fast(count: int = 3):
        total(square(fetch_rows(count)))

    @task(estimated_time=60000)
    def sleepy():
        print("sleepy started")
        time.sleep(600)

    @flow(name="E2E Slow")
    def slow():
        sleepy()

    serve(fast, slow)
""") % {"sdk": SDK}

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerE2ETests(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(os.path.join(ROOT, ".next", "BUILD_ID")):
            self.fail("the Perfect server is not built (%s/.next/BUILD_ID is missing): run `npm run build` "
                      "in %s first" % (ROOT, ROOT))
        self.dir = tempfile.mkdtemp(prefix="perfect-e2e-")
        self.workers = []
        clients = os.path.join(self.dir, "clients.json")
        with open(clients, "w") as handle:
            json.dump({"clients": [{"id": "perfect_example", "name": "E2E", "performanceSensitivity": "normal",
                                    "token": TOKEN}]}, handle)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.server_log = open(os.path.join(self.dir, "server.log"), "wb")
        env = dict(os.environ, NODE_ENV="production", PERFECT_DB_PATH=os.path.join(self.dir, "p.db"),
                   PERFECT_CLIENTS_FILE=clients, PERFECT_HEARTBEAT_TIMEOUT_MS=str(HEARTBEAT_TIMEOUT_MS),
                   **database_env(self.dir))
        self.server = subprocess.Popen(
            [os.path.join(ROOT, "node_modules", ".bin", "next"), "start", "-p", str(self.port), "-H", "127.0.0.1"],
            cwd=ROOT, env=env, stdout=self.server_log, stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(self.cleanup)
        deadline = time.monotonic() + 60
        while True:
            if self.server.poll() is not None:
                self.fail("the server exited with %s:\n%s" % (self.server.returncode, self.server_output()))
            try:
                if self.get("/api/health").get("ok") is True:
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.fail("GET /api/health never answered {ok: true} within 60 s:\n" + self.server_output())
            time.sleep(0.25)

    def cleanup(self):
        for process in self.workers + [self.server]:
            _kill_group(process)
        self.server_log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def server_output(self):
        self.server_log.flush()
        with open(os.path.join(self.dir, "server.log"), "rb") as handle:
            return handle.read()[-5000:].decode("utf-8", "replace")

    # -- HTTP helpers ------------------------------------------------------------------------------

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with _opener.open(req, timeout=30) as answer:
                return answer.status, json.loads(answer.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read().decode("utf-8") or "null")

    def get(self, path):
        status, body = self.request("GET", path)
        if status != 200:
            raise ValueError("GET %s answered %s: %s" % (path, status, body))
        return body

    def wait(self, what, probe, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = probe()
            if last:
                return last
            time.sleep(0.1)
        self.fail("timed out after %ss waiting for %s (last: %r)\nserver:\n%s"
                  % (timeout, what, last, self.server_output()))

    def start_worker(self):
        return self.launch_worker(WORKER)

    def launch_worker(self, source, name="worker.py"):
        """Start a worker process serving the script ``source`` (written to ``name`` in the test's
        folder) as client ``perfect_example`` of this server; its output goes to worker-N.log."""
        script = os.path.join(self.dir, name)
        with open(script, "w") as handle:
            handle.write(source)
        env = dict(os.environ, PERFECT_URL=self.url, PERFECT_CLIENT_ID="perfect_example", PERFECT_TOKEN=TOKEN,
                   PYTHONUNBUFFERED="1")
        log = open(os.path.join(self.dir, "worker-%d.log" % len(self.workers)), "wb")
        self.addCleanup(log.close)
        worker = subprocess.Popen([sys.executable, script], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.workers.append(worker)
        return worker

    def flow_id(self, name):
        def probe():
            flows = self.get("/api/flows?name=" + urllib.parse.quote(name))["flows"]
            return next((f["id"] for f in flows if f["name"] == name), None)
        return self.wait("flow %r to be registered" % name, probe, 30)

    def trigger(self, name, parameters):
        status, run = self.request("POST", "/api/flows/%s/runs" % self.flow_id(name), {"parameters": parameters})
        self.assertEqual(status, 201, run)
        self.assertEqual(run["state"], "PENDING")
        return run["id"]

    def get_run(self, run_id):
        return self.get("/api/runs/%s" % run_id)

    # -- tests -------------------------------------------------------------------------------------

    def test_flow_runs_to_completion_with_task_runs_and_logs(self):
        self.start_worker()
        definition = self.get("/api/flows/%s" % self.flow_id("E2E Fast"))
        self.assertEqual([t["name"] for t in definition["tasks"]], ["fetch_rows", "square", "total"])
        self.assertEqual(definition["tags"], {"suite": "e2e"})
        run_id = self.trigger("E2E Fast", {"count": 4})
        run = self.wait("the run to complete", lambda: (lambda r: r if r["state"] in ("COMPLETED", "FAILED") else None)(
            self.get_run(run_id)), 30)
        self.assertEqual(run["state"], "COMPLETED", run)
        self.assertEqual(run["progress"], 1)
        self.assertEqual(run["parameters"], {"count": 4})
        tasks = run["taskRuns"]
        self.assertEqual([t["name"] for t in tasks], ["fetch_rows", "square", "total"])
        self.assertTrue(all(t["state"] == "COMPLETED" for t in tasks), tasks)
        self.assertTrue(all(isinstance(t["durationMs"], (int, float)) for t in tasks), tasks)
        self.assertGreaterEqual(tasks[0]["durationMs"], 250)
        logs = self.get("/api/runs/%s/logs" % run_id)["logs"]
        by_message = {entry["message"]: entry for entry in logs}
        task_ids = {t["name"]: t["id"] for t in tasks}
        for message, level, task_name in (("fetching 4 rows", "INFO", "fetch_rows"),
                                          ("squaring 4 rows", "INFO", "square"),
                                          ("total is 14", "WARNING", "total")):
            self.assertIn(message, by_message, logs)
            self.assertEqual(by_message[message]["level"], level)
            self.assertEqual(str(by_message[message]["taskRunId"]), str(task_ids[task_name]))

    def test_stopped_worker_says_goodbye_and_is_gone_at_once(self):
        worker = self.start_worker()

        def workers():
            clients = self.get("/api/clients")["clients"]
            return [w for c in clients if c["id"] == "perfect_example" for w in c["workers"]]

        listed = self.wait("the worker to be listed online", lambda: [w for w in workers() if w["online"]], 30)
        self.assertEqual(len(listed), 1)
        os.killpg(worker.pid, signal.SIGTERM)  # a clean stop, as a deploy or Ctrl-C does
        worker.wait(30)
        # Gone as soon as the process has exited: it said so, nobody waits for its silence.
        with open(os.path.join(self.dir, "worker-%d.log" % (len(self.workers) - 1)), "rb") as handle:
            output = handle.read().decode("utf-8", "replace")
        self.assertEqual(workers(), [], "worker output:\n" + output)

    def test_killed_worker_fails_its_run_with_heartbeat_lost(self):
        worker = self.start_worker()
        run_id = self.trigger("E2E Slow", {})

        def sleepy_running():
            run = self.get_run(run_id)
            tasks = run.get("taskRuns") or []
            return run["state"] == "RUNNING" and tasks and tasks[0]["state"] == "RUNNING"

        self.wait("the slow task to start", sleepy_running, 30)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        killed_at = time.monotonic()
        limit = HEARTBEAT_TIMEOUT_MS / 1000.0 + 5
        run = self.wait("the run to fail", lambda: (lambda r: r if r["state"] != "RUNNING" else None)(
            self.get_run(run_id)), limit + 5)
        self.assertLessEqual(time.monotonic() - killed_at, limit)
        self.assertEqual(run["state"], "FAILED")
        self.assertEqual(run["error"], "client heartbeat lost")
        self.assertEqual(run["taskRuns"][0]["state"], "FAILED")


def _kill_group(process):
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except (ProcessLookupError, PermissionError):
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


if __name__ == "__main__":
    unittest.main()
