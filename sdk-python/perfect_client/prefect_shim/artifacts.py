"""``prefect.artifacts``: markdown, table, link and progress artifacts shown in the run view."""
from ..artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from .core import UnsupportedAttribute


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise UnsupportedAttribute("prefect.artifacts.%s" % name)


__all__ = ["create_markdown_artifact", "create_table_artifact", "create_link_artifact", "create_progress_artifact",
           "update_progress_artifact"]
