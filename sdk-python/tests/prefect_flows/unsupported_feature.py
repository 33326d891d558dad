"""A Prefect feature the shim does not cover: blocks."""
from prefect import flow
from prefect.blocks.system import Secret


@flow
def uses_blocks():
    return Secret.load("token").get()


if __name__ == "__main__":
    uses_blocks()
