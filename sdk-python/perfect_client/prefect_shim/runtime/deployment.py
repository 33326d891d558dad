"""``prefect.runtime.deployment``: Perfect has no deployments; every field is None."""


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return None
