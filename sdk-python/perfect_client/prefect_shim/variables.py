"""``prefect.variables``: ``Variable.get``/``Variable.set`` (Prefect 3) and ``get``/``set`` (Prefect 2)."""
from ..variables import Variable, get_variable, set_variable


def get(name, default=None):
    """The variable's value, or ``default``."""
    return get_variable(name, default)


def set(name, value, overwrite=True):  # noqa: A001 - Prefect's name
    """Create or replace the variable."""
    return set_variable(name, value, overwrite=overwrite)


__all__ = ["Variable", "get", "set"]
