"""``prefect.tasks``: ``task``, ``Task`` and ``task_input_hash`` (accepted as a cache key
function; Perfect does not cache task results)."""
import hashlib
import json

from .core import Task, task


def task_input_hash(context, arguments):
    """A hash of the call's arguments (Prefect's cache key function; caching itself is ignored)."""
    return hashlib.sha256(json.dumps(arguments, sort_keys=True, default=repr).encode("utf-8")).hexdigest()


def exponential_backoff(backoff_factor):
    """Prefect's ``retry_delay_seconds=exponential_backoff(10)``: 10 doubling per retry (ten delays)."""
    return [backoff_factor * 2 ** i for i in range(10)]


__all__ = ["Task", "task", "task_input_hash", "exponential_backoff"]
