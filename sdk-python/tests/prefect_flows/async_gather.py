"""An async Prefect flow awaiting async tasks with asyncio.gather (Prefect 3's async idiom)."""
import asyncio

from prefect import flow, get_run_logger, task


@task(retries=1)
async def fetch(i: int):
    await asyncio.sleep(0.01)
    return i * 2


@flow(name="prefect-async")
async def gather_flow(n: int = 3):
    values = await asyncio.gather(*[fetch(i) for i in range(n)])
    get_run_logger().info("gathered %s", values)
    return values


if __name__ == "__main__":
    print(asyncio.run(gather_flow()))
