"""Flows for the parallel/async/timeout tests: module level, so a run's own process can import
them (``isolation="process"``) as well as a worker thread.

Waits are on flag files in ``PERFECT_TEST_DIR`` (a run process shares no memory with the test) or
on the run's own stop request, never on timers, except the one-second tasks whose overlap is the
point of the test.
"""
import asyncio
import logging
import os
import time

from perfect_client import flow, get_logger, progress, task, unmapped
from perfect_client.context import current_run


def _flag(name):
    return os.path.join(os.environ.get("PERFECT_TEST_DIR", "/tmp"), name)


def set_flag(name):
    with open(_flag(name), "w") as handle:
        handle.write("1")


def _stop_seen():
    run = current_run()
    return run is not None and run.stop_requested.is_set()


def wait_for_flag_or_stop(name, limit=120.0):
    """Wait until the flag exists or the run was asked to stop (at most ``limit`` seconds)."""
    deadline = time.monotonic() + limit
    while not os.path.exists(_flag(name)) and not _stop_seen() and time.monotonic() < deadline:
        time.sleep(0.01)


@task(estimated_time=1000)
def nap(i, seconds):
    print("print token-%d" % i)
    get_logger().info("logger token-%d", i)
    # A library's logger: a run's own process captures the root logger (thread isolation does not).
    logging.getLogger("par.lib").warning("library token-%d", i)
    progress(0.5)
    time.sleep(seconds)
    return i * i


@flow(name="Par Map 8", max_parallel_tasks=8)
def map_eight(n: int = 8, seconds: float = 1.0):
    futures = nap.map(range(n), unmapped(seconds))
    total = sum(f.result() for f in futures)
    get_logger().info("total %d", total)


@flow(name="Par Map 2", max_parallel_tasks=2)
def map_two(n: int = 6, seconds: float = 0.5):
    total = sum(f.result() for f in nap.map(range(n), seconds=seconds))
    get_logger().info("total %d", total)


@task
def quick(i):
    return i


@task
def tick(i, pause):
    time.sleep(pause)
    return i


@flow(name="Par Many", max_parallel_tasks=8)
def many(n: int = 200, pause: float = 0.0):
    futures = tick.map(range(n), pause)
    assert [f.result() for f in futures] == list(range(n))


@task
def boom(x):
    raise ValueError("boom %s" % x)


@flow(name="Par Unhandled")
def unhandled():
    boom.submit(1)
    quick.submit(2).result()


@flow(name="Par Handled")
def handled():
    failed = boom.submit(1)
    dependent = quick.submit(failed)  # never starts: its input failed
    try:
        dependent.result()
    except ValueError as err:
        get_logger().warning("handled: %s", err)
    assert quick.submit(3).result() == 3


@task
def hold(i, tag):
    set_flag("started-%s-%d" % (tag, i))
    wait_for_flag_or_stop("release-" + tag)
    return i


@flow(name="Par Cancel", max_parallel_tasks=2)
def cancel_map(tag: str = "c", n: int = 10):
    for future in hold.map(range(n), tag=tag):
        future.result()


@task(estimated_time=1000)
async def async_nap(i, seconds):
    print("print token-%d" % i)
    get_logger().info("logger token-%d", i)
    progress(0.5)
    await asyncio.sleep(seconds)
    return i * 10


@flow(name="Par Async")
async def async_gather(n: int = 4, seconds: float = 1.0):
    values = await asyncio.gather(*(async_nap(i, seconds) for i in range(n)))
    assert values == [i * 10 for i in range(n)], values
    submitted = [async_nap.submit(n + i, 0.01) for i in range(2)]
    assert [await f for f in submitted] == [(n + i) * 10 for i in range(2)]
    get_logger().info("async total %d", sum(values))


@task(timeout=0.5)
def stuck_sync(tag):
    wait_for_flag_or_stop("release-" + tag)


@task(timeout=0.5)
async def stuck_async():
    await asyncio.sleep(60)


@flow(name="Par Task Timeouts")
def task_timeouts(tag: str = "t"):
    try:
        stuck_sync(tag)
    except TimeoutError as err:
        get_logger().warning("sync: %s", err)
    asyncio.run(stuck_async())


@task
def hold_flag(tag):
    wait_for_flag("release-" + tag)


def wait_for_flag(name, limit=120.0):
    deadline = time.monotonic() + limit
    while not os.path.exists(_flag(name)) and time.monotonic() < deadline:
        time.sleep(0.01)


@flow(name="Par Flow Timeout", timeout=1)
def flow_timeout(tag: str = "f"):
    quick(1)
    hold_flag(tag)  # past the deadline: abandoned (thread) or its process ends (process)
    quick(2)  # never starts


@flow(name="Par Async Flow Timeout", timeout=1)
async def async_flow_timeout():
    await async_nap(0, 60)


FLOWS = [map_eight, map_two, many, unhandled, handled, cancel_map, async_gather, task_timeouts, flow_timeout,
         async_flow_timeout]
