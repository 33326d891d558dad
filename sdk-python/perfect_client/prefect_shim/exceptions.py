"""``prefect.exceptions``."""
from .core import FailedRun, UnsupportedFeature


class PrefectException(Exception):
    """Base of Prefect's exceptions."""


class MissingContextError(PrefectException, RuntimeError):
    """Asked for a run context outside a run."""


class CancelledRun(PrefectException):
    """A run was cancelled."""


__all__ = ["PrefectException", "MissingContextError", "CancelledRun", "FailedRun", "UnsupportedFeature"]
