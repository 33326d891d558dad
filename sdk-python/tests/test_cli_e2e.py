"""The ``perfect`` CLI against the REAL server (`next start` of the production build), with a
real worker started by ``perfect worker FILE.py``: every command, the exit codes of a watched run
(0 COMPLETED, 1 FAILED, 2 CANCELLED), bad input, an unknown flow or run, a server that is down or
refuses the token — each error one line on stderr and exit 3, never a traceback. Also: ``pip
install ./sdk-python`` into a fresh virtual environment puts a working ``perfect`` on its PATH.
On PostgreSQL too with PERFECT_TEST_PG_PORT (scripts/python-postgres.mjs).

Outcomes and orders are asserted, never timing.
"""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]

import test_server_e2e as base  # noqa: E402
from test_server_e2e import SDK, TOKEN  # noqa: E402

FLOWS = textwrap.dedent("""
    import time
    from perfect_client import flow, progress, task
    from perfect_client.artifacts import create_markdown_artifact
    from perfect_client.variables import get_variable, set_variable

    @task(estimated_time=200)
    def step(i: int):
        for k in range(2):
            time.sleep(0.05)
            progress((k + 1) / 2)
        print("step %d done" % i)
        return i

    @flow(name="CLI Flow", tags={"team": "cli"})
    def cli_flow(n: int = 2, ratio: float = 0.5, loud: bool = False, label: str = "x", fail: bool = False):
        for i in range(n):
            step(i)
        # from the run's own process (isolation="process"): artifacts and variables reach the server
        create_markdown_artifact("ran %d steps" % n, key="cli-report")
        set_variable("cli-last-n", n)
        print("variable says %s" % get_variable("cli-last-n"))
        if loud:
            print("label=%s ratio=%s" % (label, ratio))
        if fail:
            raise RuntimeError("asked to fail")

    @task
    def wait_a_bit(i: int):
        time.sleep(0.2)

    @flow(name="CLI Slow")
    def slow(n: int = 100):
        for i in range(n):
            wait_a_bit(i)

    if __name__ == "__main__":
        raise SystemExit("perfect worker must not run the main block")
""")


