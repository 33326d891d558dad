"""Exponential backoff shared by every loop that retries the server."""
import random


class Backoff:
    """Delays that double from ``initial`` up to ``cap`` seconds; ``reset()`` after a success.

    A little jitter keeps a fleet of workers that lost the server together from hammering it in
    lockstep when it comes back.
    """

    def __init__(self, initial=0.25, cap=5.0, factor=2.0, jitter=0.1):
        # type: (float, float, float, float) -> None
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        self._next = initial

    def next_delay(self):
        # type: () -> float
        """Return the delay before the next attempt and grow the following one."""
        delay = self._next
        self._next = min(self._next * self.factor, self.cap)
        return delay * (1.0 - self.jitter * random.random())

    def reset(self):
        # type: () -> None
        """Start again from ``initial`` (call after a successful request)."""
        self._next = self.initial
