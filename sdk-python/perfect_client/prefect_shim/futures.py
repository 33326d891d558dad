"""``prefect.futures``."""
from .core import DoneAndNotDoneFutures, PrefectFuture, PrefectFutureList, as_completed, wait

PrefectConcurrentFuture = PrefectFuture

__all__ = ["PrefectFuture", "PrefectFutureList", "PrefectConcurrentFuture", "wait", "as_completed",
           "DoneAndNotDoneFutures"]
