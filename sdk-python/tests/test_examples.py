"""examples/example_flows.py, run as a user would, against the HTTP fake server."""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
sys.path[:0] = [HERE, SDK]

from fake_perfect import FakeHttpServer, FakePerfect  # noqa: E402

EXAMPLE = os.path.join(SDK, "examples", "example_flows.py")
FLOWS = ["Daily Sales ETL", "Churn Model Retraining", "Infrastructure Health Check", "Weekly Executive Report"]


class ExampleFlowsTests(unittest.TestCase):
    def test_examples_register_run_and_exit_when_done(self):
        fake = FakePerfect()
        server = FakeHttpServer(fake).start()
        env = dict(os.environ, PERFECT_URL=server.url, PERFECT_TOKEN=fake.token,
                   PERFECT_CLIENT_ID="perfect_example", PERFECT_EXAMPLE_SPEED="0.02")
        # Run from elsewhere so the script has to find the SDK by itself.
        process = subprocess.Popen([sys.executable, EXAMPLE, "--exit-when-done"], env=env, cwd="/",
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            fake.wait_for(lambda f: f.registrations, timeout=15)
            definitions = {d["name"]: d for d in fake.registrations[0]["flows"]}
            self.assertEqual(sorted(definitions), sorted(FLOWS))
            for definition in definitions.values():
                self.assertEqual(sorted(definition["tags"]), ["priority", "team", "version"])
                self.assertGreaterEqual(len(definition["tasks"]), 3)
                self.assertTrue(all(t.get("estimatedTime") for t in definition["tasks"]))
                self.assertTrue(all(not p["required"] for p in definition["parameters"]))
            schedules = {name: d.get("schedules") for name, d in definitions.items()}
            self.assertEqual(schedules["Daily Sales ETL"], [
                {"cron": "0 6 * * *", "timezone": "Europe/Berlin", "parameters": {}, "active": True,
                 "catchup": "skip", "overlap": "allow"}])
            self.assertEqual([s["cron"] for s in schedules["Weekly Executive Report"]], ["0 8 * * 1"])
            self.assertIsNone(schedules["Churn Model Retraining"])
            run_ids = [fake.trigger(name) for name in FLOWS]
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
            server.close()
        self.assertEqual(process.returncode, 0, err)
        for run_id in run_ids:
            self.assertEqual(fake.state(run_id), "COMPLETED", err)
            self.assertTrue(fake.events(run_id, "task_progress"))
            self.assertTrue(fake.events(run_id, "log"))
        self.assertIn("every flow finished a run", err)


if __name__ == "__main__":
    unittest.main()
