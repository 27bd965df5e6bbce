"""The driver sides: in-process drivers, executable drivers and remote servers.

Each is a :class:`~pi_indi.server._router.DriverPeer`: the router hands it
events with :meth:`deliver`, and what it reads from its driver goes through
the one :class:`~pi_indi._ingress.Ingress` (executables and remotes) or comes
straight from the driver object (in-process) to the router.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any

from pi_indi._backoff import Backoff
from pi_indi._ingress import REMOTE, Faults, Ingress
from pi_indi._log import shown
from pi_indi.driver import DriverLink, IPyDriver
from pi_indi.protocol import (
    ANY,
    BLOBPolicy,
    BLOBPolicyTable,
    EnableBLOB,
    Event,
    GetProperties,
    encode,
)
from pi_indi.server._router import Interest

if TYPE_CHECKING:
    from pi_indi.server._server import IPyServer

__all__ = ["DriverSide", "ExDriver", "InProcess", "Remote"]

logger = logging.getLogger("pi_indi.server")

# What drivers send (executables, remote servers) is held to these; a camera
# driver's BLOBs are the largest legitimate elements.
_DRIVER_MAX_ELEMENT = 1 << 20
_DRIVER_MAX_BLOB_ELEMENT = 64 << 20
_PIPE_SIZE = 1 << 16  # Linux's default; asked of the pipe where possible
# Requests queued for one driver before the peers sending them are paused.
_DRIVER_INBOX_HIGH = 1024
_DRIVER_INBOX_LOW = 256
# An executable driver's stderr is logged up to this many lines per window.
_STDERR_LINES = 200
_STDERR_WINDOW = 10.0


class DriverSide:
    """Base of the peers that own devices: in-process drivers, executables, remotes."""

    remote = False

    def __init__(self, server: IPyServer, label: str) -> None:
        self.server = server
        self.label = label
        self.snoop = Interest()
        self.snoop_blobs = BLOBPolicyTable()
        self.debug_enable = False

    def deliver(self, event: Event, data: bytes | None) -> None:
        """Send one event to this driver (non-blocking)."""
        raise NotImplementedError

    def accepted(self, sender: Any) -> None:
        """*sender* gave this driver a request (flow control; in-process drivers only)."""

    def pause(self) -> None:
        """Stop reading from this peer for a while (what it sends waits)."""

    def resume(self) -> None:
        """Read from this peer again."""

    # IngressSink: what executables and remotes send, read by an Ingress.

    def on_event(self, event: Event) -> None:
        if self.debug_enable and logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s TX:: %s", self.label, _text(encode(event)))
        self.server.router.from_driver(self, event)

    def tell(self, message: str, device: str | None) -> None:
        """Drivers are not answered about their faults; they are logged."""

    def give_up(self, reason: str) -> None:
        """Stop listening to a peer that misbehaves (executable drivers only)."""


class InProcess(DriverSide, DriverLink):
    """An IPyDriver running inside the server; also its DriverLink."""

    def __init__(self, server: IPyServer, driver: IPyDriver) -> None:
        super().__init__(server, f"driver {type(driver).__name__}")
        self.driver = driver
        self.inbox: deque[Event] = deque()
        # getProperties waiting in the inbox, by (device, name): a request
        # for the same is answered by the waiting one.
        self.queued_gets: set[tuple[str | None, str | None]] = set()
        # Set once the server no longer serves it: nothing more is queued.
        self.removed = False
        self.wakeup = asyncio.Event()
        self.paused: set[Any] = set()
        # Snooped BLOBs come without asking, as under indipyserver (whose
        # drivers have no way to ask); send_enableBLOB("Never", ...) stops them.
        self.snoop_blobs.update(EnableBLOB(policy=BLOBPolicy.ALSO))
        driver.attach_link(self)
        self.router_from_driver = server.router.from_driver
        # DriverLink: what the driver sends comes here, without a coroutine.
        self.send_nowait = self._send_nowait

    def _send_nowait(self, event: Event) -> None:
        # The commonest call of all (every update a driver sends): straight on.
        if self.debug_enable:
            self.on_event(event)
        else:
            self.router_from_driver(self, event)

    async def send(self, event: Event) -> None:
        self._send_nowait(event)

    async def run(self, driver: IPyDriver) -> None:
        inbox = self.inbox
        while True:
            while not inbox:
                self.wakeup.clear()
                await self.wakeup.wait()
            # Leave it queued until the driver takes it, so deliver() cannot
            # pass it by putting a later request straight into the driver.
            await driver.receive_event(inbox[0])
            taken = inbox.popleft()
            if type(taken) is GetProperties:
                self.queued_gets.discard((taken.device, taken.name))
            if self.paused and len(inbox) <= _DRIVER_INBOX_LOW:
                self.release_senders()

    def release_senders(self) -> None:
        """Read again from the peers this driver held back."""
        # Cleared first: a peer resumed routes what waited, which may pause
        # it again.
        paused = list(self.paused)
        self.paused.clear()
        for peer in paused:
            peer.resume()

    def deliver(self, event: Event, data: bytes | None) -> None:
        # Straight to the driver (handled at once when it is idle) when
        # nothing is waiting here before it.
        if self.removed:
            return
        if not self.inbox and self.driver.offer_event(event):
            return
        if type(event) is GetProperties:
            key = (event.device, event.name)
            if key in self.queued_gets:
                return
            self.queued_gets.add(key)
        self.inbox.append(event)
        self.wakeup.set()

    def accepted(self, sender: Any) -> None:
        # A client (or an executable driver) flooding this driver with
        # requests waits until the driver catches up.
        if len(self.inbox) > _DRIVER_INBOX_HIGH and sender not in self.paused and not self.removed:
            self.paused.add(sender)
            sender.pause()


def _text(payload: bytes) -> str:
    return payload.decode("utf-8", "replace").rstrip()


_libc: Any = None


def _load_libc() -> None:
    # In the parent, before the first fork: importing or dlopen()ing in the
    # child could deadlock on a lock another thread held at the fork. Not at
    # import time either: a server with no executable drivers never needs it.
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)


def _set_parent_death_signal() -> None:  # pragma: no cover - runs in the child
    # Linux: have the kernel send SIGTERM to the driver if the server dies, so
    # no driver outlives a server killed with SIGKILL.
    with contextlib.suppress(Exception):
        _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _ExDriverProtocol(asyncio.SubprocessProtocol):
    """The pipes of one run of an executable driver, handled in loop callbacks.

    A driver that writes faster than the server can take it fills its output
    pipe and blocks in write(); each read then finds the pipe full. Reads that
    find it full for ``exdriver_flood_seconds`` without a break mean a driver
    flooding the server, and it is cut off. A burst (a large BLOB, a benchmark)
    ends well before that.
    """

    def __init__(self, ex: ExDriver) -> None:
        self.ex = ex
        server = ex.server
        self.input = Ingress(
            ex,
            Faults(
                max_bad_run=server.exdriver_max_bad_xml, max_garbage=server.exdriver_max_garbage
            ),
            server.router.log,
            max_element=_DRIVER_MAX_ELEMENT,
            max_blob_element=_DRIVER_MAX_BLOB_ELEMENT,
            on_plain=partial(server.router.relay_plain, ex),
        )
        self.stderr = b""
        self.stderr_window = 0.0
        self.stderr_lines = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # A read this large found the pipe full (to within a page: the
        # kernel fills the pipe a page at a time, not always to the byte).
        self.full = _PIPE_SIZE - 4096
        self.full_since: float | None = None
        self.given_up = False

    @property
    def cut(self) -> bool:
        """Cut off: whatever it still sends is thrown away."""
        return self.given_up

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)  # noqa: S101
        stdout = transport.get_pipe_transport(1)
        pipe = stdout.get_extra_info("pipe") if stdout is not None else None
        get_size = getattr(fcntl, "F_GETPIPE_SZ", None)  # Linux
        if pipe is not None and get_size is not None:
            with contextlib.suppress(OSError, ValueError):
                size = fcntl.fcntl(pipe.fileno(), get_size)
                self.full = max(size - 4096, size // 2)

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if self.cut:
            return
        if fd == 2:
            self._log_stderr(data)
            return
        if len(data) >= self.full:
            now = asyncio.get_running_loop().time()
            if self.full_since is None:
                self.full_since = now
            elif now - self.full_since >= self.ex.server.exdriver_flood_seconds:
                seconds = now - self.full_since
                self.ex.give_up(f"has written faster than the server takes it for {seconds:.0f} s")
                return
        else:
            self.full_since = None
        self.input.feed(data)

    def _log_stderr(self, data: bytes) -> None:
        lines = (self.stderr + data).split(b"\n")
        self.stderr = lines.pop()
        if len(self.stderr) > 1 << 16:  # a line without end: log what there is
            lines.append(self.stderr)
            self.stderr = b""
        now = asyncio.get_running_loop().time()
        if now - self.stderr_window >= _STDERR_WINDOW:
            if self.stderr_lines > _STDERR_LINES:
                logger.warning(
                    "%s: %d more lines on stderr were not logged (at most %d per %.0f s)",
                    self.ex.label,
                    self.stderr_lines - _STDERR_LINES,
                    _STDERR_LINES,
                    _STDERR_WINDOW,
                )
            self.stderr_window = now
            self.stderr_lines = 0
        for line in lines:
            self.stderr_lines += 1
            if self.stderr_lines <= _STDERR_LINES:
                logger.info(
                    "%s: %s", self.ex.label, shown(line.decode("utf-8", "replace").rstrip(), 1000)
                )

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stderr and not self.cut:
            self._log_stderr(b"\n")
        if self.stderr_lines > _STDERR_LINES:
            logger.warning(
                "%s: %d more lines on stderr were not logged",
                self.ex.label,
                self.stderr_lines - _STDERR_LINES,
            )
        if not self.done.done():
            self.done.set_result(None)


class ExDriver(DriverSide):
    """An executable driver (any INDI driver speaking on stdin/stdout)."""

    def __init__(
        self, server: IPyServer, program: str, args: tuple[str, ...], max_restarts: int
    ) -> None:
        super().__init__(server, f"exdriver {os.path.basename(program)}")
        self.program = program
        self.args = args
        self.max_restarts = max_restarts
        self.transport: asyncio.SubprocessTransport | None = None
        self.stdin: asyncio.WriteTransport | None = None
        self.protocol: _ExDriverProtocol | None = None
        self.stopping = False
        self.backoff = Backoff(first=1.0, most=30.0, reset_after=60.0)

    def deliver(self, event: Event, data: bytes | None) -> None:
        stdin = self.stdin
        if stdin is None or stdin.is_closing():
            return
        if type(event) is GetProperties and event.version is None:
            event = GetProperties(version="1.7", device=event.device, name=event.name)
            data = None
        payload = encode(event) if data is None else data
        if self.debug_enable and logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s RX:: %s", self.label, _text(payload))
        stdin.write(payload)
        if stdin.get_write_buffer_size() > self.server.max_client_queue:
            # Once: the process is killed, and nothing more is written to it.
            self.stdin = None
            logger.error("%s is not reading its input; restarting it", self.label)
            self._kill(signal.SIGKILL)

    def _kill(self, sig: int) -> None:
        if self.transport is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.transport.get_pid(), sig)

    def give_up(self, reason: str) -> None:
        """Kill a driver that floods or writes garbage; it is restarted as if it had exited."""
        protocol = self.protocol
        if protocol is None or protocol.given_up:
            return
        protocol.given_up = True
        protocol.input.done = True
        logger.error(
            "%s %s; cutting it off (its process group is killed) and restarting it",
            self.label,
            reason,
        )
        self.stdin = None
        self._kill(signal.SIGKILL)
        # Its devices are gone for the clients now, not when the process is reaped.
        self.server.router.drop_devices(self)

    def _stdout(self) -> asyncio.ReadTransport | None:
        transport = self.transport
        pipe = transport.get_pipe_transport(1) if transport is not None else None
        return pipe if isinstance(pipe, asyncio.ReadTransport) else None

    def pause(self) -> None:
        stdout = self._stdout()
        if stdout is not None and stdout.is_reading():
            stdout.pause_reading()

    def resume(self) -> None:
        stdout = self._stdout()
        if stdout is not None and not stdout.is_closing():
            stdout.resume_reading()
        if self.protocol is not None:
            # Its pipe filled while we did not read it: not its doing.
            self.protocol.full_since = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = self.backoff
        while not self.stopping:
            started = loop.time()
            try:
                await self._run_once()
            except OSError:
                logger.exception("%s could not start", self.label)
            self.server.router.drop_devices(self)
            if self.stopping:
                return
            ran_for = loop.time() - started
            if ran_for >= backoff.reset_after:
                backoff.reset()  # it ran a good while: a fresh failure, not a loop
            if backoff.failures >= self.max_restarts:
                logger.error("%s: giving up after %d restarts", self.label, backoff.failures)
                return
            delay = backoff.next()
            logger.warning(
                "%s: restart %d of %d in %.0f s",
                self.label,
                backoff.failures,
                self.max_restarts,
                delay,
            )
            await asyncio.sleep(delay)

    async def _run_once(self) -> None:
        loop = asyncio.get_running_loop()
        _load_libc()
        protocol = _ExDriverProtocol(self)
        transport, _ = await loop.subprocess_exec(
            lambda: protocol,
            self.program,
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_set_parent_death_signal,
        )
        self.transport = transport
        self.protocol = protocol
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)  # noqa: S101 - PIPE was asked for
        self.stdin = stdin
        logger.info("%s started, pid %d", self.label, transport.get_pid())
        # indiserver's first words to a new driver.
        self.deliver(GetProperties(version="1.7"), None)
        try:
            await protocol.done
        finally:
            self.stdin = None
            rc = transport.get_returncode()
            transport.close()
            self.transport = None
            log = logger.info if self.stopping else logger.warning
            log("%s exited with status %s", self.label, rc)

    async def stop(self) -> None:
        self.stopping = True
        transport = self.transport
        if transport is None or transport.get_returncode() is not None:
            return
        self._kill(signal.SIGTERM)
        if self.protocol is None:
            return
        try:
            async with asyncio.timeout(3):
                await asyncio.shield(self.protocol.done)
        except TimeoutError:
            self._kill(signal.SIGKILL)


class Remote(DriverSide):
    """A link to another INDI server, whose devices this server re-exports."""

    remote = True

    def __init__(self, server: IPyServer, host: str, port: int, blob_enable: bool) -> None:
        super().__init__(server, f"remote {host}:{port}")
        self.host = host
        self.port = port
        self.blob_enable = blob_enable
        self.writer: asyncio.StreamWriter | None = None
        self.stopping = False

    def deliver(self, event: Event, data: bytes | None) -> None:
        writer = self.writer
        if writer is None or writer.is_closing():
            return
        payload = encode(event) if data is None else data
        if self.debug_enable and logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s RX:: %s", self.label, _text(payload))
        writer.write(payload)
        if writer.transport.get_write_buffer_size() > self.server.max_client_queue:
            self.writer = None
            logger.error("%s is not reading; reconnecting", self.label)
            writer.transport.abort()

    async def run(self) -> None:
        backoff = Backoff(first=1.0, most=30.0, reset_after=float("inf"))
        while not self.stopping:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError as exc:
                delay = backoff.next()
                logger.warning("%s: cannot connect (%s); retry in %.0f s", self.label, exc, delay)
            else:
                backoff.reset()
                await self._serve(reader, writer)
                self.server.router.drop_devices(self)
                if self.stopping:
                    return
                delay = backoff.next()
                logger.warning("%s: connection lost; reconnecting in %.0f s", self.label, delay)
            await asyncio.sleep(delay)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        logger.info("%s connected", self.label)
        # As indiserver's "@host:port" remote (RemoteDvrInfo::start): device "*"
        # asks for every device and marks this link as a chained server, so the
        # other server sends its drivers' snoop requests here too. The
        # device-less request before it is for drivers that know no "*" (a
        # pi_indi driver run by indiserver); libindi drivers answer both.
        self.deliver(GetProperties(version="1.7"), None)
        self.deliver(GetProperties(version="1.7", device=ANY), None)
        self.deliver(
            EnableBLOB(policy=BLOBPolicy.ALSO if self.blob_enable else BLOBPolicy.NEVER), None
        )
        ingress = Ingress(
            self,
            REMOTE,
            self.server.router.log,
            max_element=_DRIVER_MAX_ELEMENT,
            max_blob_element=_DRIVER_MAX_BLOB_ELEMENT,
            on_plain=partial(self.server.router.relay_plain, self),
        )
        try:
            while chunk := await reader.read(1 << 16):
                ingress.feed(chunk)
        except OSError as exc:
            logger.warning("%s: %s", self.label, exc)
        finally:
            self.writer = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self) -> None:
        self.stopping = True
        if self.writer is not None:
            self.writer.close()
