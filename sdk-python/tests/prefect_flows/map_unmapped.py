"""Prefect's .map with unmapped, a ThreadPoolTaskRunner, futures' .result() and the
PrefectFutureList's result(); a progress artifact updated in place."""
from prefect import flow, task, unmapped
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.task_runners import ThreadPoolTaskRunner


@task
def scale(x: int, factor: int):
    return x * factor


@task
def total(values):
    return sum(values)


@flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
def map_flow(factor: int = 10):
    progress_id = create_progress_artifact(0.0, key="map-progress", description="scaling")
    futures = scale.map([1, 2, 3, 4], unmapped(factor))
    values = futures.result()
    update_progress_artifact(progress_id, 50)
    summed = total.submit(futures).result()
    update_progress_artifact(progress_id, 100)
    print("values %s total %d" % (values, summed))
    return summed


if __name__ == "__main__":
    map_flow()
