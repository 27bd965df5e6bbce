"""Saved output states: one small TOML file, replaced atomically.

Drivers hand their state (plain TOML values) to :meth:`StateStore.save`; the
file is written off the event loop, to a temporary file in the same
directory that is flushed to disk and then renamed over the old one, so a
power cut leaves either the old states or the new ones, never half a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["StateStore"]

logger = logging.getLogger(__name__)


class StateStore:
    """The saved states of every device, by device name, in ``DIRECTORY/state.toml``.

    The appliance keeps two: the output states (``state.toml``, written only
    when ``[state] restore`` is on) and the settings clients change, such as
    the labels (``settings.toml``, written when one is changed).

    Args:
        directory: the state directory.
        filename: the file in it.
        what: what it holds, for the log.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        filename: str = "state.toml",
        what: str = "output states",
    ) -> None:
        self.path = Path(directory) / filename
        self.what = what
        self.states: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._version = 0
        self._written = 0

    def load(self) -> dict[str, dict[str, Any]]:
        """Read the saved states; a missing or broken file gives none (and a log line)."""
        try:
            with open(self.path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:  # TOMLDecodeError, UnicodeDecodeError
            logger.warning("cannot read saved states from %s (%s); starting afresh", self.path, exc)
            data = {}
        self.states = {k: dict(v) for k, v in data.items() if isinstance(v, dict)}
        return self.states

    def get(self, devicename: str) -> dict[str, Any] | None:
        """The saved state of one device, if any."""
        return self.states.get(devicename)

    @property
    def pending(self) -> bool:
        """Whether a save is still on its way to the disk."""
        with self._lock:
            return self._version > self._written

    def read(self, devicename: str) -> dict[str, Any] | None:
        """One device's entry read again from the file (what CONFIG_LOAD applies).

        The file wins, so an entry edited by hand is seen; while a write is
        still on its way to the disk, the entry about to be written is the
        saved one. A missing or broken file gives None.
        """
        if not self.pending:
            try:
                with open(self.path, "rb") as f:
                    data = tomllib.load(f)
            except FileNotFoundError:
                data = {}
            except (OSError, ValueError) as exc:
                logger.warning("cannot read saved %s from %s (%s)", self.what, self.path, exc)
                return None
            entry = data.get(devicename)
            if isinstance(entry, dict):
                self.states[devicename] = dict(entry)
            else:
                self.states.pop(devicename, None)
        return self.get(devicename)

    def save(self, devicename: str, state: Mapping[str, Any]) -> None:
        """Record a device's state and write the file (off the loop when one runs).

        An empty *state* removes the device's entry (CONFIG_PURGE).
        """
        if state:
            self.states[devicename] = dict(state)
        else:
            self.states.pop(devicename, None)
        self._version += 1
        snapshot = (self._version, {k: dict(v) for k, v in self.states.items()})
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write(*snapshot)
            return
        loop.run_in_executor(None, self._write, *snapshot)

    def _write(self, version: int, states: dict[str, dict[str, Any]]) -> None:
        with self._lock:
            if version <= self._written:
                return  # a newer snapshot is already on disk
            # Loaded on the first save: a service that never saves needs neither.
            import tempfile

            import tomli_w

            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.path.parent)
                try:
                    with os.fdopen(fd, "wb") as f:
                        tomli_w.dump(states, f)
                        f.flush()
                        os.fsync(f.fileno())
                    os.replace(tmp, self.path)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                    raise
            except (OSError, TypeError, ValueError) as exc:
                logger.error(  # noqa: TRY400 - the reason says it all
                    "cannot save %s to %s: %s", self.what, self.path, exc
                )
                return
            self._written = version
