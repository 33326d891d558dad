"""Tasks defined in another module, for discovery tests."""
from perfect_client import task


@task(estimated_time=1500)
def fetch(source):
    """Fetch rows from a source."""
    return [source]


@task
def publish(rows):
    return len(rows)


def not_a_task(value):
    return value
