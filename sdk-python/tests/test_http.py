"""The real urllib transport end to end against a small HTTP server speaking the protocol:
a full run, a rejected token (exit code 2), and a server that is down at start."""
import os
import socket
import subprocess
import sys
import textwrap
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
sys.path[:0] = [HERE, SDK]

from fake_perfect import FakeHttpServer, FakePerfect, WorkerThread  # noqa: E402
from perfect_client import ServerUnreachable, flow, get_logger, task  # noqa: E402
from perfect_client.transport import HttpTransport  # noqa: E402

WORKER_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, %r)
    from perfect_client import flow, serve, task

    @task
    def hello():
        print("hello from a subprocess")

    @flow(name="Hello")
    def hello_flow():
        hello()

    serve(hello_flow, retry_initial=0.05, retry_cap=0.2)
""") % SDK


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@task(estimated_time=10)
def greet(name):
    get_logger().info("hello %s", name)
    print("printed over http")
    return name


@flow(name="Greeting")
def greeting(name: str = "world"):
    greet(name)


class HttpTransportTests(unittest.TestCase):
    def test_unreachable_server_raises(self):
        transport = HttpTransport("http://127.0.0.1:%d" % free_port(), "t")
        with self.assertRaises(ServerUnreachable):
            transport.post("/api/worker/x/register", {}, 2)

    def test_status_and_json_of_errors_are_returned(self):
        fake = FakePerfect()
        server = FakeHttpServer(fake).start()
        try:
            answer = HttpTransport(server.url, "wrong").post("/api/worker/perfect_example/poll", {}, 5)
            self.assertEqual(answer.status, 401)
            self.assertEqual(answer.body["error"]["code"], "unauthorized")
            answer = HttpTransport(server.url, fake.token).post("/api/worker/perfect_example/poll",
                                                                {"workerId": "nobody"}, 5)
            self.assertEqual(answer.status, 404)
        finally:
            server.close()


class HttpWorkerTests(unittest.TestCase):
    def test_full_run_over_http(self):
        fake = FakePerfect()
        server = FakeHttpServer(fake).start()
        worker = WorkerThread(fake, greeting, transport=None, url=server.url, token=fake.token,
                              retry_initial=0.05, retry_cap=0.2).start()
        try:
            fake.wait_for(lambda f: f.registrations)
            run_id = fake.trigger("Greeting", {"name": "http"})
            fake.wait_for(lambda f: f.runs[run_id]["state"] == "COMPLETED")
            messages = [e["message"] for e in fake.events(run_id, "log")]
            self.assertEqual(messages, ["hello http", "printed over http"])
        finally:
            worker.stop()
            server.close()

    def run_worker_script(self, env, timeout=20):
        full_env = dict(os.environ, PYTHONUNBUFFERED="1", **env)
        return subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT], env=full_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_rejected_token_exits_with_code_2(self):
        fake = FakePerfect()
        server = FakeHttpServer(fake).start()
        try:
            process = self.run_worker_script({"PERFECT_URL": server.url, "PERFECT_TOKEN": "wrong-token",
                                              "PERFECT_CLIENT_ID": "perfect_example"})
            out, err = process.communicate(timeout=20)
        finally:
            server.close()
        self.assertEqual(process.returncode, 2, err)
        self.assertIn("token rejected for client perfect_example: check PERFECT_TOKEN", err)
        self.assertEqual(err.count("token rejected"), 1)
        self.assertNotIn("Traceback", err)

    def test_server_down_at_start_then_up(self):
        port = free_port()
        fake = FakePerfect()
        process = self.run_worker_script({"PERFECT_URL": "http://127.0.0.1:%d" % port,
                                          "PERFECT_TOKEN": fake.token, "PERFECT_CLIENT_ID": "perfect_example"})
        server = None
        try:
            time.sleep(1.0)  # several refused attempts
            server = FakeHttpServer(fake, port=port).start()
            fake.wait_for(lambda f: f.registrations, timeout=10)
            run_id = fake.trigger("Hello")
            fake.wait_for(lambda f: f.runs[run_id]["state"] == "COMPLETED", timeout=10)
            self.assertEqual([e["message"] for e in fake.events(run_id, "log")], ["hello from a subprocess"])
        finally:
            process.terminate()  # SIGTERM: the same clean stop as Ctrl-C
            out, err = process.communicate(timeout=20)
            if server is not None:
                server.close()
        self.assertEqual(process.returncode, 0, err)
        attempts = [line for line in err.splitlines() if "cannot register" in line]
        self.assertGreaterEqual(len(attempts), 2)
        self.assertIn("Connection refused", attempts[0])
        self.assertNotIn("Traceback", err)


if __name__ == "__main__":
    unittest.main()
