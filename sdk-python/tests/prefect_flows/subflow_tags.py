"""A parent flow calling a subflow inside `with tags(...)`, flow retries, prefect.runtime, a
link artifact; the parent returns a Failed state when asked, so the run fails."""
from prefect import flow, tags, task
from prefect.artifacts import create_link_artifact
from prefect.context import get_run_context
from prefect.runtime import flow_run

CALLS = {"child": 0}


@task
def fetch(day: str):
    return "data for %s" % day


@flow(retries=1, retry_delay_seconds=0)
def child(day: str):
    CALLS["child"] += 1
    if CALLS["child"] == 1:
        raise RuntimeError("first attempt of the child fails")
    print("child runs as %s with %s" % (flow_run.flow_name, flow_run.parameters))
    return fetch(day)


@flow(name="prefect-parent")
def parent(day: str = "2026-12-01", fail: bool = False):
    create_link_artifact("https://example.com/report/%s" % day, link_text="the report", key="report-link")
    print("parent run id %s" % get_run_context().flow_run.id)
    result = child(day)
    print("child said: %s" % result)
    if fail:
        from prefect.states import Failed
        return Failed(message="asked to fail")
    return result


if __name__ == "__main__":
    import sys

    with tags("nightly"):
        parent(fail="--fail" in sys.argv)
