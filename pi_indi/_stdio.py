"""The stdio link: a driver speaking INDI on its stdin and stdout.

Reading is event-driven (the loop watches fd 0), so a request is handled as
soon as the OS delivers it, with no polling interval, and EOF stops the driver.

Under indilib's indiserver, stdin and stdout are one AF_UNIX socket, and BLOBs
sent to the driver arrive as ``<oneBLOB ... attached="true"/>`` with the data
in a memfd passed beside the bytes by SCM_RIGHTS (indiserver 1.9 "shared
buffer" mode). So when fd 0 is a socket it is read with ``recvmsg`` and each
passed descriptor is read and closed at once, in order, before the bytes that
came with it are parsed.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import os
import socket
import stat
import sys
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from pi_indi import _logger
from pi_indi._gather import GatheredWriter
from pi_indi._ingress import STDIN, Ingress
from pi_indi._log import LogLimiter
from pi_indi.driver import DriverLink
from pi_indi.protocol import Event, encode

if TYPE_CHECKING:
    from pi_indi.driver import IPyDriver

__all__ = ["StdioLink"]

logger = _logger(__name__, "indipydriver.ipydriver")

_READ_SIZE = 1 << 16
_MAX_FDS = 64
# Bytes queued for stdout before a sender waits for the peer to read.
_HIGH_WATER = 1 << 20
# Messages gathered within one loop iteration are written once this many bytes.
_GATHER = 1 << 16


def _read_fd(fd: int) -> bytes:
    try:
        size = os.fstat(fd).st_size
        chunks = []
        offset = 0
        while offset < size:
            chunk = os.pread(fd, min(size - offset, 1 << 24), offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class StdioLink(DriverLink):
    """Runs a driver on fd 0 (requests in) and fd 1 (events out)."""

    label = "stdin"

    def __init__(self, driver: IPyDriver, *, infd: int = 0, outfd: int = 1) -> None:
        self._driver = driver
        self._infd = infd
        self._outfd = outfd
        self._ingress = Ingress(self, STDIN, LogLimiter(logger))
        self._arrived: list[Event] = []
        self._out = bytearray()
        self._out_nonblocking = False
        self._writer_registered = False
        self._drained: asyncio.Event | None = None
        self._closed = False
        self._sock: socket.socket | None = None
        self._backlog: deque[Event] = deque()
        self._writer = GatheredWriter(self._emit, _GATHER)
        self._eof = False
        self._paused = False
        self._wake = asyncio.Event()

    # -- output --

    def _setup_output(self) -> None:
        mode = os.fstat(self._outfd).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            # Never block the loop on a slow reader; queue and wait instead.
            os.set_blocking(self._outfd, False)
            self._out_nonblocking = True
        self._drained = asyncio.Event()
        self._drained.set()

    async def send(self, event: Event) -> None:
        """Write one event to stdout straight away; wait if the reader lags far behind."""
        if self._closed:
            return
        if self._drained is None:
            self._setup_output()
        self._writer.write(encode(event))
        if len(self._out) > _HIGH_WATER:
            assert self._drained is not None  # noqa: S101
            self._drained.clear()
            await self._drained.wait()

    def _emit(self, data: bytes) -> None:
        if self._closed:
            return
        if not self._out:
            data = self._write_now(data)
        if data:
            self._out += data
            self._want_writer()

    def _write_now(self, data: bytes) -> bytes:
        if not self._out_nonblocking:
            # A terminal or a file: plain blocking writes.
            view = memoryview(data)
            while view:
                view = view[os.write(self._outfd, view) :]
            return b""
        try:
            written = os.write(self._outfd, data)
        except BlockingIOError:
            return data
        except OSError as exc:
            self._lost(exc)
            return b""
        return data[written:]

    def _want_writer(self) -> None:
        if not self._writer_registered and self._out:
            asyncio.get_running_loop().add_writer(self._outfd, self._on_writable)
            self._writer_registered = True

    def _on_writable(self) -> None:
        try:
            written = os.write(self._outfd, self._out)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(exc)
            return
        del self._out[:written]
        if not self._out:
            asyncio.get_running_loop().remove_writer(self._outfd)
            self._writer_registered = False
        if len(self._out) <= _HIGH_WATER // 2 and self._drained is not None:
            self._drained.set()

    def _lost(self, exc: OSError) -> None:
        logger.warning("stdout closed (%s); stopping the driver", exc)
        self._closed = True
        self._out.clear()
        if self._drained is not None:
            self._drained.set()
        self._driver.shutdown()

    # -- input --

    async def run(self, driver: IPyDriver) -> None:
        """Read stdin until EOF, handing each event to the driver in order."""
        if self._drained is None:
            self._setup_output()
        loop = asyncio.get_running_loop()
        mode = os.fstat(self._infd).st_mode
        if stat.S_ISSOCK(mode):
            self._sock = socket.socket(fileno=os.dup(self._infd))
            self._sock.setblocking(False)
            reader = self._read_socket
        elif stat.S_ISREG(mode):
            reader = None
        else:
            os.set_blocking(self._infd, False)
            reader = self._read_plain
        if reader is None:
            # epoll cannot watch a regular file; it is always readable anyway.
            while chunk := await loop.run_in_executor(None, os.read, self._infd, _READ_SIZE):
                await self._feed(driver, chunk)
        else:
            self._wake = asyncio.Event()
            loop.add_reader(self._infd, self._on_readable, reader, driver)
            try:
                while True:
                    await self._wake.wait()
                    self._wake.clear()
                    while self._backlog:
                        # The driver's queue was full: wait for room, in order,
                        # leaving each queued here until the driver takes it.
                        await driver.receive_event(self._backlog[0])
                        self._backlog.popleft()
                    if self._eof:
                        break
                    if self._paused:
                        self._paused = False
                        loop.add_reader(self._infd, self._on_readable, reader, driver)
            finally:
                with contextlib.suppress(ValueError, RuntimeError):
                    loop.remove_reader(self._infd)
        await self._feed(driver, b"")

    def _on_readable(self, reader: Callable[[], bytes], driver: IPyDriver) -> None:
        # Requests are parsed here, in the loop's callback, and go straight to
        # the driver (handled at once when it is idle): no task switch between
        # the OS and the driver.
        try:
            data = reader()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            logger.warning("stdin failed (%s); treating it as closed", exc)
            data = b""
        loop = asyncio.get_running_loop()
        if not data:
            self._eof = True
            loop.remove_reader(self._infd)
            self._wake.set()
            return
        backlog = self._backlog
        for event in self._events(data):
            if backlog or not driver.offer_event(event):
                backlog.append(event)
        if backlog:
            # Stop reading until the driver has taken what is waiting.
            loop.remove_reader(self._infd)
            self._paused = True
            self._wake.set()

    def _read_plain(self) -> bytes:
        return os.read(self._infd, _READ_SIZE)

    def _read_socket(self) -> bytes:
        assert self._sock is not None  # noqa: S101
        data, ancdata, flags, _ = self._sock.recvmsg(
            _READ_SIZE, socket.CMSG_SPACE(_MAX_FDS * 4), getattr(socket, "MSG_CMSG_CLOEXEC", 0)
        )
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                for fd in fds:
                    self._ingress.receive_attachment(_read_fd(fd))
        if flags & getattr(socket, "MSG_CTRUNC", 0):
            logger.error("attached BLOB descriptors were truncated by the kernel")
        return data

    def _events(self, chunk: bytes) -> list[Event]:
        # Garbage on stdin is logged (rate-limited) and skipped: see _ingress.
        self._ingress.feed(chunk)
        arrived = self._arrived
        self._arrived = []
        return arrived

    # IngressSink

    def on_event(self, event: Event) -> None:
        self._arrived.append(event)

    def tell(self, message: str, device: str | None) -> None:
        """Faults on stdin are logged, not answered."""

    def give_up(self, reason: str) -> None:
        """Never: bad input on stdin is skipped."""

    async def _feed(self, driver: IPyDriver, chunk: bytes) -> None:
        for event in self._events(chunk):
            await driver.receive_event(event)

    def close(self) -> None:
        """Flush what can be written and release the descriptors."""
        self._out += self._writer.take()
        loop = asyncio.get_event_loop()
        if self._writer_registered:
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_writer(self._outfd)
            self._writer_registered = False
        if self._out and not self._closed:
            with contextlib.suppress(OSError):
                os.set_blocking(self._outfd, True)
                os.write(self._outfd, self._out)
        if self._out_nonblocking:
            with contextlib.suppress(OSError):
                os.set_blocking(self._outfd, True)
        self._closed = True
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        with contextlib.suppress(Exception):
            sys.stdout.flush()
