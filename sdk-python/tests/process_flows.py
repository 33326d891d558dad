"""Flows for the process-isolation tests: module level, so a run's own process can import them.

They coordinate with the test through files in ``PERFECT_TEST_DIR`` (a run process shares no
memory with the test), never through timers.
"""
import concurrent.futures
import ctypes
import logging
import os
import sys
import time
import warnings

from perfect_client import flow, get_logger, task


def _flag(name):
    return os.path.join(os.environ.get("PERFECT_TEST_DIR", "/tmp"), name)


def wait_for_flag(name):
    while not os.path.exists(_flag(name)):
        time.sleep(0.01)


def set_flag(name):
    with open(_flag(name), "w") as handle:
        handle.write("1")


@task
def say(text):
    print(text)
    return text


@flow(name="P Hello")
def hello(name: str = "world"):
    say("hello %s" % name)


@task
def pooled(i):
    print("pooled %d" % i)
    get_logger().info("logged %d", i)
    return i * i


@flow(name="P Pool")
def pool_flow(n: int = 4):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as executor:
        results = list(executor.map(pooled, range(n)))
    print("sum %d" % sum(results))


@flow(name="P Outputs")
def outputs():
    sys.stderr.write("to stderr\n")
    logging.getLogger("some.library").warning("library warning")
    warnings.warn("deprecated thing", DeprecationWarning)
    say("done")


@task
def crash_with(how):
    print("about to %s" % how)
    sys.stdout.flush()
    if how == "exit":
        os._exit(3)
    if how == "segfault":
        ctypes.string_at(0)
    if how == "memory":
        hog = bytearray(4 * 1024 * 1024 * 1024)  # 4 GiB
        return len(hog)


@flow(name="P Crash")
def crash(how: str = "exit"):
    say("before the crash")
    crash_with(how)
    say("never")


@task
def sleeper(flag: str = "release"):
    print("sleeping until %s" % flag)
    set_flag("asleep-" + flag)
    wait_for_flag(flag)


@flow(name="P Sleep")
def sleep_flow(flag: str = "release"):
    sleeper(flag)


@task
def stuck():
    print("stuck in one long call")
    set_flag("stuck")
    time.sleep(600)  # one call that never reaches a task boundary


@flow(name="P Stuck")
def stuck_flow():
    stuck()
    say("never")
