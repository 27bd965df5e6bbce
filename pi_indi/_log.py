"""Log lines that clients cannot forge or flood (stdlib only, no asyncio).

:func:`shown` makes client-given text safe for one log line; a
:class:`LogLimiter` lets one line through per period per key and counts the
rest, so a client repeating a bad request writes a few lines, not thousands.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable

__all__ = ["LogLimiter", "shown"]

#: The key every line shares once *max_keys* keys are tracked.
_OVERFLOW = object()


def shown(text: object, limit: int = 120) -> str:
    r"""Client-given text made safe for one log line.

    Every character that is not printable (newline, CR, other control
    characters, Unicode line and paragraph separators...) is escaped as repr
    escapes it (``\n``, ``\x01``, ``\u2028``), and the result is cut to
    *limit* characters ending in ``…`` when longer. No quotes are added.
    """
    s = text if isinstance(text, str) else str(text)
    if len(s) <= limit and s.isprintable():
        return s
    s = s[: limit + 1]  # escaping only lengthens it
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)
    if len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out


class LogLimiter:
    """At most one log line per *period* seconds per key.

    The next line logged for a key says how many were not logged since the
    last one ("(and 12 more like this in the last 10 s)"). Keys are hashable,
    e.g. ``(address, reason)``. At most *max_keys* keys are tracked: those
    whose period has passed are dropped first, and while it is still full
    every new key shares one overflow key, so a flood of distinct keys cannot
    grow memory.
    """

    def __init__(
        self,
        logger: logging.Logger,
        period: float = 10.0,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.period = period
        self.max_keys = max_keys
        self.clock = clock
        # key -> [monotonic time last logged, lines not logged since]; kept in
        # the order of the time last logged, so expired keys are at the front.
        self._keys: dict[Hashable, list[float]] = {}

    def log(
        self, level: int, key: Hashable, msg: str, *args: object, exc_info: bool = False
    ) -> bool:
        """Log *msg* % *args* at *level* unless *key* was logged within the period.

        Returns True when the line was logged. *exc_info* adds the current
        exception's traceback, as :meth:`logging.Logger.log` does.
        """
        return self._log(level, key, msg, args, exc_info)

    def warning(self, key: Hashable, msg: str, *args: object) -> bool:
        """:meth:`log` at WARNING."""
        return self._log(logging.WARNING, key, msg, args, False)

    def _log(
        self, level: int, key: Hashable, msg: str, args: tuple[object, ...], exc_info: bool
    ) -> bool:
        if not self.logger.isEnabledFor(level):
            return False
        now = self.clock()
        keys = self._keys
        entry = keys.get(key)
        if entry is None and len(keys) >= self.max_keys:
            self._prune(now)
            if len(keys) >= self.max_keys:
                key = _OVERFLOW
                entry = keys.get(key)
        since = 0.0
        if entry is not None:
            since = now - entry[0]
            if since < self.period:
                entry[1] += 1
                return False
            suppressed = int(entry[1])
            del keys[key]
        else:
            suppressed = 0
        keys[key] = [now, 0]
        if suppressed:
            msg = f"{msg} (and %d more like this in the last %.0f s)"
            args = (*args, suppressed, since)
        # The record names the line that called log() or warning(), not this one.
        self.logger.log(level, msg, *args, exc_info=exc_info, stacklevel=3)
        return True

    def _prune(self, now: float) -> None:
        # Keys are in the order they were last logged: drop from the front
        # while their period has passed (their counts are lost, not logged).
        keys = self._keys
        expired = []
        for key, entry in keys.items():
            if now - entry[0] < self.period:
                break
            expired.append(key)
        for key in expired:
            del keys[key]
