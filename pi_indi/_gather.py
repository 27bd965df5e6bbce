"""One gathered writer: the first message of a loop iteration goes out at once.

Latency and throughput both: the first message written in an iteration of
the event loop is passed on at once, so a lone reply is not held back; the
rest of that iteration's messages are joined and passed on with one call when
the iteration ends (or once they reach *flush_size*), so a burst costs one
system call, not one per message. Used by the server's clients and by the
stdio link of a driver.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["GatheredWriter"]


class GatheredWriter:
    """Pass bytes to *emit*: at once when first in a loop iteration, else gathered.

    Args:
        emit: takes the bytes to write (a transport's write, say).
        flush_size: gathered bytes are passed on once they reach this size.
    """

    __slots__ = ("emit", "flush_size", "pending", "size")

    def __init__(self, emit: Callable[[bytes], None], flush_size: int = 64 << 10) -> None:
        self.emit = emit
        self.flush_size = flush_size
        # Messages gathered during this loop iteration (None: nothing written yet).
        self.pending: list[bytes] | None = None
        #: Bytes gathered and not yet passed on.
        self.size = 0

    def write(self, data: bytes) -> None:
        pending = self.pending
        if pending is None:
            self.pending = []
            asyncio.get_running_loop().call_soon(self.flush)
            self.emit(data)
            return
        pending.append(data)
        self.size += len(data)
        if self.size >= self.flush_size:
            self.pending = []
            self.size = 0
            self.emit(b"".join(pending))

    def flush(self) -> None:
        """Pass on what is gathered now (the loop calls this at the iteration's end)."""
        pending = self.pending
        self.pending = None
        self.size = 0
        if pending:
            self.emit(b"".join(pending))

    def take(self) -> bytes:
        """What is gathered, taken out instead of passed on (for a close)."""
        pending = self.pending or []
        self.pending = None
        self.size = 0
        return b"".join(pending)
