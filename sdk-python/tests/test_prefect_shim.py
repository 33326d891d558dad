"""The Prefect shim without a server: Prefect's documented semantics run locally (states,
return_state, hooks, retries with a list of delays, map/unmapped, as_completed, task runners,
tags, serve's schedules), unsupported features are named, and the real ``prefect`` is never
shadowed outside a shim process."""
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
sys.path.insert(0, SDK)

from perfect_client.prefect_shim import core  # noqa: E402
from perfect_client.prefect_shim.core import (  # noqa: E402
    Completed, Failed, FailedRun, StateType, ThreadPoolTaskRunner, UnsupportedFeature, as_completed, flow, tags, task,
    unmapped, wait,
)


def _env():
    env = dict(os.environ, PYTHONPATH=SDK)
    env.pop("PERFECT_URL", None)
    return env


class LocalSemanticsTests(unittest.TestCase):
    def setUp(self):
        self._url = os.environ.pop("PERFECT_URL", None)
        self.addCleanup(lambda: self._url is not None and os.environ.__setitem__("PERFECT_URL", self._url))

    def test_states_and_return_state(self):
        @task
        def judge(x):
            return Failed(message="bad %d" % x) if x < 0 else Completed(data=x * 2)

        @flow
        def judging():
            bad = judge(-1, return_state=True)
            good = judge(2, return_state=True)
            return {"bad": bad, "good": good}  # a dict: not a collection of states Prefect settles

        answer = judging()
        bad, good = answer["bad"], answer["good"]
        self.assertEqual((bad.type, bad.message, bad.is_failed()), (StateType.FAILED, "bad -1", True))
        self.assertEqual((good.is_completed(), good.result()), (True, 4))
        with self.assertRaises(FailedRun):
            bad.result()
        self.assertIsInstance(bad.result(raise_on_failure=False), FailedRun)

        @flow
        def returns_failed():
            return Failed(message="nope")

        with self.assertRaises(FailedRun):
            returns_failed()
        state = returns_failed(return_state=True)
        self.assertEqual((state.is_failed(), state.message), (True, "nope"))
        self.assertEqual(returning_name(), "returning-name")

    def test_retries_with_a_list_of_delays_and_hooks(self):
        seen = []
        attempts = []

        def hook(obj, run, state):
            seen.append((obj.name, state.type.value))

        @task(retries=2, retry_delay_seconds=[0, 0.01], on_completion=[hook], on_failure=[hook])
        def flaky():
            attempts.append(1)
            if len(attempts) < 3:
                raise ValueError("flaky")
            return "ok"

        @task(on_failure=[hook])
        def broken():
            raise KeyError("x")

        @flow(on_completion=[hook], on_failure=[hook])
        def hooked():
            value = flaky()
            try:
                broken()
            except KeyError:
                pass
            return value

        self.assertEqual(hooked(), "ok")
        self.assertEqual(len(attempts), 3)
        self.assertEqual(flaky.retry_delays, [0.0, 0.01])
        self.assertEqual(seen, [("flaky", "COMPLETED"), ("broken", "FAILED"), ("hooked", "COMPLETED")])

    def test_futures_map_unmapped_and_as_completed(self):
        import time

        @task
        def scale(x, factor):
            return x * factor

        @task
        def nap(s):
            time.sleep(s)
            return s

        @flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
        def mapped():
            futures = scale.map([1, 2, 3], unmapped(10))
            done, not_done = wait(futures)
            order = [f.result() for f in as_completed([nap.submit(0.2), nap.submit(0.0), nap.submit(0.1)])]
            return futures.result(), len(done), len(not_done), order, futures[0].state.is_completed()

        self.assertEqual(mapped.max_parallel_tasks, 3)
        self.assertEqual(mapped(), ([10, 20, 30], 3, 0, [0.0, 0.1, 0.2], True))

    def test_tags_serve_schedules_and_with_options(self):
        @flow(name="tagged")
        def tagged():
            return "t"

        with tags("nightly", "etl"):
            self.assertEqual(tagged(), "t")
            self.assertEqual(tagged.tags, {"nightly": "true", "etl": "true"})
        deployment = tagged.to_deployment(name="d", cron="0 6 * * *", interval=900, parameters={})
        applied = deployment.apply()
        self.assertEqual([s.to_wire().get("cron") for s in applied.schedules], ["0 6 * * *", None])
        self.assertEqual(applied.schedules[1].to_wire().get("intervalSeconds"), 900)
        renamed = tagged.with_options(name="renamed")
        self.assertEqual((renamed.name, renamed()), ("renamed", "t"))

    def test_unsupported_features_are_named(self):
        with self.assertRaises(UnsupportedFeature) as caught:
            @task(result_storage="s3://bucket")
            def stored():
                pass
        self.assertIn("@task(result_storage=...)", str(caught.exception))
        with self.assertRaises(UnsupportedFeature):
            @flow(task_runner=object())
            def odd():
                pass
        with self.assertRaises(UnsupportedFeature):
            returning_name.deploy(name="x")
        import perfect_client.prefect_shim as shim

        with self.assertRaises(AttributeError) as caught:
            shim.pause_flow_run
        self.assertIn("prefect.pause_flow_run is not supported", str(caught.exception))
        self.assertIsNone(getattr(shim, "deploy", None))
        self.assertIs(core.unmapped, unmapped)


