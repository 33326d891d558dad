"""``prefect.cache_policies``: accepted, ignored (Perfect does not cache task results)."""


class CachePolicy:
    """A cache policy (ignored); policies combine with ``+`` as in Prefect."""

    def __init__(self, name):
        self.name = name

    def __add__(self, other):
        return CachePolicy("%s+%s" % (self.name, getattr(other, "name", other)))

    def __repr__(self):
        return "CachePolicy(%s)" % self.name


INPUTS = CachePolicy("INPUTS")
TASK_SOURCE = CachePolicy("TASK_SOURCE")
FLOW_PARAMETERS = CachePolicy("FLOW_PARAMETERS")
RUN_ID = CachePolicy("RUN_ID")
NONE = NO_CACHE = CachePolicy("NONE")
DEFAULT = INPUTS + TASK_SOURCE + RUN_ID
