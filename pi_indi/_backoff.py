"""One backoff: the delays between restarts of something that keeps failing.

Used for a driver's ``hardware()``, an executable driver's process, and the
link to a remote server.
"""

from __future__ import annotations

__all__ = ["Backoff"]


class Backoff:
    """Delays that start at *first* and double up to *most*.

    A run that lasted *reset_after* seconds or more was a good one: the next
    failure is a fresh one, so the delay and the count start over.

    Args:
        first: the first delay, in seconds.
        most: the longest delay.
        reset_after: how long a run must last to start over.
    """

    __slots__ = ("delay", "failures", "first", "most", "reset_after")

    def __init__(self, first: float = 1.0, most: float = 30.0, reset_after: float = 60.0) -> None:
        self.first = first
        self.most = most
        self.reset_after = reset_after
        self.delay = first
        #: Failures in a row (since the last good run, or :meth:`reset`).
        self.failures = 0

    def next(self, ran_for: float = 0.0) -> float:
        """The delay before the next try, after a run that lasted *ran_for* seconds."""
        if ran_for >= self.reset_after:
            self.reset()
        self.failures += 1
        delay = self.delay
        self.delay = min(delay * 2, self.most)
        return delay

    def reset(self) -> None:
        """Start over: the last try worked."""
        self.delay = self.first
        self.failures = 0
