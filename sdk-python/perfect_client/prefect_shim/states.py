"""``prefect.states``."""
from .core import Cancelled, Completed, Crashed, Failed, Pending, Running, Scheduled, State, StateType

__all__ = ["State", "StateType", "Completed", "Failed", "Crashed", "Cancelled", "Pending", "Running", "Scheduled"]
