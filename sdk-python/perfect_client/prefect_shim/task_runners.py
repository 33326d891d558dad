"""``prefect.task_runners``: thread pools only (``max_workers`` → ``max_parallel_tasks``)."""
from .core import ConcurrentTaskRunner, SequentialTaskRunner, ThreadPoolTaskRunner, UnsupportedAttribute


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise UnsupportedAttribute("prefect.task_runners.%s" % name)


__all__ = ["ThreadPoolTaskRunner", "ConcurrentTaskRunner", "SequentialTaskRunner"]
