"""The service side of systemd: sd_notify, the watchdog, logging to the journal, reloads.

Outside systemd all of it is a no-op: with no ``$NOTIFY_SOCKET`` nothing is
sent, with no ``$JOURNAL_STREAM`` logs are plain lines on stderr, and with no
``$RUNTIME_DIRECTORY`` no reload outcome is published.

The notify protocol (sd_notify(3)) is a datagram of ``KEY=VALUE`` lines to
the unix socket named in ``$NOTIFY_SOCKET`` (``@`` at its start means the
abstract namespace). systemd-python's ``systemd.daemon.notify`` is used when
it is installed; the stdlib fallback below is the same dozen lines it wraps.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "Notifier",
    "ReloadOutcome",
    "ReloadState",
    "ReloadStateFile",
    "configure_logging",
    "under_journal",
]

logger = logging.getLogger(__name__)


def _systemd_python_notify() -> Any:
    try:
        daemon = importlib.import_module("systemd.daemon")
    except ImportError:
        return None
    return getattr(daemon, "notify", None)


class Notifier:
    """Tell systemd how the service is doing (``Type=notify``).

    Args:
        environ: where ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and
            ``WATCHDOG_PID`` are read (the process environment by default).
        use_systemd_python: send through systemd-python when it is installed.
    """

    def __init__(
        self, environ: Mapping[str, str] | None = None, use_systemd_python: bool = True
    ) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET") or None
        self.watchdog_usec = 0
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_usec = int(usec)
        self._lib = _systemd_python_notify() if use_systemd_python and self.address else None
        self._socket: socket.socket | None = None
        self._last_status: str | None = None

    @property
    def enabled(self) -> bool:
        """True when running under systemd with a notify socket."""
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half of ``WatchdogSec``), or None."""
        if not self.enabled or not self.watchdog_usec:
            return None
        return self.watchdog_usec / 2e6

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` fields in one datagram; False when it could not be sent."""
        if self.address is None:
            return False
        message = "\n".join(fields)
        if self._lib is not None:
            return bool(self._lib(message))
        address = self.address
        if address.startswith("@"):
            address = "\0" + address[1:]
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
            self._socket.sendto(message.encode("utf-8", "replace"), address)
        except OSError as exc:
            logger.debug("sd_notify to %s failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: the socket is bound and the drivers are started (or reloaded)."""
        fields = ["READY=1"]
        if status is not None:
            fields.append(f"STATUS={status}")
            self._last_status = status
        return self.notify(*fields)

    def reloading(self) -> bool:
        """``RELOADING=1``, with the monotonic time systemd 253 and later ask for."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        """``STOPPING=1``: shutting down."""
        return self.notify("STOPPING=1", "STATUS=Stopping")

    def status(self, text: str) -> bool:
        """``STATUS=...``, sent only when it changed."""
        if text == self._last_status:
            return True
        self._last_status = text
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: the event loop is alive."""
        return self.notify("WATCHDOG=1")

    def close(self) -> None:
        """Close the socket (a new one is made if more is sent)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


# -- Reload outcomes ----------------------------------------------------------------
#
# systemd 252 has no Type=notify-reload, and READY=1 after a reload does not
# tell it whether the reload worked. So ExecReload runs `pi-indi reload`,
# which signals the service and waits for the outcome the service publishes
# here, in $RUNTIME_DIRECTORY (systemd sets it for ExecStart and ExecReload
# alike). Reloads are numbered: a command that reads "started: N" before
# signalling waits for the outcome of reload N + 1. That reload began after
# the command read the file, so it read the config after the command checked
# it, even when the signal was folded into a reload already queued. The last
# few outcomes are kept, so two commands close together each find their own.


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadOutcome:
    """How one reload went.

    Attributes:
        generation: the reload's number; 0 is the start-up.
        result: ``"started"`` (generation 0), ``"applied"``, ``"refused"``
            (the file is invalid; nothing changed) or ``"failed"``.
        reason: one line: the status when applied, else what went wrong.
        problems: the config problems of a refused reload, one per line.
    """

    generation: int
    result: str
    reason: str = ""
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadState:
    """What a service publishes for ``pi-indi reload``.

    Attributes:
        pid: the service's process.
        config: the config file it reads (its ``source``).
        reloadable: whether it reloads on SIGHUP (else SIGHUP would end it).
        started: the number of reloads begun.
        outcomes: the last few reloads' outcomes, oldest first.
    """

    #: how many outcomes are kept
    KEEP: ClassVar[int] = 16

    pid: int
    config: str
    reloadable: bool
    started: int
    outcomes: tuple[ReloadOutcome, ...]

    def outcome(self, generation: int) -> ReloadOutcome | None:
        """Reload *generation*'s outcome (or the next one's, if it is no longer kept)."""
        return next((o for o in self.outcomes if o.generation >= generation), None)


class ReloadStateFile:
    """The file ``reload.json`` in a runtime directory, replaced whole on each write.

    Args:
        directory: where; None (no ``$RUNTIME_DIRECTORY``) reads and writes nothing.
    """

    NAME = "reload.json"

    def __init__(self, directory: str | None) -> None:
        self.path = os.path.join(directory, self.NAME) if directory else None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ReloadStateFile:
        """The file in ``$RUNTIME_DIRECTORY`` (its first directory, if it names several)."""
        env = os.environ if environ is None else environ
        return cls(env.get("RUNTIME_DIRECTORY", "").split(":")[0] or None)

    def write(self, state: ReloadState) -> bool:
        """Replace the file atomically (a reader never sees half of it); False on failure."""
        if self.path is None:
            return False
        temporary = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(temporary, "w", encoding="utf-8") as f:
                json.dump(dataclasses.asdict(state), f)
            os.replace(temporary, self.path)
        except OSError as exc:
            logger.warning("cannot write %s: %s; pi-indi reload cannot wait", self.path, exc)
            return False
        return True

    def read(self, pid: int) -> ReloadState | None:
        """What process *pid* published; None when it published nothing here.

        Raises:
            OSError: the file exists but cannot be read.
        """
        if self.path is None:
            return None
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            state = ReloadState(
                pid=int(data["pid"]),
                config=str(data["config"]),
                reloadable=bool(data["reloadable"]),
                started=int(data["started"]),
                outcomes=tuple(
                    ReloadOutcome(
                        generation=int(outcome["generation"]),
                        result=str(outcome["result"]),
                        reason=str(outcome["reason"]),
                        problems=tuple(str(p) for p in outcome["problems"]),
                    )
                    for outcome in data["outcomes"]
                ),
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # not ours, or from another version
        return state if state.pid == pid else None


# -- Logging -------------------------------------------------------------------------

# syslog priorities (sd-daemon(3) prefixes) for the logging levels.
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def _priority(levelno: int) -> int:
    for level, priority in _PRIORITIES:
        if levelno >= level:
            return priority
    return 7


class _JournalPrefixFormatter(logging.Formatter):
    """``<N>`` in front of every line, so journald records the priority.

    No timestamp: the journal adds its own.
    """

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_priority(record.levelno)}>"
        text = super().format(record)
        return "\n".join(prefix + line for line in text.splitlines())


def under_journal(environ: Mapping[str, str] | None = None, stream: Any = None) -> bool:
    """True when *stream* (stderr) is connected to the journal (``$JOURNAL_STREAM``)."""
    env = os.environ if environ is None else environ
    value = env.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not device.isdigit() or not inode.isdigit():
        return False
    stream = sys.stderr if stream is None else stream
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return info.st_dev == int(device) and info.st_ino == int(inode)


def configure_logging(
    level: int, environ: Mapping[str, str] | None = None, stream: Any = None
) -> logging.Handler:
    """Send the root logger's records to the journal (with priorities) or to stderr.

    Under systemd, with stderr connected to the journal, each line carries a
    ``<N>`` priority prefix and no timestamp; elsewhere lines are plain, with
    a timestamp.
    """
    stream = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(stream)
    if under_journal(environ, stream):
        handler.setFormatter(_JournalPrefixFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
