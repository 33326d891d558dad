"""Subflows without a server: discovery lists a called flow as a task of the caller (weighed by
the child's declared tasks), a flow called outside a served run is its plain function, and the
call's arguments become the child run's parameters. The protocol against the real server is
test_server_subflows_e2e."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perfect_client import flow, task  # noqa: E402
from perfect_client.subflows import SubflowContext, wire_parameters  # noqa: E402
from perfect_client.context import RunContext  # noqa: E402
from perfect_client.errors import RunCancelled, RunFinished  # noqa: E402


@task(estimated_time=300)
def step_a():
    return 1


@task(estimated_time=200)
def step_b():
    return 2


@task
def unknown_step():
    return 3


@flow(name="child")
def child_flow(x: int = 1):
    step_a()
    step_b()
    return x * 10


@flow(name="vague child")
def vague_child():
    step_a()
    unknown_step()


@flow(name="parent")
def parent_flow():
    step_a()
    return child_flow(4)


@flow(name="vague parent")
def vague_parent():
    vague_child()


@flow(name="grand")
def grand_flow():
    parent_flow()


@flow(name="recursive")
def recursive(n: int = 1):
    if n > 0:
        recursive(n - 1)


class DiscoveryTests(unittest.TestCase):
    def test_a_called_flow_is_a_task_weighed_by_its_declared_tasks(self):
        self.assertEqual(parent_flow.definition()["tasks"], [{"name": "step_a", "estimatedTime": 300}, {"name": "child", "estimatedTime": 500}])
        self.assertEqual(grand_flow.definition()["tasks"], [{"name": "parent", "estimatedTime": 800}])

    def test_an_unknown_estimate_leaves_the_subflow_unweighed(self):
        self.assertEqual(vague_parent.definition()["tasks"], [{"name": "vague child"}])

    def test_a_recursive_flow_ends(self):
        self.assertEqual(recursive.definition()["tasks"], [{"name": "recursive"}])


class CallTests(unittest.TestCase):
    def test_outside_a_served_run_a_flow_is_its_function(self):
        self.assertEqual(parent_flow(), 40)
        self.assertEqual(recursive(2), None)

    def test_arguments_become_parameters_by_name(self):
        def f(a, b=2, *rest, c=3, **extra):
            return a
        # Only what the call gives: the server fills in the flow's defaults.
        self.assertEqual(wire_parameters(f, (1,), {"d": object.__name__}), {"a": 1, "d": "object"})
        self.assertEqual(wire_parameters(f, (1, 5, 6), {"c": 7}), {"a": 1, "b": 5, "c": 7})
        self.assertEqual(wire_parameters(f, (), {"a": {1, 2}})["a"], repr({1, 2}))
        with self.assertRaises(TypeError):
            wire_parameters(f, (), {})

    def test_a_child_stops_at_the_stops_of_the_runs_above_it(self):
        root = RunContext("1", "root", None)
        middle = SubflowContext("2", "middle", None, root)
        leaf = SubflowContext("3", "leaf", None, middle)
        leaf.check_boundary()
        root.request_stop(RunCancelled)
        with self.assertRaises(RunCancelled):
            leaf.check_boundary()
        self.assertIs(middle.stop_kind, RunCancelled)
        leaf.request_stop(RunFinished)  # its own, stronger stop wins
        self.assertIs(leaf.stop_kind, RunFinished)
        self.assertIs(middle.stop_kind, RunCancelled)


if __name__ == "__main__":
    unittest.main()
