"""submit + as_completed + wait, a task returning a Failed state caught with return_state=True,
hooks on a task and on the flow."""
import time

from prefect import flow, get_run_logger, task
from prefect.futures import as_completed, wait
from prefect.states import Completed, Failed

HOOKS = []


def remember(task_or_flow, run, state):
    get_run_logger().info("hook: %s ended %s", task_or_flow.name, state.type.value)


@task(on_completion=[remember])
def sleepy(seconds: float):
    time.sleep(seconds)
    return seconds


@task
def judge(value: int):
    if value < 0:
        return Failed(message="negative value %d" % value)
    return Completed(data=value * 2)


@flow(name="prefect-submit", on_completion=[remember], on_failure=[remember])
def submit_flow():
    logger = get_run_logger()
    futures = [sleepy.submit(s) for s in (0.3, 0.1, 0.2)]
    order = [f.result() for f in as_completed(futures)]
    logger.info("completed in order %s", order)
    done, not_done = wait([sleepy.submit(0.05)])
    logger.info("wait: %d done, %d not done", len(done), len(not_done))
    state = judge(-1, return_state=True)
    logger.info("judge(-1) state %s: %s", state.type.value, state.message)
    assert state.is_failed()
    good = judge(4, return_state=True)
    logger.info("judge(4) result %s", good.result())
    return order


if __name__ == "__main__":
    submit_flow()