class _Refusing(http.server.BaseHTTPRequestHandler):
    """A server that answers every request 401 like Perfect with access control on (and keeps
    the Authorization headers it was sent)."""

    seen = []

    def do_GET(self):  # noqa: N802
        _Refusing.seen.append(self.headers.get("Authorization"))
        body = json.dumps({"error": {"code": "unauthorized", "message": "sign in or send an API token"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


class CliTests(base.ServerE2ETests):
    test_flow_runs_to_completion_with_task_runs_and_logs = None
    test_killed_worker_fails_its_run_with_heartbeat_lost = None

    def cli(self, *args, url=None, env=None):
        """Run ``python -m perfect_client ARGS``; (exit code, stdout, stderr)."""
        environ = dict(os.environ, PERFECT_URL=url or self.url, PYTHONPATH=SDK)
        environ.pop("PERFECT_API_TOKEN", None)
        environ.update(env or {})
        done = subprocess.run([sys.executable, "-m", "perfect_client"] + list(args), env=environ, cwd=self.dir,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")

    def assert_one_line_error(self, result, *fragments):
        code, out, err = result
        self.assertEqual(code, 3, result)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, result)
        self.assertTrue(lines[0].startswith("perfect: "), result)
        self.assertNotIn("Traceback", err)
        for fragment in fragments:
            self.assertIn(fragment, lines[0])

    def start_cli_worker(self):
        script = os.path.join(self.dir, "cli_flows.py")
        with open(script, "w") as handle:
            handle.write(FLOWS)
        env = dict(os.environ, PERFECT_URL=self.url, PERFECT_CLIENT_ID="perfect_example", PERFECT_TOKEN=TOKEN,
                   PYTHONUNBUFFERED="1", PYTHONPATH=SDK)
        log = open(os.path.join(self.dir, "worker-%d.log" % len(self.workers)), "wb")
        self.addCleanup(log.close)
        worker = subprocess.Popen([sys.executable, "-m", "perfect_client", "worker", script], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(worker)
        self.flow_id("CLI Flow")
        self.flow_id("CLI Slow")
        self.wait("the worker to be online", lambda: all(
            f["online"] for f in self.get("/api/flows")["flows"] if f["name"] in ("CLI Flow", "CLI Slow")), 30)

    def test_every_command_against_a_served_flow(self):
        self.start_cli_worker()

        code, out, err = self.cli("flows", "ls")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines()[0].split()[:3], ["NAME", "ID", "CLIENT"])
        self.assertIn("CLI Flow", out)
        self.assertIn("team:cli", out)
        code, out, _ = self.cli("flows", "ls", "--json")
        self.assertEqual(sorted(f["name"] for f in json.loads(out)), ["CLI Flow", "CLI Slow"])

        # run --watch: typed parameters, logs streamed, exit 0 when COMPLETED
        code, out, err = self.cli("run", "CLI Flow", "-p", "n=3", "-p", "ratio=0.25", "-p", "loud=true",
                                  "-p", "label=hello world", "--watch")
        self.assertEqual(code, 0, (out, err))
        self.assertEqual([line.split(None, 3)[-1] for line in out.splitlines() if "step" in line],
                         ["step 0 done", "step 1 done", "step 2 done"])
        self.assertIn("label=hello world ratio=0.25", out)
        self.assertIn("COMPLETED", err.strip().splitlines()[-1])
        runs = json.loads(self.cli("runs", "ls", "--json")[1])
        completed = runs[0]
        self.assertEqual((completed["state"], completed["parameters"]),
                         ("COMPLETED", {"n": 3, "ratio": 0.25, "loud": True, "label": "hello world", "fail": False}))
        artifacts = self.get("/api/runs/%s/artifacts" % completed["id"])["artifacts"]
        self.assertEqual([(a["key"], a["data"]) for a in artifacts], [("cli-report", {"markdown": "ran 3 steps"})])
        self.assertIn("variable says 3", out)
        self.assertEqual(self.get("/api/variables/cli-last-n")["variable"]["value"], 3)

        # exit 1 when FAILED, with the error on the last line
        code, out, err = self.cli("run", "CLI Flow", "-p", "n=1", "-p", "fail=yes", "--watch")
        self.assertEqual(code, 1, (out, err))
        self.assertIn("FAILED: RuntimeError: asked to fail", err.strip().splitlines()[-1])
        failed_id = json.loads(self.cli("runs", "ls", "--json", "--state", "FAILED")[1])[0]["id"]

        # run without --watch, cancel, then logs -f ends with exit 2 (CANCELLED)
        code, out, err = self.cli("run", "CLI Slow", "--json")
        self.assertEqual(code, 0, err)
        slow_id = json.loads(out)["id"]
        self.wait("the slow run to start", lambda: self.get_run(slow_id)["state"] == "RUNNING", 30)
        code, out, err = self.cli("cancel", slow_id)
        self.assertEqual(code, 0, err)
        self.assertIn("run %s" % slow_id, out)
        code, out, err = self.cli("logs", slow_id, "-f")
        self.assertEqual(code, 2, (out, err))
        self.assertEqual(self.get_run(slow_id)["state"], "CANCELLED")
        self.assertIn("CANCELLED", err.strip().splitlines()[-1])

        # logs of a finished run, and logs -f of a finished run returns at once with its code
        code, out, err = self.cli("logs", str(completed["id"]))
        self.assertEqual(code, 0, err)
        self.assertIn("[step] step 0 done", out)
        code, out, err = self.cli("logs", str(completed["id"]), "--json")
        self.assertEqual(code, 0, err)
        self.assertIn("step 0 done", [entry["message"] for entry in json.loads(out)])
        self.assertEqual(self.cli("logs", str(completed["id"]), "-f")[0], 0)
        self.assertEqual(self.cli("logs", failed_id, "-f")[0], 1)

        # runs ls filters and its table
        code, out, err = self.cli("runs", "ls", "--flow", "CLI Flow", "--state", "completed", "--tag", "team:cli")
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split()[:3], ["ID", "STATE", "FLOW"])
        self.assertEqual([line.split()[1] for line in lines[1:]], ["COMPLETED"])
        self.assertEqual(json.loads(self.cli("runs", "ls", "--json", "--tag", "team:other")[1]), [])

        # retry of the failed run: a new run, failing again (exit 1 with --watch)
        code, out, err = self.cli("retry", failed_id, "--watch")
        self.assertEqual(code, 1, (out, err))
        newest = json.loads(self.cli("runs", "ls", "--json", "--limit", "1")[1])[0]
        self.assertEqual((newest["retryOf"], newest["state"]), (failed_id, "FAILED"))
        code, out, err = self.cli("retry", str(completed["id"]))
        self.assertEqual(code, 0, err)
        self.assertIn("retry of run %s" % completed["id"], out)

    def test_errors_are_one_line_and_exit_3(self):
        self.start_cli_worker()
        self.assert_one_line_error(self.cli("run", "CLI Flow", "-p", "n=abc"), "'n'", "int")
        self.assert_one_line_error(self.cli("run", "CLI Flow", "-p", "loud=maybe"), "'loud'")
        self.assert_one_line_error(self.cli("run", "CLI Flow", "-p", "nope=1"), "no parameter 'nope'")
        self.assert_one_line_error(self.cli("run", "CLI Flow", "-p", "novalue"), "key=value")
        self.assert_one_line_error(self.cli("run", "No Such Flow"), "unknown flow 'No Such Flow'")
        self.assert_one_line_error(self.cli("logs", "999999"), "run 999999 not found")
        self.assert_one_line_error(self.cli("cancel", "999999"), "run 999999 not found")
        self.assert_one_line_error(self.cli("retry", "999999"), "run 999999 not found")
        self.assert_one_line_error(self.cli("logs", "abc"), "run ids are numbers")
        self.assert_one_line_error(self.cli("runs", "ls", "--tag", "novalue"), "key:value")
        self.assert_one_line_error(self.cli("runs", "ls", "--state", "BOGUS"), "state")
        # a server that is down, and one that wants a token
        port = base.free_port()
        self.assert_one_line_error(self.cli("flows", "ls", url="http://127.0.0.1:%d" % port), "cannot reach")
        self.assert_one_line_error(self.cli("flows", "ls", url="ftp://x"), "PERFECT_URL")
        refusing = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
        threading.Thread(target=refusing.serve_forever, daemon=True).start()
        self.addCleanup(refusing.server_close)
        self.addCleanup(refusing.shutdown)
        url = "http://127.0.0.1:%d" % refusing.server_address[1]
        self.assert_one_line_error(self.cli("runs", "ls", url=url, env={"PERFECT_API_TOKEN": "wrong"}), "401",
                                   "PERFECT_API_TOKEN")
        self.assert_one_line_error(self.cli("flows", "ls", url=url), "401")
        self.assertEqual(_Refusing.seen, ["Bearer wrong", None])  # sent when set, and only then
        # failover: a dead URL first, the live server second
        code, out, err = self.cli("flows", "ls", "--json", url="http://127.0.0.1:%d,%s" % (port, self.url))
        self.assertEqual(code, 0, err)
        self.assertIn("CLI Flow", [f["name"] for f in json.loads(out)])
        # usage errors exit 3 too (2 means CANCELLED); --help exits 0 for every command
        code, _, err = self.cli("run")
        self.assertEqual(code, 3, err)
        for command in (["--help"], ["flows", "ls", "--help"], ["run", "--help"], ["runs", "ls", "--help"],
                        ["logs", "--help"], ["cancel", "--help"], ["retry", "--help"], ["worker", "--help"]):
            code, out, err = self.cli(*command)
            self.assertEqual(code, 0, (command, err))
            self.assertIn("usage: perfect", out)
        self.assert_one_line_error(self.cli("worker", os.path.join(self.dir, "missing.py")), "no such file")

    def test_pip_install_puts_perfect_on_the_path(self):
        venv = tempfile.mkdtemp(prefix="perfect-venv-")
        self.addCleanup(shutil.rmtree, venv, True)
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
        source = os.path.join(venv, "src")
        shutil.copytree(SDK, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
        done = subprocess.run([os.path.join(venv, "bin", "pip"), "install", source], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=300)
        self.assertEqual(done.returncode, 0, done.stdout.decode("utf-8", "replace")[-3000:])
        self.start_cli_worker()
        env = dict(os.environ, PERFECT_URL=self.url)
        env.pop("PYTHONPATH", None)
        done = subprocess.run([os.path.join(venv, "bin", "perfect"), "flows", "ls", "--json"], env=env, cwd=venv,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("CLI Flow", [f["name"] for f in json.loads(done.stdout.decode())])
        done = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                               "import perfect_client.cli, perfect_client.prefect_shim.runtime.flow_run; "
                               "print(perfect_client.cli.__file__)"], env=env, cwd=venv, stdout=subprocess.PIPE)
        self.assertIn(venv, done.stdout.decode())


if __name__ == "__main__":
    unittest.main()
