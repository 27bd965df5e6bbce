"""IPyServer: serve drivers to INDI clients over TCP, as indiserver does.

The server routes like indilib's indiserver (indiserver/indiserver.cpp): a
client's ``getProperties`` records what it wants to see and goes to the drivers
that own the device; ``new*Vector`` goes only to the owning driver (and is
echoed to the other clients watching that property); what drivers send goes to
the clients and the snooping drivers that asked for that device or property,
with each client's ``enableBLOB`` choices applied. Interest is kept in tables,
so a message costs a few set unions, not a pass over every client.

Each message from a driver is encoded once and the same bytes are written to
every client that gets it. A client whose unsent output passes the cap (like
indiserver's ``-m``) is dropped with a log line; nobody else notices.

Drivers can be in-process ``IPyDriver`` objects, executables speaking INDI on
stdin/stdout (``add_exdriver``), or other INDI servers (``add_remote``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pi_indi.driver import DriverLink, IPyDriver
from pi_indi.errors import RemoteProtocolError
from pi_indi.protocol import (
    CLOSED,
    NEED_DATA,
    BLOBPolicy,
    BLOBPolicyTable,
    Connection,
    DelProperty,
    ElementStream,
    EnableBLOB,
    Event,
    GetProperties,
    Message,
    NewBLOBVector,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    PingReply,
    PingRequest,
    PlainVector,
    SetBLOBVector,
    SetLightVector,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    check_plain,
    decode_element,
    encode,
)

__all__ = ["IPyServer"]

logger = logging.getLogger(__name__)

_NEW = (NewSwitchVector, NewTextVector, NewNumberVector, NewBLOBVector)
_NEW_KINDS = frozenset(_NEW)
# What drivers send most: routed by _from_driver's short path.
_PLAIN_SET = frozenset((SetNumberVector, SetSwitchVector, SetTextVector, SetLightVector))

# indiserver's default for -m: clients more than this far behind are dropped.
DEFAULT_CLIENT_QUEUE = 128 << 20
# Requests queued for one driver before the clients sending them are paused.
_DRIVER_INBOX_HIGH = 1024
_DRIVER_INBOX_LOW = 256


def _now() -> datetime:
    now = datetime.now(UTC)
    return datetime.combine(now.date(), now.time())  # naive UTC; cheaper than replace()


class _Interest:
    """What one peer asked to see: everything, some devices, some properties."""

    __slots__ = ("all", "devices", "props")

    def __init__(self) -> None:
        self.all = False
        self.devices: set[str] = set()
        self.props: set[tuple[str, str]] = set()


class _Watchers:
    """Reverse index from device and property to the peers that watch them."""

    def __init__(self) -> None:
        self.all: set[Any] = set()
        self.devices: dict[str, set[Any]] = {}
        self.props: dict[tuple[str, str], set[Any]] = {}

    def add(self, peer: Any, interest: _Interest, device: str | None, name: str | None) -> None:
        if device is None:
            interest.all = True
            self.all.add(peer)
        elif name is None:
            interest.devices.add(device)
            self.devices.setdefault(device, set()).add(peer)
        else:
            interest.props.add((device, name))
            self.props.setdefault((device, name), set()).add(peer)

    def remove(self, peer: Any, interest: _Interest) -> None:
        self.all.discard(peer)
        for device in interest.devices:
            peers = self.devices.get(device)
            if peers is not None:
                peers.discard(peer)
                if not peers:
                    del self.devices[device]
        for key in interest.props:
            peers = self.props.get(key)
            if peers is not None:
                peers.discard(peer)
                if not peers:
                    del self.props[key]

    def of(self, device: str | None, name: str | None) -> set[Any]:
        """The peers that want a message about *device* / *name* (do not change it).

        Called for every message: no new set is made unless two sets must be joined.
        """
        if device is None:
            return self.all
        by_device = self.devices.get(device)
        by_prop = self.props.get((device, name)) if name is not None else None
        if not by_device and not by_prop:
            return self.all
        found = self.all | by_device if by_device else set(self.all)
        if by_prop:
            found |= by_prop
        return found


# -- Clients -------------------------------------------------------------------------


class _Client(asyncio.Protocol):
    """One TCP client."""

    def __init__(self, server: IPyServer) -> None:
        self.server = server
        self.conn = Connection(
            max_element=server.max_element, max_blob_element=server.max_blob_element
        )
        self.interest = _Interest()
        self.transport: asyncio.Transport | None = None
        self.label = "client"
        self.closed = False
        self.draining = False
        # Messages gathered during this loop iteration (None: nothing sent yet).
        self.pending: list[bytes] | None = None
        self.pending_size = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.label = f"client {peer[0]}:{peer[1]}" if peer else "client"
        if not self.server._accept(self):
            logger.warning(
                "%s refused: %d connections already", self.label, self.server.maxconnections
            )
            transport.write(
                encode(
                    Message(
                        timestamp=_now(),
                        message=f"[ERROR] this server takes at most {self.server.maxconnections}"
                        " clients; try again later",
                    )
                )
            )
            self.closed = True
            transport.close()
            return
        logger.info("%s connected", self.label)

    def data_received(self, data: bytes) -> None:
        if self.closed and not self.draining:
            return
        conn = self.conn
        conn.receive_data(data)
        while True:
            try:
                event = conn.next_event()
            except RemoteProtocolError as exc:
                if exc.well_formed:
                    self._refuse(exc)
                    continue
                logger.warning("%s sent malformed XML (%s); closing it", self.label, exc)
                self.close()
                return
            if event is NEED_DATA or event is CLOSED:
                return
            self.server._from_client(self, event)  # type: ignore[arg-type]
            if self.closed:
                return

    def _refuse(self, exc: RemoteProtocolError) -> None:
        logger.warning("%s: refused %s", self.label, exc)
        self.write(
            encode(
                Message(
                    device=exc.device if exc.device and exc.device == exc.device.strip() else None,
                    timestamp=_now(),
                    message=f"[ERROR] refused <{exc.tag}>: {exc}",
                )
            )
        )

    def write(self, data: bytes) -> None:
        # The first message of a loop iteration goes out at once (latency);
        # the rest of that iteration's messages are gathered and written with
        # one system call when the iteration ends (throughput).
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            return
        pending = self.pending
        if pending is None:
            transport.write(data)
            self.pending = []
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            pending.append(data)
            self.pending_size += len(data)
            if self.pending_size < self.server.flush_size:
                # Under a quarter of the cap gathered: checked at the next write out.
                return
            self._flush()
            self.pending = []
        self._check_backlog(transport)

    def _check_backlog(self, transport: asyncio.Transport) -> None:
        backlog = transport.get_write_buffer_size() + self.pending_size
        if backlog > self.server.max_client_queue:
            logger.warning(
                "%s is %d bytes behind (limit %d); dropping it",
                self.label,
                backlog,
                self.server.max_client_queue,
            )
            self.closed = True
            self.pending = None
            self.pending_size = 0
            transport.abort()

    def _flush(self) -> None:
        pending = self.pending
        self.pending = None
        self.pending_size = 0
        transport = self.transport
        if pending and not self.closed and transport is not None:
            transport.write(b"".join(pending))
            self._check_backlog(transport)

    def send(self, event: Event) -> None:
        self.write(encode(event))

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    def pause(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.closed:
            with contextlib.suppress(RuntimeError):
                self.transport.resume_reading()

    def _read_what_is_left(self) -> None:
        # A client that sends a request and closes at once (indi_setprop does)
        # makes one of our writes fail, and asyncio then stops reading; but the
        # request is still in the kernel's buffer, and must not be lost.
        sock = self.transport.get_extra_info("socket") if self.transport else None
        if sock is None:
            return
        try:
            left = socket.socket(fileno=os.dup(sock.fileno()))
        except OSError:
            return
        with left:
            left.setblocking(False)
            self.draining = True
            received = 0
            while received < self.server.max_element:
                try:
                    chunk = left.recv(1 << 16)
                except OSError:
                    break
                if not chunk:
                    break
                received += len(chunk)
                self.data_received(chunk)
            self.draining = False

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            self._read_what_is_left()
        self.closed = True
        self.server._forget_client(self)
        logger.info("%s disconnected%s", self.label, f" ({exc})" if exc else "")


# -- Driver side ---------------------------------------------------------------------


class _DriverSide:
    """Base of the peers that own devices: in-process drivers, executables, remotes."""

    def __init__(self, server: IPyServer, label: str) -> None:
        self.server = server
        self.label = label
        self.devices: set[str] = set()
        self.snoop = _Interest()
        self.snoop_blobs = BLOBPolicyTable()
        self.debug_enable = False

    def deliver(self, event: Event, data: bytes | None) -> None:
        """Send one event to this driver (non-blocking)."""
        raise NotImplementedError

    def wants_snooped(self, event: Event) -> bool:
        if type(event) is SetBLOBVector and event.blobs:
            return self.snoop_blobs.policy(event.device, event.name) is not BLOBPolicy.NEVER
        return True


class _InProcess(_DriverSide, DriverLink):
    """An IPyDriver running inside the server; also its DriverLink."""

    def __init__(self, server: IPyServer, driver: IPyDriver) -> None:
        super().__init__(server, f"driver {type(driver).__name__}")
        self.driver = driver
        self.inbox: deque[Event] = deque()
        self.wakeup = asyncio.Event()
        self.paused: set[_Client] = set()
        driver._link = self
        # DriverLink: what the driver sends comes here, without a coroutine.
        self.send_nowait = self._send_nowait

    def _send_nowait(self, event: Event) -> None:
        self.server._from_driver(self, event)

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
            await driver._receive(inbox[0])
            inbox.popleft()
            if self.paused and len(inbox) <= _DRIVER_INBOX_LOW:
                for client in self.paused:
                    client.resume()
                self.paused.clear()

    def deliver(self, event: Event, data: bytes | None) -> None:
        # Straight to the driver (handled at once when it is idle) when
        # nothing is waiting here before it.
        if not self.inbox and self.driver._offer(event):
            return
        self.inbox.append(event)
        self.wakeup.set()

    def throttle(self, client: _Client) -> None:
        # A client flooding this driver waits until the driver catches up.
        if len(self.inbox) > _DRIVER_INBOX_HIGH and client not in self.paused:
            self.paused.add(client)
            client.pause()


def _set_parent_death_signal() -> None:  # pragma: no cover - runs in the child
    # Linux: have the kernel send SIGTERM to the driver if the server dies, so
    # no driver outlives a server killed with SIGKILL.
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _DriverInput:
    """The element stream from a driver process or a remote server, routed as it completes."""

    def __init__(self, server: IPyServer, side: _DriverSide) -> None:
        self.server = server
        self.side = side
        self.stream = ElementStream(
            max_element=server.max_element, max_blob_element=server.max_blob_element
        )

    def feed(self, data: bytes) -> None:
        stream = self.stream
        server = self.server
        side = self.side
        stream.feed(data)
        while True:
            try:
                item = stream.next_element()
                if item is None:
                    return
                if (
                    type(item) is PlainVector
                    and item.tag[0] == "s"
                    and server._relay_plain(side, item)
                ):
                    continue
                event = decode_element(item)
            except RemoteProtocolError as exc:
                logger.warning("%s sent bad XML: %s", side.label, exc)
                continue
            server._from_driver(side, event)


class _ExDriverProtocol(asyncio.SubprocessProtocol):
    """The pipes of one run of an executable driver, handled in loop callbacks."""

    def __init__(self, ex: _ExDriver) -> None:
        self.ex = ex
        self.input = _DriverInput(ex.server, ex)
        self.stderr = b""
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 2:
            lines = (self.stderr + data).split(b"\n")
            self.stderr = lines.pop()
            for line in lines:
                logger.info("%s: %s", self.ex.label, line.decode("utf-8", "replace").rstrip())
            if len(self.stderr) > 1 << 16:  # a line without end: log what there is
                logger.info("%s: %s", self.ex.label, self.stderr.decode("utf-8", "replace"))
                self.stderr = b""
            return
        self.input.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stderr:
            logger.info("%s: %s", self.ex.label, self.stderr.decode("utf-8", "replace"))
        if not self.done.done():
            self.done.set_result(None)


class _ExDriver(_DriverSide):
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
        self.restarts = 0

    def deliver(self, event: Event, data: bytes | None) -> None:
        stdin = self.stdin
        if stdin is None or stdin.is_closing():
            return
        if type(event) is GetProperties and event.version is None:
            event = GetProperties(version="1.7", device=event.device, name=event.name)
            data = None
        payload = encode(event) if data is None else data
        if self.debug_enable and logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s RX:: %s", self.label, payload.decode("utf-8", "replace").rstrip())
        stdin.write(payload)
        if stdin.get_write_buffer_size() > self.server.max_client_queue:
            logger.error("%s is not reading its input; restarting it", self.label)
            self._kill(signal.SIGKILL)

    def _kill(self, sig: int) -> None:
        if self.transport is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.transport.get_pid(), sig)

    async def run(self) -> None:
        delay = 1.0
        loop = asyncio.get_running_loop()
        while not self.stopping:
            started = loop.time()
            try:
                await self._run_once()
            except OSError:
                logger.exception("%s could not start", self.label)
            self.server._drop_devices(self)
            if self.stopping:
                return
            if loop.time() - started > 60:
                self.restarts = 0  # it ran a good while: a fresh failure, not a loop
                delay = 1.0
            if self.restarts >= self.max_restarts:
                logger.error("%s: giving up after %d restarts", self.label, self.restarts)
                return
            self.restarts += 1
            logger.warning(
                "%s: restart %d of %d in %.0f s",
                self.label,
                self.restarts,
                self.max_restarts,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _run_once(self) -> None:
        loop = asyncio.get_running_loop()
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


class _Remote(_DriverSide):
    """A link to another INDI server, whose devices this server re-exports."""

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
        writer.write(encode(event) if data is None else data)
        if writer.transport.get_write_buffer_size() > self.server.max_client_queue:
            logger.error("%s is not reading; reconnecting", self.label)
            writer.transport.abort()

    async def run(self) -> None:
        delay = 1.0
        while not self.stopping:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError as exc:
                logger.warning("%s: cannot connect (%s); retry in %.0f s", self.label, exc, delay)
            else:
                delay = 1.0
                await self._serve(reader, writer)
                self.server._drop_devices(self)
                if self.stopping:
                    return
                logger.warning("%s: connection lost; reconnecting in %.0f s", self.label, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        logger.info("%s connected", self.label)
        self.deliver(GetProperties(version="1.7"), None)
        self.deliver(
            EnableBLOB(policy=BLOBPolicy.ALSO if self.blob_enable else BLOBPolicy.NEVER), None
        )
        stream = _DriverInput(self.server, self)
        try:
            while chunk := await reader.read(1 << 16):
                stream.feed(chunk)
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


# -- The server ----------------------------------------------------------------------


class IPyServer:
    """Serve drivers to INDI clients over TCP.

    Args:
        *drivers: in-process IPyDriver objects to serve.
        host: the address to listen on ("0.0.0.0" for every interface).
        port: the TCP port (INDI's is 7624).
        maxconnections: how many clients at once; one more is told so and closed.
        max_client_queue: bytes a client may fall behind before it is dropped.

    Raises:
        ValueError: two drivers serve a device of the same name, or a limit is not positive.
    """

    def __init__(
        self,
        *drivers: IPyDriver,
        host: str = "localhost",
        port: int = 7624,
        maxconnections: int = 5,
        max_client_queue: int = DEFAULT_CLIENT_QUEUE,
    ) -> None:
        if maxconnections < 1:
            raise ValueError(f"maxconnections must be at least 1, not {maxconnections}")
        if max_client_queue < 1:
            raise ValueError(f"max_client_queue must be positive, not {max_client_queue}")
        self.host = host
        self.port = port
        self.maxconnections = maxconnections
        self.max_client_queue = max_client_queue
        self.max_element = 1 << 20
        self.max_blob_element = 64 << 20
        # Gathered output is written once it reaches this size.
        self.flush_size = min(64 << 10, max(max_client_queue // 4, 1))
        self.drivers = list(drivers)
        seen: dict[str, IPyDriver] = {}
        for driver in drivers:
            for name in driver:
                if name in seen:
                    raise ValueError(
                        f"device {name!r} is served by both {type(seen[name]).__name__}"
                        f" and {type(driver).__name__}"
                    )
                seen[name] = driver
        self._exdrivers: list[_ExDriver] = []
        self._remotes: list[_Remote] = []
        self._in_process: list[_InProcess] = []
        self._clients: set[_Client] = set()
        self._owners: dict[str, _DriverSide] = {}
        self._client_watch = _Watchers()
        self._snoop_watch = _Watchers()
        self._stop: asyncio.Event | None = None
        self._stopped = False
        self._duplicates_logged: set[tuple[str, str]] = set()
        self._tcp: asyncio.Server | None = None
        self._driver_tasks: dict[int, asyncio.Task[Any]] = {}  # by id(): drivers are dicts
        # Set once the listening socket is bound (``port`` then holds the real port).
        self.listening = asyncio.Event()

    # -- configuration --

    def add_exdriver(
        self, program: str, *args: str, max_restarts: int = 10, debug_enable: bool = False
    ) -> None:
        """Run an executable INDI driver (indilib simulators, stdio pi_indi drivers, ...).

        It is restarted with growing delays when it exits, at most
        *max_restarts* times in a row (like ``indiserver -r``).
        """
        ex = _ExDriver(self, program, tuple(args), max_restarts)
        ex.debug_enable = debug_enable
        self._exdrivers.append(ex)

    def add_remote(self, host: str, port: int = 7624, blob_enable: bool = False) -> None:
        """Serve the devices of another INDI server too, reconnecting when the link drops."""
        self._remotes.append(_Remote(self, host, port, blob_enable))

    # -- running --

    async def asyncrun(self) -> None:
        """Run until :meth:`shutdown` (or SIGTERM/SIGINT when run in the main thread)."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stopped:
            return
        installed: list[signal.Signals] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, self.shutdown)
                installed.append(sig)
        tasks: list[asyncio.Task[Any]] = []
        for driver in self.drivers:
            self._start_driver(driver)
        runners: list[_ExDriver | _Remote] = [*self._exdrivers, *self._remotes]
        for runner in runners:
            tasks.append(loop.create_task(runner.run()))
        try:
            self._tcp = await self._bind(self.host, self.port)
        except BaseException:
            for driver in self.drivers:
                driver.shutdown()
            for task in [*tasks, *self._driver_tasks.values()]:
                task.cancel()
            await asyncio.gather(*tasks, *self._driver_tasks.values(), return_exceptions=True)
            for sig in installed:
                loop.remove_signal_handler(sig)
            raise
        logger.info("listening on %s:%d", self.host, self.port)
        self.listening.set()
        try:
            await self._stop.wait()
        finally:
            logger.info("shutting down")
            tcp = self._tcp
            tcp.close()
            for client in list(self._clients):
                client.close()
            for driver in self.drivers:
                driver.shutdown()
            await asyncio.gather(*(runner.stop() for runner in runners), return_exceptions=True)
            tasks += self._driver_tasks.values()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await tcp.wait_closed()
            for sig in installed:
                loop.remove_signal_handler(sig)
            self._stopped = True

    async def _bind(self, host: str, port: int) -> asyncio.Server:
        tcp = await asyncio.get_running_loop().create_server(
            lambda: _Client(self), host, port, reuse_address=True
        )
        sockets = list(tcp.sockets)
        self.host = host
        self.port = sockets[0].getsockname()[1] if sockets else port
        return tcp

    def _start_driver(self, driver: IPyDriver) -> _InProcess:
        peer = _InProcess(self, driver)
        self._in_process.append(peer)
        for name in driver:
            self._owners[name] = peer
            peer.devices.add(name)
        self._driver_tasks[id(driver)] = asyncio.get_running_loop().create_task(driver.asyncrun())
        return peer

    @property
    def client_count(self) -> int:
        """How many clients are connected."""
        return len(self._clients)

    async def add_driver(self, driver: IPyDriver) -> None:
        """Serve one more in-process driver while running; its definitions go out at once.

        Clients that asked for every device (or for its devices) get its
        ``def*Vector``s, as if they had asked just now.

        Raises:
            ValueError: one of its devices is already served.
        """
        for name in driver:
            owner = self._owners.get(name)
            if owner is not None:
                raise ValueError(f"device {name!r} is already served by {owner.label}")
        self.drivers.append(driver)
        peer = self._start_driver(driver)
        peer.deliver(GetProperties(version="1.7"), None)

    async def remove_driver(self, driver: IPyDriver, timeout: float = 10.0) -> None:
        """Stop serving an in-process driver; clients get ``delProperty`` for its devices.

        The driver is shut down (its ``shutdown()``), and its task awaited
        for at most *timeout* seconds.
        """
        peer = next((p for p in self._in_process if p.driver is driver), None)
        if driver in self.drivers:
            self.drivers.remove(driver)
        driver.shutdown()
        task = self._driver_tasks.pop(id(driver), None)
        if task is not None:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(task)
            except TimeoutError:
                logger.warning("driver %s did not stop in %.0f s", type(driver).__name__, timeout)
                task.cancel()
            except Exception:
                logger.exception("driver %s failed while stopping", type(driver).__name__)
        if peer is not None:
            self._in_process.remove(peer)
            self._snoop_watch.remove(peer, peer.snoop)
            self._drop_devices(peer)

    async def listen(self, host: str, port: int) -> None:
        """Listen on another address; connected clients stay connected.

        If the new address cannot be bound, the old one is kept (and the
        reason logged).
        """
        old = self._tcp
        try:
            self._tcp = await self._bind(host, port)
        except OSError as exc:
            failure: OSError | None = exc
        else:
            failure = None
        if failure is not None:
            logger.error(
                "cannot listen on %s:%d (%s); still on %s:%d",
                host,
                port,
                failure,
                self.host,
                self.port,
            )
            return
        logger.info("now listening on %s:%d", self.host, self.port)
        if old is not None:
            old.close()

    def shutdown(self) -> None:
        """Stop the server: stop listening, stop every driver, close every client."""
        self._stopped = True
        if self._stop is not None:
            self._stop.set()

    async def send_message(self, message: str, timestamp: datetime | None = None) -> None:
        """Send a site-wide ``<message>`` to every client."""
        data = encode(Message(timestamp=timestamp or _now(), message=message))
        for client in list(self._clients):
            client.write(data)

    # -- clients --

    def _accept(self, client: _Client) -> bool:
        if len(self._clients) >= self.maxconnections:
            return False
        self._clients.add(client)
        return True

    def _forget_client(self, client: _Client) -> None:
        if client in self._clients:
            self._clients.discard(client)
            self._client_watch.remove(client, client.interest)

    def _from_client(self, client: _Client, event: Event) -> None:
        kind = type(event)
        if kind in _NEW_KINDS:
            self._new_from_client(client, event)  # type: ignore[arg-type]
            return
        if kind is PingRequest:
            client.send(PingReply(uid=event.uid))  # type: ignore[union-attr]
            return
        if kind is GetProperties:
            assert isinstance(event, GetProperties)  # noqa: S101
            self._client_watch.add(client, client.interest, event.device, event.name)
            if event.version is None:
                # libindi drivers exit on a getProperties without version.
                event = GetProperties(version="1.7", device=event.device, name=event.name)
            self._to_drivers(event, None)
            return
        if kind is EnableBLOB:
            # The Connection has recorded the choice; it also shows interest.
            device = event.device  # type: ignore[union-attr]
            if device is not None:
                self._client_watch.add(client, client.interest, device, None)
            return
        if kind is PingReply:
            return
        # set/def/del/message from a client: a downstream server relaying; only
        # snoopers care (indiserver does the same for set*).
        self._to_snoopers(None, event, None)

    def _new_from_client(
        self,
        client: _Client,
        event: NewSwitchVector | NewTextVector | NewNumberVector | NewBLOBVector,
    ) -> None:
        device, name = event.device, event.name
        owner = self._owners.get(device)
        if owner is None:
            logger.info("%s: no driver serves %r", client.label, device)
            return
        # indiserver echoes new* to the other clients watching the property.
        # First, since an idle in-process driver answers within deliver().
        data: bytes | None = None
        for other in self._client_watch.of(device, name):
            if other is not client and other.conn.blob_policy.wants(event):
                if data is None:
                    data = encode(event)
                other.write(data)
        owner.deliver(event, data)
        if type(owner) is _InProcess:
            owner.throttle(client)

    # -- drivers --

    def _to_drivers(self, event: GetProperties, origin: _DriverSide | None) -> None:
        data = encode(event)
        if event.device is None:
            for side in self._driver_sides():
                if side is not origin:
                    side.deliver(event, data)
            return
        owner = self._owners.get(event.device)
        if owner is not None:
            if owner is not origin:
                owner.deliver(event, data)
        else:
            # Not known yet: a remote server may serve it.
            for remote in self._remotes:
                if remote is not origin:
                    remote.deliver(event, data)

    def _driver_sides(self) -> Iterable[_DriverSide]:
        yield from self._in_process
        yield from self._exdrivers
        yield from self._remotes

    def _from_driver(self, side: _DriverSide, event: Event) -> None:
        if self._stopped:
            return
        kind = type(event)
        if side.debug_enable and logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s TX:: %s", side.label, encode(event).decode("utf-8", "replace").rstrip()
            )
        if kind in _PLAIN_SET:
            self._set_from_driver(side, event)  # type: ignore[arg-type]
            return
        if kind is GetProperties:
            assert isinstance(event, GetProperties)  # noqa: S101
            self._snoop_watch.add(side, side.snoop, event.device, event.name)
            self._to_drivers(event, side)
            return
        if kind is EnableBLOB:
            side.snoop_blobs.update(event)  # type: ignore[arg-type]
            return
        if kind is PingRequest:
            side.deliver(PingReply(uid=event.uid), None)  # type: ignore[union-attr]
            return
        if kind is PingReply:
            return
        if isinstance(event, _NEW):
            owner = self._owners.get(event.device)
            if owner is not None and owner is not side:
                owner.deliver(event, None)
            return
        device: str | None = getattr(event, "device", None)
        if device is not None and not self._claim(side, device):
            return
        name: str | None = getattr(event, "name", None)
        data = encode(event)
        for client in self._client_watch.of(device, name) if device else self._clients:
            if client.conn.blob_policy.wants(event):
                client.write(data)
        self._to_snoopers(side, event, data)

    def _set_from_driver(
        self,
        side: _DriverSide,
        event: SetNumberVector | SetSwitchVector | SetTextVector | SetLightVector,
    ) -> None:
        # The commonest message of all, by the shortest path: no BLOBs, so
        # only a client's device-level Only policy can keep it from the client.
        device, name = event.device, event.name
        if self._owners.get(device) is not side and not self._claim(side, device):
            return
        data = encode(event)
        for client in self._client_watch.of(device, name):
            if client.conn.blob_policy.wants_plain(device):
                client.write(data)
        snoop = self._snoop_watch
        if snoop.all or snoop.devices or snoop.props:
            self._to_snoopers(side, event, data)

    def _claim(self, side: _DriverSide, device: str) -> bool:
        """Record that *side* serves *device*; False if another driver already does."""
        owner = self._owners.get(device)
        if owner is side:
            return True
        if owner is None:
            self._owners[device] = side
            side.devices.add(device)
            return True
        key = (side.label, device)
        if key not in self._duplicates_logged:
            self._duplicates_logged.add(key)
            logger.error(
                "%s also defines device %r, already served by %s; ignoring it",
                side.label,
                device,
                owner.label,
            )
        return False

    def _relay_plain(self, side: _DriverSide, item: PlainVector) -> bool:
        """Pass a plain set vector from a driver process on as its own bytes.

        The commonest message of all, relayed without building an event and
        encoding it again: checked as decoding would check it, then its text is
        written to the clients that watch it. Returns False when the full path
        is needed (a snooping driver wants it as an event, or XML is logged).
        """
        if self._stopped:
            return True
        device = item.attrs.get("device")
        name = item.attrs.get("name")
        if device is None or side.debug_enable or self._snoop_watch.of(device, name):
            return False
        try:
            check_plain(item)
        except RemoteProtocolError as exc:
            logger.warning("%s sent an invalid element: %s", side.label, exc)
            return True
        if not self._claim(side, device):
            return True
        data = (item.raw + "\n").encode()
        for client in self._client_watch.of(device, name):
            if client.conn.blob_policy.wants_plain(device):
                client.write(data)
        return True

    def _to_snoopers(self, origin: _DriverSide | None, event: Event, data: bytes | None) -> None:
        device: str | None = getattr(event, "device", None)
        name: str | None = getattr(event, "name", None)
        for side in self._snoop_watch.of(device, name):
            if side is not origin and side.wants_snooped(event):
                side.deliver(event, data)

    def _drop_devices(self, side: _DriverSide) -> None:
        """A driver went away: its devices are gone for the clients too."""
        for device in sorted(side.devices):
            if self._owners.get(device) is side:
                del self._owners[device]
                event = DelProperty(device=device, timestamp=_now())
                data = encode(event)
                for client in self._client_watch.of(device, None):
                    client.write(data)
                self._to_snoopers(side, event, data)
        side.devices.clear()
