"""``async def`` tasks and flows: awaiting, ``asyncio.gather``, submitting, retries, timeouts.

Locally (direct calls, no server) and served against the in-process fake server in both
isolations. Concurrency is shown by an ``asyncio`` barrier only all calls together can pass.
"""
import asyncio
import inspect
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import parallel_flows  # noqa: E402
from fake_perfect import FakePerfect, WorkerThread  # noqa: E402
from perfect_client import flow, task  # noqa: E402

FAST = {"retry_initial": 0.01, "retry_cap": 0.05}


@task
async def double(x):
    await asyncio.sleep(0)
    return 2 * x


@task
def sync_square(x):
    return x * x


class LocalAsyncTests(unittest.TestCase):
    def test_an_async_task_called_returns_an_awaitable(self):
        call = double(4)
        self.assertTrue(inspect.iscoroutine(call))
        self.assertEqual(asyncio.run(call), 8)

    def test_an_async_flow_called_directly_returns_a_coroutine(self):
        @flow
        async def f(n):
            return await asyncio.gather(*(double(i) for i in range(n)))

        self.assertTrue(f.is_async)
        coroutine = f(3)
        self.assertTrue(inspect.iscoroutine(coroutine))
        self.assertEqual(asyncio.run(coroutine), [0, 2, 4])

    def test_gather_runs_the_calls_concurrently(self):
        state = {"arrived": 0}

        @task
        async def meet(i, total, event):
            state["arrived"] += 1
            if state["arrived"] == total:
                event.set()
            await asyncio.wait_for(event.wait(), 5)  # passes only if every call got here
            return i

        @flow
        async def f():
            event = asyncio.Event()
            return await asyncio.gather(*(meet(i, 5, event) for i in range(5)))

        self.assertEqual(asyncio.run(f()), [0, 1, 2, 3, 4])

    def test_retries_of_an_async_task(self):
        attempts = []

        @task(retries=2)
        async def flaky():
            attempts.append(1)
            if len(attempts) < 3:
                raise ConnectionError("again")
            return "third time"

        self.assertEqual(asyncio.run(flaky()), "third time")
        self.assertEqual(len(attempts), 3)

    def test_an_async_task_waits_the_delay_given_for_each_retry(self):
        # One delay per retry (the Prefect shim's retry_delay_seconds=[...]) holds for async
        # tasks as for sync ones: the sync and async paths share their retry bookkeeping.
        attempts = []

        @task(retries=2, retry_delay=30)
        async def flaky():
            attempts.append(1)
            if len(attempts) < 3:
                raise ConnectionError("again")
            return "done"

        flaky.retry_delays = [0.01, 0.02]
        with self.assertLogs("perfect.run", level="WARNING") as logs:
            self.assertEqual(asyncio.run(flaky()), "done")
        self.assertEqual([m.rsplit(" in ", 1)[1] for m in logs.output], ["0.01s", "0.02s"])

    def test_timeout_cancels_an_async_task(self):
        seen = []

        @task(timeout=0.05)
        async def slow():
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        with self.assertRaises(TimeoutError) as ctx:
            asyncio.run(slow())
        self.assertEqual(str(ctx.exception), "task slow exceeded its timeout of 0.05s")
        self.assertEqual(seen, ["cancelled"])

    def test_submit_from_an_async_flow_and_from_a_sync_flow(self):
        @flow(max_parallel_tasks=2)
        async def a():
            futures = [double.submit(i) for i in range(4)] + [sync_square.submit(3)]
            return [await f for f in futures]

        @flow
        def s():
            return [f.result() for f in double.map(range(3))]

        self.assertEqual(asyncio.run(a()), [0, 2, 4, 6, 9])
        self.assertEqual(s(), [0, 2, 4])

    def test_async_submissions_on_the_loop_are_bounded_by_max_parallel_tasks(self):
        state = {"now": 0, "most": 0}

        @task
        async def step(i):
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
            for _ in range(5):
                await asyncio.sleep(0)  # let every other scheduled call try to get in
            state["now"] -= 1
            return i

        @flow(max_parallel_tasks=2)
        async def f():
            futures = [step.submit(i) for i in range(6)]
            return [await x for x in futures]

        self.assertEqual(asyncio.run(f()), list(range(6)))
        self.assertEqual(state["most"], 2)

    def test_an_unhandled_async_submission_fails_the_flow(self):
        @task
        async def bad():
            raise KeyError("async boom")

        @flow
        async def f():
            bad.submit()
            return "returned"

        with self.assertRaises(KeyError):
            asyncio.run(f())

    def test_async_flow_timeout_when_called_directly(self):
        @flow(timeout=0.1)
        async def f():
            await asyncio.sleep(30)

        with self.assertRaises(TimeoutError) as ctx:
            asyncio.run(f())
        self.assertEqual(str(ctx.exception), "flow f exceeded its timeout of 0.1s")


def wait_state(fake, run_id, timeout=60.0):
    return fake.wait_for(lambda f: f.runs[run_id]["state"] in ("COMPLETED", "FAILED", "CANCELLED")
                         and f.runs[run_id]["state"], timeout)


class ServedAsync(object):
    isolation = "thread"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="perfect-async-")
        os.environ["PERFECT_TEST_DIR"] = self.dir
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.fake = FakePerfect(heartbeat_interval_ms=50)
        self.worker = WorkerThread(self.fake, *parallel_flows.FLOWS, isolation=self.isolation, **FAST).start()
        self.fake.wait_for(lambda f: f.registrations)

    def tearDown(self):
        self.worker.stop(30)

    def test_an_async_flow_with_gather_and_submit(self):
        run_id = self.fake.trigger("Par Async", {"n": 4, "seconds": 0.05})
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        started = self.fake.events(run_id, "task_started")
        self.assertEqual(sorted(e["call"] for e in started), list(range(6)))
        self.assertEqual({e["task"] for e in started}, {"async_nap"})
        self.assertEqual(len(self.fake.events(run_id, "task_completed")), 6)
        by_call = {}
        for event in self.fake.events(run_id, "log"):
            by_call.setdefault(event.get("call"), []).append(event["message"])
        token_of = {}
        for call, messages in by_call.items():
            if call is None:
                continue
            tokens = {m.split("token-")[1] for m in messages}
            self.assertEqual(len(tokens), 1, messages)  # a call's lines are its own
            self.assertEqual(sorted(messages), ["logger token-%s" % list(tokens)[0], "print token-%s" % list(tokens)[0]])
            token_of[call] = tokens.pop()
        self.assertEqual(sorted(token_of.values()), [str(i) for i in range(6)])
        self.assertEqual(by_call[None], ["async total 60"])

    def test_an_async_flow_past_its_timeout_fails(self):
        run_id = self.fake.trigger("Par Async Flow Timeout")
        self.assertEqual(wait_state(self.fake, run_id), "FAILED")
        self.assertEqual(self.fake.runs[run_id]["error"],
                         "TimeoutError: flow Par Async Flow Timeout exceeded its timeout of 1s")


class ServedAsyncThreadTests(ServedAsync, unittest.TestCase):
    isolation = "thread"


class ServedAsyncProcessTests(ServedAsync, unittest.TestCase):
    isolation = "process"


if __name__ == "__main__":
    unittest.main()
