"""A Prefect tutorial-style ETL: retries with a delay list, log_prints, get_run_logger, a
markdown and a table artifact, a Variable. Written from Prefect's documented semantics."""
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.variables import Variable

ATTEMPTS = {"extract": 0}


@task(retries=2, retry_delay_seconds=[0, 0.1], log_prints=True, tags=["io"], cache_key_fn=None, persist_result=False)
def extract(n: int):
    ATTEMPTS["extract"] += 1
    if ATTEMPTS["extract"] < 3:
        raise ConnectionError("flaky source (attempt %d)" % ATTEMPTS["extract"])
    print("extracted %d rows" % n)
    return [{"id": i, "value": i * i} for i in range(n)]


@task(name="transform-rows", description="squares to strings", timeout_seconds=30, task_run_name="transform-{n}")
def transform(rows, n: int):
    get_run_logger().info("transforming %d rows", len(rows))
    return [dict(row, label="row-%d" % row["id"]) for row in rows]


@task
def load(rows):
    create_table_artifact(rows, key="loaded-rows", description="what was loaded")
    create_markdown_artifact("# Loaded\n\n**%d** rows <script>alert('x')</script>" % len(rows), key="etl-report")
    return len(rows)


@flow(name="prefect-etl", log_prints=True, version="1.0")
def etl(n: int = 3):
    Variable.set("etl-last-n", n, overwrite=True)
    rows = extract(n)
    count = load(transform(rows, n))
    print("loaded %d rows (variable says %s)" % (count, Variable.get("etl-last-n")))
    return count


if __name__ == "__main__":
    etl(4)
