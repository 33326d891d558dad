"""Task discovery from a flow's source."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import helper_tasks  # noqa: E402
from helper_tasks import fetch  # noqa: E402
from perfect_client import flow, task  # noqa: E402


@task(estimated_time=3000)
def extract(day):
    return [day]


@task(estimated_time=2000)
def transform(rows):
    return rows


@task
def load(rows):
    return len(rows)


@task
def alert(message):
    return message


def helper(value):
    return value


@flow
def nested(day="today"):
    load(transform(extract(day)))


@flow
def with_blocks(days=("a", "b"), strict=False):
    rows = helper(extract(days[0]))
    if strict:
        alert("strict mode")
    else:
        rows = transform(rows)
    for day in days:
        load(extract(day))
    try:
        helper_tasks.publish(rows)
    except ValueError:
        alert("publish failed")
    finally:
        helper_tasks.not_a_task(rows)
    return rows


@flow
def other_module(source="s3"):
    rows = fetch(source)
    helper_tasks.publish(rows)


@flow
def twice():
    extract("a")
    extract("b")


@flow
def keyword_arguments():
    load(rows=transform(rows=extract(day="x")))


def make_closure_flow():
    local_task = task(name="local_task")(lambda: 1)

    @flow
    def closure_flow():
        local_task()
        extract("c")

    return closure_flow


@flow
def uses_tasks_defined_later():
    later()


@task
def later():
    return None


def names(f):
    return [t.name for t in f.tasks]


class DiscoveryTests(unittest.TestCase):
    def test_nested_calls_innermost_first(self):
        self.assertEqual(names(nested), ["extract", "transform", "load"])

    def test_conditionals_loops_and_try(self):
        self.assertEqual(names(with_blocks),
                         ["extract", "alert", "transform", "extract", "load", "publish", "alert"])

    def test_tasks_from_another_module(self):
        self.assertEqual(names(other_module), ["fetch", "publish"])
        self.assertEqual(other_module.tasks[0].estimated_time, 1500)
        self.assertEqual(other_module.tasks[0].description, "Fetch rows from a source.")

    def test_task_called_twice_is_listed_twice(self):
        self.assertEqual(names(twice), ["extract", "extract"])

    def test_keyword_arguments_evaluated_first(self):
        self.assertEqual(names(keyword_arguments), ["extract", "transform", "load"])

    def test_closure_variables(self):
        self.assertEqual(names(make_closure_flow()), ["local_task", "extract"])

    def test_tasks_defined_after_the_flow(self):
        self.assertEqual(names(uses_tasks_defined_later), ["later"])

    def test_source_unavailable_gives_empty_list(self):
        namespace = {"extract": extract, "flow": flow}
        exec("@flow\ndef generated():\n    extract('x')\n", namespace)
        self.assertEqual(namespace["generated"].tasks, [])
        self.assertEqual(flow(lambda: extract("x")).tasks, [])


if __name__ == "__main__":
    unittest.main()
