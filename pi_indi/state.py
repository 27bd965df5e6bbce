"""Saved output states: one small TOML file, replaced atomically.

Drivers hand their state (plain TOML values) to :meth:`StateStore.save`; the
file is written off the event loop, to a temporary file in the same
directory that is flushed to disk and then renamed over the old one, so a
power cut leaves either the old states or the new ones, never half a file.

Writes are coalesced, the latest wins. A save only records the device's
state and marks the file as owed a write; one writer at a time (one executor
job, or the caller itself when no event loop runs) takes the *newest* states
when it starts a write, and goes on until nothing is owed. So however fast a
client toggles an output, at most one write is in flight and at most one more
is owed, and no copy of the states is kept per save.

The bound: once :meth:`StateStore.save` returns, the file holds that state
(or a newer one) after at most two writes, the one in flight (which may have
started just before the save) and the next one (which starts after it, and
takes it). After a crash or a ``SIGKILL`` the file is never staler than that.
:meth:`StateStore.flush` writes what is owed before it returns, for a clean
stop.

Reading refuses at once, with a warning, what is not a regular file (a FIFO
would block the start), and treats a file too deeply nested for ``tomllib``
like any broken one: no saved states.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import re
import stat
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["StateStore"]

logger = logging.getLogger(__name__)

#: The names tempfile.mkstemp adds to its prefix.
_RANDOM = r"[a-z0-9_]{8}"
#: The temporary files of versions that gave every store the same prefix.
_LEGACY_TEMPORARY = re.compile(rf"\.state-{_RANDOM}")


def _read_toml(path: Path) -> dict[str, Any]:
    """The TOML file at *path*, refusing at once what is not a regular file.

    Raises:
        FileNotFoundError: there is none.
        OSError: it cannot be read, or is not a regular file.
        ValueError: it is not TOML (nested too deeply included) or not UTF-8.
    """
    # Non-blocking, so that opening a FIFO returns at once instead of waiting
    # for a writer; the flag does nothing to the reads of a regular file.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    if not regular:
        os.close(fd)
        raise OSError("not a regular file")
    with os.fdopen(fd, "rb") as f:
        try:
            return tomllib.load(f)
        except RecursionError:
            raise ValueError("nested too deeply") from None


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
        # Guards states and the counters; held only for moments, never for I/O.
        self._lock = threading.Lock()
        # One write of the file at a time, in the order of the states taken.
        self._write_lock = threading.Lock()
        self._version = 0  # saves so far
        self._attempted = 0  # the version of the states the last write took
        self._written = 0  # the version of the states on disk
        self._worker = False  # an executor job is writing (or about to)
        # Each store its own prefix, so one never removes the other's files.
        self._prefix = f".{filename}-"
        self._temporary = re.compile(re.escape(self._prefix) + _RANDOM)

    def load(self) -> dict[str, dict[str, Any]]:
        """Read the saved states; a missing or broken file gives none (and a log line).

        A write still owed is made first, so the newest states are what is
        read back; temporary files left by a crash are removed.
        """
        self.flush()
        self._remove_leftovers()
        try:
            data = _read_toml(self.path)
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:  # TOMLDecodeError, UnicodeDecodeError
            logger.warning("cannot read saved states from %s (%s); starting afresh", self.path, exc)
            data = {}
        with self._lock:
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
                data = _read_toml(self.path)
            except FileNotFoundError:
                data = {}
            except (OSError, ValueError) as exc:
                logger.warning("cannot read saved %s from %s (%s)", self.what, self.path, exc)
                return None
            entry = data.get(devicename)
            with self._lock:
                if isinstance(entry, dict):
                    self.states[devicename] = dict(entry)
                else:
                    self.states.pop(devicename, None)
        return self.get(devicename)

    def save(self, devicename: str, state: Mapping[str, Any]) -> None:
        """Record a device's state and write the file (off the loop when one runs).

        An empty *state* removes the device's entry (CONFIG_PURGE). With a
        loop running this only starts the writer if it is not running
        already; it writes the newest states when it gets to them (see the
        module's docs for how stale the file can be). With none, the file is
        written before this returns.
        """
        # Our own copy: the writer reads it on another thread.
        entry = copy.deepcopy(dict(state)) if state else None
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            if entry is not None:
                self.states[devicename] = entry
            else:
                self.states.pop(devicename, None)
            self._version += 1
            if loop is not None:
                if self._worker:
                    return  # the writer takes these states when it next writes
                self._worker = True
        if loop is not None:
            try:
                loop.run_in_executor(None, self._drain)
            except RuntimeError:  # the loop is closing: its executor is gone
                with self._lock:
                    self._worker = False
            else:
                return
        self._write_latest(retry=True)

    def flush(self) -> None:
        """Write what is owed to the disk before returning (for a clean stop).

        Waits for a write in flight, then writes the newest states if that
        write did not have them (or a write of them failed). Safe to call
        from any thread, with or without a loop running; does nothing when
        the file is up to date.
        """
        self._write_latest(retry=True)

    def _drain(self) -> None:
        """The executor job: write until no save is owed a write."""
        try:
            while True:
                with self._lock:
                    if self._attempted >= self._version:
                        self._worker = False
                        return
                self._write_latest(retry=False)
        except BaseException:
            with self._lock:
                self._worker = False
            raise

    def _write_latest(self, *, retry: bool) -> None:
        """Write the newest states if they are not on disk yet.

        Args:
            retry: write again states whose write failed (else each version
                gets one attempt, so a full disk is not retried in a loop).
        """
        with self._write_lock:
            with self._lock:
                version = self._version
                done = self._written if retry else self._attempted
                if version <= done:
                    return
                self._attempted = version
                # The entries are ours and never changed in place: a shallow
                # copy is a consistent snapshot.
                states = dict(self.states)
            if self._write(states):
                with self._lock:
                    self._written = max(self._written, version)

    def _write(self, states: dict[str, dict[str, Any]]) -> bool:
        # Loaded on the first save: a service that never saves needs neither.
        import tempfile

        import tomli_w

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self._prefix, dir=self.path.parent)
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
            return False
        return True

    def _remove_leftovers(self) -> None:
        """Remove the temporary files a crash left behind (ours only, regular files only)."""
        with self._write_lock:  # none of ours is being written now
            try:
                entries = list(os.scandir(self.path.parent))
            except OSError:
                return
            for entry in entries:
                name = entry.name
                if not (self._temporary.fullmatch(name) or _LEGACY_TEMPORARY.fullmatch(name)):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    os.unlink(entry.path)
                except OSError as exc:
                    logger.warning("cannot remove %s left by a crash: %s", entry.path, exc)
                else:
                    logger.info("removed %s, left by a crash", entry.path)
