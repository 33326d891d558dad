"""@task / @flow wrappers and calling them locally (no server)."""
import logging
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perfect_client import Flow, Task, flow, get_logger, progress, task  # noqa: E402


@task
def bare(x):
    """Double x."""
    return x * 2


@task(estimated_time=2500.4, retries=2, retry_delay=0, name="custom-name")
def configured(x):
    return x + 1


@flow
def plain_flow(n: int = 2):
    """Plain flow docstring."""
    return configured(bare(n))


@flow(name="Named", description="explicit", tags={"team": "data", "version": 2})
def named_flow():
    get_logger().info("inside a local flow")
    progress(0.5)
    return "ok"


class DecoratorTests(unittest.TestCase):
    def test_bare_task_keeps_function_and_metadata(self):
        self.assertIsInstance(bare, Task)
        self.assertEqual(bare.name, "bare")
        self.assertEqual(bare.__name__, "bare")
        self.assertEqual(bare.description, "Double x.")
        self.assertEqual(bare.func(3), 6)
        self.assertIsNone(bare.estimated_time)
        self.assertEqual(bare.retries, 0)
        self.assertEqual(bare.definition(), {"name": "bare", "description": "Double x."})

    def test_configured_task(self):
        self.assertEqual(configured.name, "custom-name")
        self.assertEqual(configured.estimated_time, 2500)
        self.assertEqual(configured.retries, 2)
        self.assertEqual(configured.definition(), {"name": "custom-name", "estimatedTime": 2500})

    def test_flow_metadata(self):
        self.assertIsInstance(plain_flow, Flow)
        self.assertEqual(plain_flow.name, "plain_flow")
        self.assertEqual(plain_flow.description, "Plain flow docstring.")
        self.assertEqual(plain_flow.tags, {})
        self.assertEqual(named_flow.name, "Named")
        self.assertEqual(named_flow.description, "explicit")
        self.assertEqual(named_flow.tags, {"team": "data", "version": "2"})

    def test_flow_definition_lists_tasks_and_parameters(self):
        definition = plain_flow.definition()
        self.assertEqual([t["name"] for t in definition["tasks"]], ["bare", "custom-name"])
        self.assertEqual(definition["parameters"], [{"name": "n", "type": "int", "default": 2, "required": False}])

    def test_local_calls_need_no_server(self):
        self.assertEqual(plain_flow(5), 11)
        self.assertEqual(bare(4), 8)
        with self.assertLogs("perfect.run", level="INFO") as logs:
            self.assertEqual(named_flow(), "ok")
        self.assertIn("inside a local flow", logs.output[0])
        progress(0.3)  # outside everything: a no-op

    def test_local_retries(self):
        attempts = []

        @task(retries=2, retry_delay=0)
        def flaky():
            attempts.append(1)
            if len(attempts) < 3:
                raise ValueError("not yet")
            return "done"

        with self.assertLogs("perfect.run", level="WARNING"):
            self.assertEqual(flaky(), "done")
        self.assertEqual(len(attempts), 3)

    def test_local_retries_exhausted_reraises(self):
        @task(retries=1, retry_delay=0)
        def always_fails():
            raise KeyError("missing")

        with self.assertLogs("perfect.run", level="WARNING"):
            with self.assertRaises(KeyError):
                always_fails()

    def test_task_as_method(self):
        class Thing:
            factor = 3

            @task
            def scale(self, x):
                return x * self.factor

        self.assertEqual(Thing().scale(2), 6)

    def test_invalid_arguments(self):
        with self.assertRaises(ValueError):
            task(estimated_time=-1)(lambda: None)
        with self.assertRaises(ValueError):
            task(retries=-1)(lambda: None)
        with self.assertRaises(TypeError):
            task(3000)
        with self.assertRaises(TypeError):
            flow(tags=["a", "b"])(lambda: None)

    def test_get_logger_outside_run_is_std_logging(self):
        logger = get_logger()
        self.assertIsInstance(logger, logging.Logger)
        self.assertEqual(logger.name, "perfect.run")
        self.assertEqual(get_logger("etl").name, "perfect.run.etl")


if __name__ == "__main__":
    unittest.main()


class VersionTests(unittest.TestCase):
    """The version a flow registers with: explicit, or a fingerprint of the code that runs."""

    def test_explicit_version_is_sent_as_given(self):
        @flow(version="2026.11-b")
        def versioned():
            bare(1)

        self.assertEqual(versioned.version, "2026.11-b")
        self.assertEqual(versioned.definition()["version"], "2026.11-b")
        with self.assertRaises(ValueError):
            flow(version="x" * 129)(lambda: None)

    def test_fingerprint_covers_the_flow_and_its_tasks(self):
        @task
        def step_v1():
            return 1

        @task
        def step_v2():
            return 2

        @flow(name="Same")
        def uses_v1():
            step_v1()

        @flow(name="Same")
        def uses_v2():
            step_v2()

        self.assertRegex(plain_flow.version, r"^[0-9a-f]{16}$")
        self.assertEqual(plain_flow.version, plain_flow.version)  # stable
        self.assertNotEqual(uses_v1.version, uses_v2.version)
        # Only the code counts: a different name with the same code and tasks is the same version.
        self.assertEqual(Flow(plain_flow.func, name="Other").version, plain_flow.version)

    def test_fingerprint_without_source_falls_back_to_the_qualified_name(self):
        namespace = {"task": task, "flow": flow}
        exec("@flow\ndef hidden():\n    return 1\n", namespace)
        self.assertRegex(namespace["hidden"].version, r"^[0-9a-f]{16}$")