@flow
def returning_name():
    return "returning-name"


class IsolationTests(unittest.TestCase):
    def test_the_real_prefect_is_never_shadowed_outside_a_shim_process(self):
        folder = tempfile.mkdtemp(prefix="perfect-prefect-")
        os.makedirs(os.path.join(folder, "prefect"))
        with open(os.path.join(folder, "prefect", "__init__.py"), "w") as handle:
            handle.write("REAL = True\n")
        script = os.path.join(folder, "uses_prefect.py")
        with open(script, "w") as handle:
            handle.write(textwrap.dedent("""
                import prefect
                print("real" if getattr(prefect, "REAL", False) else "shim")
            """))
        env = _env()
        env["PYTHONPATH"] = os.pathsep.join([SDK, folder])
        plain = subprocess.run([sys.executable, "-c", "import perfect_client, perfect_client.prefect_shim, "
                                "perfect_client.cli; import prefect; print('real' if getattr(prefect, 'REAL', False) "
                                "else 'shim')"], env=env, stdout=subprocess.PIPE, check=True)
        self.assertEqual(plain.stdout.decode().strip(), "real")
        shimmed = subprocess.run([sys.executable, "-m", "perfect_client.prefect", script], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(shimmed.stdout.decode().strip(), "shim", shimmed.stderr)

    def test_an_unsupported_name_is_one_line(self):
        folder = tempfile.mkdtemp(prefix="perfect-prefect-")
        script = os.path.join(folder, "deploys.py")
        with open(script, "w") as handle:
            handle.write("from prefect import flow, deploy\n")
        done = subprocess.run([sys.executable, "-m", "perfect_client.prefect", script], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(done.returncode, 3)
        self.assertEqual(done.stderr.decode().strip().splitlines(),
                         ["perfect: prefect.deploy is not supported by Perfect's Prefect shim"])

    def test_perfect_worker_prefect_names_an_unsupported_feature_in_one_line(self):
        done = subprocess.run([sys.executable, "-m", "perfect_client", "worker", "--prefect",
                               os.path.join(HERE, "prefect_flows", "unsupported_feature.py")], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(done.returncode, 3)
        self.assertEqual(done.stderr.decode().strip().splitlines(),
                         ["perfect: the module prefect.blocks is not supported by Perfect's Prefect shim"])

    def test_an_unsupported_integration_is_one_line(self):
        folder = tempfile.mkdtemp(prefix="perfect-prefect-")
        script = os.path.join(folder, "dask.py")
        with open(script, "w") as handle:
            handle.write("from prefect import flow\nfrom prefect_dask import DaskTaskRunner\n")
        done = subprocess.run([sys.executable, "-m", "perfect_client.prefect", script], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(done.returncode, 3)
        self.assertEqual(done.stderr.decode().strip().splitlines(),
                         ["perfect: the Prefect integration prefect_dask is not supported by Perfect's Prefect shim"])


if __name__ == "__main__":
    unittest.main()
