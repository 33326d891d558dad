"""``task.submit``/``task.map``, futures, ``unmapped``, ``wait`` and ``max_parallel_tasks``.

Locally (a flow called directly, no server) and served by a real ``Worker`` against the
in-process fake server, in both isolations. Order and outcome are asserted: concurrency is shown
by tasks that can only finish once all of them have started (a barrier), the bound by a counter
of tasks inside at once.
"""
import os
import shutil
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import parallel_flows  # noqa: E402
from fake_perfect import FakePerfect, WorkerThread  # noqa: E402
from perfect_client import PerfectFuture, flow, task, unmapped, wait  # noqa: E402
from perfect_client.parallel import DEFAULT_MAX_PARALLEL_TASKS  # noqa: E402

FAST = {"retry_initial": 0.01, "retry_cap": 0.05}


@task
def add(a, b=0):
    return a + b


@task
def fail(message):
    raise ValueError(message)


class Inside:
    """Counts tasks inside at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def enter(self):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self):
        with self.lock:
            self.now -= 1


class LocalSemanticsTests(unittest.TestCase):
    def test_submit_returns_a_future_with_the_value(self):
        @flow
        def f():
            future = add.submit(2, b=3)
            self.assertIsInstance(future, PerfectFuture)
            self.assertEqual(future.result(), 5)
            self.assertTrue(future.done())
            self.assertTrue(future.wait(0))
            return future.result()

        self.assertEqual(f(), 5)

    def test_map_zips_iterables_and_passes_constants(self):
        @flow
        def f():
            plain = [x.result() for x in add.map([1, 2, 3], [10, 20, 30])]
            const = [x.result() for x in add.map([1, 2, 3], unmapped(100))]
            keyword = [x.result() for x in add.map(range(3), b=7)]  # a non-iterable kwarg is a constant
            keyword_mapped = [x.result() for x in add.map([1, 2], b=[5, 6])]
            return plain, const, keyword, keyword_mapped

        self.assertEqual(f(), ([11, 22, 33], [101, 102, 103], [7, 8, 9], [6, 8]))

    def test_map_constants_strings_and_unmapped_lists(self):
        @task
        def join(items, sep):
            return sep.join(items) if isinstance(items, list) else sep + items

        @flow
        def f():
            whole = [x.result() for x in join.map(unmapped(["a", "b"]), ["-", "+"])]
            text = [x.result() for x in join.map(["x", "y"], sep="=")]  # a string kwarg is a constant
            return whole, text

        self.assertEqual(f(), (["a-b", "a+b"], ["=x", "=y"]))

    def test_map_refuses_unequal_lengths_and_no_iterable(self):
        with self.assertRaises(ValueError) as ctx:
            add.map([1, 2], [1])
        self.assertIn("differ in length", str(ctx.exception))
        with self.assertRaises(TypeError):
            add.map(unmapped(1), b=2)

    def test_futures_as_arguments_are_resolved_first_even_in_containers(self):
        @task
        def total(values, extra):
            return sum(values) + extra["k"]

        @flow
        def f():
            a, b = add.submit(1), add.submit(2)
            nested = total.submit([a, b], {"k": add.submit(10)})
            direct = add(a, b=b)  # a plain call waits for its future arguments too
            return nested.result(), direct

        self.assertEqual(f(), (13, 3))

    def test_a_failed_input_fails_the_dependent_without_starting_it(self):
        started = []

        @task
        def record(x):
            started.append(x)
            return x

        @flow
        def f():
            bad = fail.submit("upstream")
            dependent = record.submit(bad)
            with self.assertRaises(ValueError) as ctx:
                dependent.result()
            self.assertEqual(str(ctx.exception), "upstream")
            return "handled"

        self.assertEqual(f(), "handled")  # handling the dependent handles its input's failure
        self.assertEqual(started, [])

    def test_an_unretrieved_failure_fails_the_flow_at_its_end(self):
        after = []

        @flow
        def f():
            fail.submit("nobody looked")
            after.append(add.submit(1, 1).result())
            return "body returned"

        with self.assertRaises(ValueError) as ctx:
            f()
        self.assertEqual(str(ctx.exception), "nobody looked")
        self.assertEqual(after, [2])  # the body ran to its end first

    def test_a_retrieved_failure_does_not(self):
        @flow
        def f():
            future = fail.submit("seen")
            self.assertIsInstance(future.exception(), ValueError)
            other = fail.submit("caught")
            try:
                other.result()
            except ValueError:
                pass
            return "ok"

        self.assertEqual(f(), "ok")

    def test_the_flow_waits_for_outstanding_submissions(self):
        gate = threading.Event()
        finished = []

        @task
        def slow():
            gate.wait(10)
            finished.append(1)

        @flow
        def f():
            slow.submit()
            threading.Timer(0.05, gate.set).start()

        f()
        self.assertEqual(finished, [1])

    def test_wait_splits_done_and_not_done(self):
        gate = threading.Event()

        @task
        def blocked():
            gate.wait(10)
            return "late"

        @flow
        def f():
            quick = add.submit(1)
            quick.result()
            late = blocked.submit()
            done, not_done = wait([quick, late], timeout=0.05)
            self.assertEqual((done, not_done), ({quick}, {late}))
            gate.set()
            result = wait([quick, late])
            self.assertEqual((result.done, result.not_done), ({quick, late}, set()))
            self.assertFalse(late.wait(0) is False)
            return late.result()

        self.assertEqual(f(), "late")

    def test_result_timeout_raises_timeout_error_and_the_task_goes_on(self):
        gate = threading.Event()

        @task
        def blocked():
            gate.wait(10)
            return 1

        @flow
        def f():
            future = blocked.submit()
            with self.assertRaises(TimeoutError):
                future.result(timeout=0.01)
            gate.set()
            return future.result()

        self.assertEqual(f(), 1)

    def test_max_parallel_tasks_bounds_and_allows_concurrency(self):
        inside = Inside()
        barrier = threading.Barrier(4, timeout=10)

        @task
        def meet(i):
            inside.enter()
            try:
                barrier.wait()  # only passes when 4 run at once
            finally:
                inside.leave()
            return i

        @flow(max_parallel_tasks=4)
        def wide():
            return [x.result() for x in meet.map(range(8))]

        self.assertEqual(wide(), list(range(8)))
        self.assertEqual(inside.most, 4)

        bounded = Inside()
        pair = threading.Barrier(2, timeout=10)

        @task
        def step(i):
            bounded.enter()
            try:
                pair.wait()  # passes in pairs: two are inside together, a third would show
            finally:
                bounded.leave()
            return i

        @flow(max_parallel_tasks=2)
        def narrow():
            return [x.result() for x in step.map(range(10))]

        self.assertEqual(narrow(), list(range(10)))
        self.assertEqual(bounded.most, 2)

    def test_max_parallel_tasks_is_validated(self):
        for bad in (0, 1001, -1, True, 2.5, "4"):
            with self.assertRaises(ValueError):
                flow(max_parallel_tasks=bad)(lambda: None)
        self.assertEqual(flow(max_parallel_tasks=1000)(lambda: None).max_parallel_tasks, 1000)
        self.assertEqual(DEFAULT_MAX_PARALLEL_TASKS, 16)

    def test_definition_sends_the_new_fields_only_when_set(self):
        def body():
            pass

        self.assertNotIn("maxParallelTasks", flow(body).definition())
        definition = flow(max_parallel_tasks=3, timeout=2.5)(body).definition()
        self.assertEqual((definition["maxParallelTasks"], definition["timeoutSeconds"]), (3, 2.5))

    def test_submit_outside_any_flow_works(self):
        self.assertEqual(add.submit(4, 5).result(), 9)
        self.assertEqual([f.result() for f in add.map([1, 2], unmapped(1))], [2, 3])

    def test_nested_submissions_from_a_task(self):
        @task
        def fan(n):
            return sum(f.result() for f in add.map(range(n), unmapped(1)))

        @flow(max_parallel_tasks=2)
        def f():
            return fan.submit(4).result()

        self.assertEqual(f(), 10)

    def test_a_task_waiting_for_its_own_submissions_never_deadlocks_the_pool(self):
        @task
        def fan(n):
            return sum(f.result() for f in add.map(range(n), unmapped(1)))

        @flow(max_parallel_tasks=1)
        def f():
            return [x.result() for x in fan.map([3, 4])]

        self.assertEqual(f(), [6, 10])

    def test_flow_timeout_when_called_directly(self):
        gate = threading.Event()
        started = []

        @task
        def block():
            gate.wait(10)

        @task
        def later():
            started.append(1)

        @flow(timeout=0.2)
        def f():
            block()
            later()

        with self.assertRaises(TimeoutError) as ctx:
            f()
        self.assertIn("exceeded its timeout of 0.2s", str(ctx.exception))
        gate.set()
        threading.Event().wait(0.1)
        self.assertEqual(started, [])  # nothing starts after the deadline


def wait_state(fake, run_id, timeout=60.0):
    return fake.wait_for(lambda f: f.runs[run_id]["state"] in ("COMPLETED", "FAILED", "CANCELLED")
                         and f.runs[run_id]["state"], timeout)


class ServedTests(object):
    """Served runs against the fake server; subclasses pick the isolation."""

    isolation = "thread"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="perfect-par-")
        os.environ["PERFECT_TEST_DIR"] = self.dir
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.fake = FakePerfect(heartbeat_interval_ms=50)
        self.worker = WorkerThread(self.fake, *parallel_flows.FLOWS, isolation=self.isolation,
                                   max_concurrent_runs=3, **FAST).start()
        self.fake.wait_for(lambda f: f.registrations)

    def tearDown(self):
        for tag in ("c", "t", "f"):
            parallel_flows.set_flag("release-" + tag)
        self.worker.stop(30)

    def test_registration_lists_mapped_tasks_once_and_the_new_fields(self):
        flows = {f["name"]: f for f in self.fake.registrations[0]["flows"]}
        self.assertEqual([t["name"] for t in flows["Par Map 8"]["tasks"]], ["nap"])
        self.assertEqual(flows["Par Map 8"]["maxParallelTasks"], 8)
        self.assertEqual(flows["Par Flow Timeout"]["timeoutSeconds"], 1.0)
        self.assertEqual([t["name"] for t in flows["Par Handled"]["tasks"]], ["boom", "quick", "quick"])

    def test_a_map_gives_each_call_its_own_task_call_and_logs(self):
        run_id = self.fake.trigger("Par Map 8", {"n": 8, "seconds": 0.05})
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        started = self.fake.events(run_id, "task_started")
        self.assertEqual(sorted(e["call"] for e in started), list(range(8)))
        self.assertEqual(len(self.fake.events(run_id, "task_completed")), 8)
        by_call = {}
        for event in self.fake.events(run_id, "log"):
            by_call.setdefault(event.get("call"), []).append(event["message"])
        for call in range(8):
            # map submits in order: call i is item i, and its lines are on it
            expected = ["logger token-%d" % call, "print token-%d" % call]
            if self.isolation == "process":
                expected.insert(0, "par.lib: library token-%d" % call)
            self.assertEqual(sorted(by_call[call]), sorted(expected))
        self.assertEqual(by_call[None], ["total 140"])
        progress = {e["call"] for e in self.fake.events(run_id, "task_progress")}
        self.assertEqual(progress, set(range(8)))

    def test_unhandled_failure_fails_the_run_handled_completes(self):
        bad = self.fake.trigger("Par Unhandled")
        good = self.fake.trigger("Par Handled")
        self.assertEqual(wait_state(self.fake, bad), "FAILED")
        self.assertEqual(self.fake.runs[bad]["error"], "ValueError: boom 1")
        self.assertEqual(wait_state(self.fake, good), "COMPLETED")
        tasks = [e["task"] for e in self.fake.events(good, "task_started")]
        self.assertEqual(sorted(tasks), ["boom", "quick"])  # the dependent never started
        self.assertIn("handled: boom 1", [e["message"] for e in self.fake.events(good, "log")])

    def test_cancel_keeps_queued_submissions_from_starting(self):
        run_id = self.fake.trigger("Par Cancel", {"tag": "c", "n": 10})
        self.fake.wait_for(lambda f: os.path.exists(os.path.join(self.dir, "started-c-0"))
                           and os.path.exists(os.path.join(self.dir, "started-c-1")), 30)
        self.fake.cancel(run_id)
        self.assertEqual(wait_state(self.fake, run_id), "CANCELLED")
        started = sorted(e["call"] for e in self.fake.events(run_id, "task_started"))
        self.assertEqual(started, [0, 1])
        self.assertFalse(any(os.path.exists(os.path.join(self.dir, "started-c-%d" % i)) for i in range(2, 10)))

    def test_timeouts_of_sync_and_async_tasks_and_of_a_flow(self):
        tasks = self.fake.trigger("Par Task Timeouts", {"tag": "t"})
        whole = self.fake.trigger("Par Flow Timeout", {"tag": "f"})
        self.assertEqual(wait_state(self.fake, tasks), "FAILED")
        self.assertEqual(self.fake.runs[tasks]["error"], "TimeoutError: task stuck_async exceeded its timeout of 0.5s")
        failed = [(e["call"], e["error"]) for e in self.fake.events(tasks, "task_failed")]
        self.assertEqual(failed, [(0, "TimeoutError: task stuck_sync exceeded its timeout of 0.5s"),
                                  (1, "TimeoutError: task stuck_async exceeded its timeout of 0.5s")])
        self.assertEqual(wait_state(self.fake, whole), "FAILED")
        self.assertEqual(self.fake.runs[whole]["error"], "TimeoutError: flow Par Flow Timeout exceeded its timeout of 1s")
        self.assertEqual([e["task"] for e in self.fake.events(whole, "task_started")], ["quick", "hold_flag"])
        errors = [e["message"] for e in self.fake.events(whole, "log") if e["level"] == "ERROR"]
        expected = "its run process ends now" if self.isolation == "process" else "is abandoned"
        self.assertTrue(any(expected in m for m in errors), errors)


class ServedThreadTests(ServedTests, unittest.TestCase):
    isolation = "thread"


class ServedProcessTests(ServedTests, unittest.TestCase):
    isolation = "process"


if __name__ == "__main__":
    unittest.main()
