"""``prefect.logging``: ``get_run_logger`` (and ``get_logger``) are Perfect's run logger."""
from .core import get_run_logger


def get_logger(name=None):
    """Perfect's run logger (inside a run its lines are the run's logs)."""
    from ..log_capture import get_logger as perfect_logger

    return perfect_logger(name)


__all__ = ["get_run_logger", "get_logger"]
