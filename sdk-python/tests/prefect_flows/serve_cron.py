"""flow.serve(name=, cron=, parameters=): served by Perfect with a schedule."""
from prefect import flow, get_run_logger


@flow(name="prefect-served", description="served with a cron schedule")
def greet(name: str = "world"):
    get_run_logger().info("hello %s", name)
    return "hello %s" % name


if __name__ == "__main__":
    greet.serve(name="greet-nightly", cron="0 3 * * *", parameters={"name": "scheduler"})
