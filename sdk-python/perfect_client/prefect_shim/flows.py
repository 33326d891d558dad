"""``prefect.flows``."""
from .core import Flow, flow, serve

__all__ = ["Flow", "flow", "serve"]
