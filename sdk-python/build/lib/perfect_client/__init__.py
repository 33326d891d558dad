"""Perfect: decorate Python functions with ``@task`` and ``@flow``, then ``serve`` them to a
Perfect server that triggers them, shows their progress live and keeps their history.

    from perfect_client import cron, flow, task, serve, progress, get_logger

    @task(estimated_time=2000)
    def extract(day: str):
        get_logger().info("extracting %s", day)
        progress(0.5)

    @flow(name="Daily ETL", tags={"team": "data-eng"},
          schedules=[cron("0 6 * * *", timezone="Europe/Berlin")])
    def daily_etl(day: str = "today"):
        extract(day)

    if __name__ == "__main__":
        serve(daily_etl)
"""
from .context import progress
from .futures import PerfectFuture, unmapped, wait
from .decorators import Flow, Task, flow, task
from .errors import (
    FatalWorkerError,
    PerfectError,
    RunCancelled,
    RunFinished,
    RunInterrupted,
    RunsFailed,
    ServerError,
    ServerUnreachable,
    TokenRejected,
    WorkerShutdown,
)
from .log_capture import get_logger
from .runner import Worker, serve
from .schedules import Schedule, cron, interval
from .subflows import SubflowError
from .version import __version__

__all__ = [
    "flow", "task", "serve", "progress", "get_logger", "cron", "interval", "unmapped", "wait",
    "Flow", "Task", "Worker", "Schedule", "PerfectFuture",
    "PerfectError", "ServerUnreachable", "ServerError", "FatalWorkerError", "TokenRejected", "RunsFailed",
    "RunInterrupted", "RunCancelled", "RunFinished", "WorkerShutdown", "SubflowError",
    "__version__",
]
