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

INDI has no authentication, so what the server can do is limit who reaches it
and what they can cost it (docs/security.md): an allow list of networks,
checked before anything is read; connections per address per minute; the
number of clients; the size of what a client may send; how far a client may
fall behind; devices no client may change; and executable drivers that flood
or write garbage are cut off and restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import logging
import os
import signal
import socket
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pi_indi import _logger
from pi_indi.driver import DriverLink, IPyDriver
from pi_indi.errors import RemoteProtocolError
from pi_indi.protocol import (
    ANY,
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
    request_scope,
)

__all__ = ["IPyServer"]

# Also under indipyserver's name: a ported script's logging set-up catches it.
logger = _logger(__name__, "indipyserver.ipyserver")

_NEW = (NewSwitchVector, NewTextVector, NewNumberVector, NewBLOBVector)
_NEW_KINDS = frozenset(_NEW)
_TAGS: dict[type, str] = {
    NewSwitchVector: "newSwitchVector",
    NewTextVector: "newTextVector",
    NewNumberVector: "newNumberVector",
    NewBLOBVector: "newBLOBVector",
}
# What drivers send most: routed by _from_driver's short path.
_PLAIN_SET = frozenset((SetNumberVector, SetSwitchVector, SetTextVector, SetLightVector))

# indiserver's default for -m: clients more than this far behind are dropped.
DEFAULT_CLIENT_QUEUE = 128 << 20
# The largest element a client may send (BLOB vectors aside), and BLOB vector.
DEFAULT_MAX_ELEMENT = 1 << 20
DEFAULT_MAX_BLOB_ELEMENT = 64 << 20
# What drivers send (executables, remote servers) is held to these; a camera
# driver's BLOBs are the largest legitimate elements.
_DRIVER_MAX_ELEMENT = 1 << 20
_DRIVER_MAX_BLOB_ELEMENT = 64 << 20
# An executable driver is cut off after this many malformed elements in a row,
# or this many bytes of garbage since its last good element...
DEFAULT_EXDRIVER_MAX_BAD_XML = 32
DEFAULT_EXDRIVER_MAX_GARBAGE = 1 << 20
# ... or when its output pipe has been full at every read for this long: it
# writes faster than the server can take its output and pass it on.
DEFAULT_EXDRIVER_FLOOD_SECONDS = 30.0
_PIPE_SIZE = 1 << 16  # Linux's default; asked of the pipe where possible
# Refusals of one address for one reason are logged at most once per this many
# seconds (the next line says how many were not).
_REFUSAL_LOG_INTERVAL = 10.0
# Requests queued for one driver before the clients sending them are paused.
_DRIVER_INBOX_HIGH = 1024
_DRIVER_INBOX_LOW = 256


def _now() -> datetime:
    now = datetime.now(UTC)
    return datetime.combine(now.date(), now.time())  # naive UTC; cheaper than replace()


def _scoped(event: GetProperties) -> GetProperties:
    """*event* as drivers and remote servers are sent it: ``*`` read as "every", a version.

    ``device="*"`` is every device, whatever the name (indiserver sends it on
    to every driver, and libindi drivers answer it with all their
    properties); ``name="*"`` every property. Drivers get a device-less
    request instead, which every driver understands. A request without
    version gets "1.7": libindi drivers exit on one without.
    """
    device, name = request_scope(event.device, event.name)
    if device is None:
        name = None
    if device == event.device and name == event.name and event.version is not None:
        return event
    version = event.version if event.version is not None else "1.7"
    return GetProperties(version=version, device=device, name=name)


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


# -- Access --------------------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _peer_ip(peer: Any) -> IPAddress | None:
    """The address of a TCP peer; an IPv4-mapped IPv6 address as its IPv4 address."""
    try:
        ip = ipaddress.ip_address(peer[0])
    except (TypeError, ValueError, IndexError):
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # A dual-stack socket reports 192.168.1.5 as ::ffff:192.168.1.5.
        return ip.ipv4_mapped
    return ip


def parse_networks(networks: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    """Networks from CIDR strings ("192.168.0.0/16", "::1/128"; a bare address is one host).

    Raises:
        ValueError: one is not a network, or has host bits set ("192.168.1.5/24").
    """
    return tuple(
        n
        if isinstance(n, (ipaddress.IPv4Network, ipaddress.IPv6Network))
        else ipaddress.ip_network(n)
        for n in networks
    )


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _RateLimit:
    """Connections let in per address over the last minute (a sliding window)."""

    WINDOW = 60.0

    def __init__(self) -> None:
        self.seen: dict[str, deque[float]] = {}

    def allows(self, key: str, limit: int, now: float) -> bool:
        stamps = self.seen.get(key)
        if stamps is None:
            return True
        while stamps and now - stamps[0] >= self.WINDOW:
            stamps.popleft()
        return len(stamps) < limit

    def record(self, key: str, now: float) -> None:
        stamps = self.seen.get(key)
        if stamps is None:
            if len(self.seen) >= 1024:
                self._prune(now)
            stamps = self.seen[key] = deque()
        stamps.append(now)

    def _prune(self, now: float) -> None:
        for key in [k for k, v in self.seen.items() if not v or now - v[-1] >= self.WINDOW]:
            del self.seen[key]


class _RefusalLog:
    """Refusals of one address for one reason: logged at most once per interval."""

    def __init__(self) -> None:
        # (address, reason) -> [time last logged, refusals not logged since]
        self.last: dict[tuple[str, str], list[float]] = {}

    def due(self, key: tuple[str, str], now: float) -> int | None:
        """None: do not log this one; else how many went unlogged before it."""
        entry = self.last.get(key)
        if entry is not None and now - entry[0] < _REFUSAL_LOG_INTERVAL:
            entry[1] += 1
            return None
        if entry is None and len(self.last) >= 1024:
            for old in [k for k, v in self.last.items() if now - v[0] >= _REFUSAL_LOG_INTERVAL]:
                del self.last[old]
        self.last[key] = [now, 0]
        return int(entry[1]) if entry is not None else 0


# -- Clients -------------------------------------------------------------------------


class _Client(asyncio.Protocol):
    """One TCP client."""

    # Made once the client is let in: a refused one costs no parser.
    conn: Connection

    def __init__(self, server: IPyServer) -> None:
        self.server = server
        self.interest = _Interest()
        self.transport: asyncio.Transport | None = None
        self.label = "client"
        self.ip: IPAddress | None = None
        self.admitted = False
        self.closed = False
        self.draining = False
        # A chained server (it named device "*", as indiserver's "@host:port"
        # remote does): it is sent the drivers' snoop requests too.
        self.chained = False
        # Messages gathered during this loop iteration (None: nothing sent yet).
        self.pending: list[bytes] | None = None
        self.pending_size = 0
        # Loop time of the last write to it (for the keepalive).
        self.last_write = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.label = f"client {_host_port(peer[0], peer[1])}" if peer else "client"
        self.ip = _peer_ip(peer)
        server = self.server
        refusal = server._admit(self)
        if refusal is not None:
            # Closed before anything is read from it; told why in one message.
            transport.write(encode(Message(timestamp=_now(), message=f"[ERROR] {refusal}")))
            self.closed = True
            transport.close()
            return
        self.conn = Connection(
            max_element=server.max_element, max_blob_element=server.max_blob_element
        )
        self.admitted = True
        self.last_write = asyncio.get_running_loop().time()
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
            loop = asyncio.get_running_loop()
            self.last_write = loop.time()
            loop.call_soon(self._flush)
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
        if not self.admitted:
            return
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

    def cut_off(self, reason: str) -> None:
        """Stop listening to a peer that misbehaves (executable drivers only)."""

    def pause(self) -> None:
        """Stop reading from this peer for a while (what it sends waits)."""

    def resume(self) -> None:
        """Read from this peer again."""


class _InProcess(_DriverSide, DriverLink):
    """An IPyDriver running inside the server; also its DriverLink."""

    def __init__(self, server: IPyServer, driver: IPyDriver) -> None:
        super().__init__(server, f"driver {type(driver).__name__}")
        self.driver = driver
        self.inbox: deque[Event] = deque()
        self.wakeup = asyncio.Event()
        self.paused: set[_Client | _DriverSide] = set()
        # Snooped BLOBs come without asking, as under indipyserver (whose
        # drivers have no way to ask); send_enableBLOB("Never", ...) stops them.
        self.snoop_blobs.update(EnableBLOB(policy=BLOBPolicy.ALSO))
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
                for peer in self.paused:
                    peer.resume()
                self.paused.clear()

    def deliver(self, event: Event, data: bytes | None) -> None:
        # Straight to the driver (handled at once when it is idle) when
        # nothing is waiting here before it.
        if not self.inbox and self.driver._offer(event):
            return
        self.inbox.append(event)
        self.wakeup.set()

    def throttle(self, peer: _Client | _DriverSide) -> None:
        # A client (or an executable driver) flooding this driver with
        # requests waits until the driver catches up.
        if len(self.inbox) > _DRIVER_INBOX_HIGH and peer not in self.paused:
            self.paused.add(peer)
            peer.pause()


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


class _DriverInput:
    """The element stream from a driver process or a remote server, routed as it completes.

    With *guard*, a peer that writes garbage is cut off (``side.cut_off``):
    ``exdriver_max_bad_xml`` malformed elements in a row, or more than
    ``exdriver_max_garbage`` bytes that were no element at all, since its last
    good element. Well-formed elements that break INDI's rules (a number that
    is not one) are logged and skipped, as before: a driver with a bug is not
    a driver writing garbage.
    """

    def __init__(self, server: IPyServer, side: _DriverSide, *, guard: bool = False) -> None:
        self.server = server
        self.side = side
        self.stream = ElementStream(
            max_element=_DRIVER_MAX_ELEMENT, max_blob_element=_DRIVER_MAX_BLOB_ELEMENT
        )
        self.guard = guard
        self.bad_run = 0  # malformed elements since the last good one
        self.skipped_at_good = 0  # the stream's garbage count at the last good element

    def feed(self, data: bytes) -> None:
        stream = self.stream
        server = self.server
        side = self.side
        stream.feed(data)
        run = self.bad_run
        good = False
        while True:
            try:
                item = stream.next_element()
                if item is None:
                    break
                if (
                    type(item) is PlainVector
                    and item.tag[0] == "s"
                    and server._relay_plain(side, item)
                ):
                    good = True
                    run = 0
                    continue
                event = decode_element(item)
            except RemoteProtocolError as exc:
                logger.warning("%s sent bad XML: %s", side.label, exc)
                if not exc.well_formed:
                    run += 1
                    if self.guard and run >= server.exdriver_max_bad_xml:
                        side.cut_off(f"wrote {run} malformed elements in a row")
                        return
                continue
            good = True
            run = 0
            server._from_driver(side, event)
        self.bad_run = run
        if good:
            self.skipped_at_good = stream.skipped
        elif self.guard:
            garbage = stream.skipped - self.skipped_at_good
            if garbage > server.exdriver_max_garbage:
                side.cut_off(f"wrote {garbage} bytes of garbage since its last good element")


# An executable driver's stderr is logged up to this many lines per window.
_STDERR_LINES = 200
_STDERR_WINDOW = 10.0


class _ExDriverProtocol(asyncio.SubprocessProtocol):
    """The pipes of one run of an executable driver, handled in loop callbacks.

    A driver that writes faster than the server can take it fills its output
    pipe and blocks in write(); each read then finds the pipe full. Reads that
    find it full for ``exdriver_flood_seconds`` without a break mean a driver
    flooding the server, and it is cut off. A burst (a large BLOB, a benchmark)
    ends well before that.
    """

    def __init__(self, ex: _ExDriver) -> None:
        self.ex = ex
        self.input = _DriverInput(ex.server, ex, guard=True)
        self.stderr = b""
        self.stderr_window = 0.0
        self.stderr_lines = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.cut = False  # cut off: whatever it still sends is thrown away
        # A read this large found the pipe full (to within a page: the
        # kernel fills the pipe a page at a time, not always to the byte).
        self.full = _PIPE_SIZE - 4096
        self.full_since: float | None = None

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
                self.ex.cut_off(f"has written faster than the server takes it for {seconds:.0f} s")
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
                logger.info("%s: %s", self.ex.label, line.decode("utf-8", "replace").rstrip())

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

    def cut_off(self, reason: str) -> None:
        """Kill a driver that floods or writes garbage; it is restarted as if it had exited."""
        protocol = self.protocol
        if protocol is None or protocol.cut:
            return
        protocol.cut = True
        logger.error(
            "%s %s; cutting it off (its process group is killed) and restarting it",
            self.label,
            reason,
        )
        self._kill(signal.SIGKILL)
        # Its devices are gone for the clients now, not when the process is reaped.
        self.server._drop_devices(self)

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
        payload = encode(event) if data is None else data
        if self.debug_enable and logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s RX:: %s", self.label, payload.decode("utf-8", "replace").rstrip())
        writer.write(payload)
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
        bind: addresses to listen on, all on *port*; when given, *host* is not
            used (``bind=["127.0.0.1", "192.168.1.20"]``).
        allow: the networks clients may connect from, as CIDR strings
            (``"192.168.0.0/16"``, ``"::1/128"``) or ``ipaddress`` networks;
            a client from elsewhere is told so and closed before anything is
            read from it. An IPv4-mapped IPv6 address (``::ffff:10.0.0.5``) is
            matched as its IPv4 address. None (the default) lets everyone in,
            as indiserver does.
        readonly_devices: device names no client may change: every
            ``new*Vector`` for them is refused with a ``<message>`` and never
            reaches the driver. Clients still see them. Works for in-process,
            executable and remote drivers alike.
        max_connections_per_minute: connections one address may open in any
            60 s; more are told so and closed. None: no limit.
        max_element: the largest element a client may send, in bytes (BLOB
            vectors aside); a larger one closes that client.
        max_blob_element: the largest BLOB vector a client may send, in bytes.
        exdriver_max_bad_xml: an executable driver that writes this many
            malformed elements in a row is cut off and restarted.
        exdriver_max_garbage: ... or this many bytes that are no element at
            all since its last good element.
        exdriver_flood_seconds: ... or that writes faster than the server can
            take its output for this long without a break.

    Raises:
        ValueError: two drivers serve a device of the same name, a limit is not
            positive, or an ``allow`` entry is not a network.
    """

    def __init__(
        self,
        *drivers: IPyDriver,
        host: str = "localhost",
        port: int = 7624,
        maxconnections: int = 5,
        max_client_queue: int = DEFAULT_CLIENT_QUEUE,
        bind: Sequence[str] = (),
        allow: Iterable[str | IPNetwork] | None = None,
        readonly_devices: Iterable[str] = (),
        max_connections_per_minute: int | None = None,
        max_element: int = DEFAULT_MAX_ELEMENT,
        max_blob_element: int = DEFAULT_MAX_BLOB_ELEMENT,
        exdriver_max_bad_xml: int = DEFAULT_EXDRIVER_MAX_BAD_XML,
        exdriver_max_garbage: int = DEFAULT_EXDRIVER_MAX_GARBAGE,
        exdriver_flood_seconds: float = DEFAULT_EXDRIVER_FLOOD_SECONDS,
    ) -> None:
        if maxconnections < 1:
            raise ValueError(f"maxconnections must be at least 1, not {maxconnections}")
        for name, value in (
            ("max_client_queue", max_client_queue),
            ("max_element", max_element),
            ("max_blob_element", max_blob_element),
            ("exdriver_max_bad_xml", exdriver_max_bad_xml),
            ("exdriver_max_garbage", exdriver_max_garbage),
            ("exdriver_flood_seconds", exdriver_flood_seconds),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive, not {value}")
        if max_connections_per_minute is not None and max_connections_per_minute < 1:
            raise ValueError(
                "max_connections_per_minute must be at least 1 (or None for no limit),"
                f" not {max_connections_per_minute}"
            )
        self.host = host
        self.port = port
        self.bind: tuple[str, ...] = (bind,) if isinstance(bind, str) else tuple(bind)
        self.maxconnections = maxconnections
        self.max_client_queue = max_client_queue
        self._allow: tuple[IPNetwork, ...] | None = None if allow is None else parse_networks(allow)
        self.readonly_devices: set[str] = set(readonly_devices)
        self.max_connections_per_minute = max_connections_per_minute
        self.max_element = max_element
        self.max_blob_element = max_blob_element
        self.exdriver_max_bad_xml = exdriver_max_bad_xml
        self.exdriver_max_garbage = exdriver_max_garbage
        self.exdriver_flood_seconds = exdriver_flood_seconds
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
        # One listening server per address, in the order asked for.
        self._tcp: dict[str, asyncio.Server] = {}
        self._rate = _RateLimit()
        self._refusals = _RefusalLog()
        self._driver_tasks: dict[int, asyncio.Task[Any]] = {}  # by id(): drivers are dicts
        # Set once the listening socket is bound (``port`` then holds the real port).
        self.listening = asyncio.Event()
        #: Set when :meth:`asyncrun` has finished (``await server.stopped.wait()``).
        self.stopped = asyncio.Event()
        self._keepalive: float = 30  # an int, as indipyserver has it
        self._keepalive_changed = asyncio.Event()

    @property
    def max_client_queue(self) -> int:
        """Bytes a client may fall behind before it is dropped."""
        return self._max_client_queue

    @max_client_queue.setter
    def max_client_queue(self, value: int) -> None:
        self._max_client_queue = value
        # Gathered output is written once it reaches this size.
        self.flush_size = min(64 << 10, max(value // 4, 1))

    @property
    def allow(self) -> tuple[IPNetwork, ...] | None:
        """The networks clients may connect from (None: any).

        Setting it while running also closes the clients already connected
        from an address it no longer allows.
        """
        return self._allow

    @allow.setter
    def allow(self, networks: Iterable[str | IPNetwork] | None) -> None:
        self._allow = None if networks is None else parse_networks(networks)
        for client in list(self._clients):
            if not self._allowed(client.ip):
                logger.warning("%s: its address is no longer allowed; closing it", client.label)
                client.close()

    @property
    def addresses(self) -> list[str]:
        """Where the server listens (or will), as ``host:port`` strings."""
        hosts = list(self._tcp) or list(self.bind or (self.host,))
        return [_host_port(host, self.port) for host in hosts]

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

    def add_remote(
        self, host: str, port: int = 7624, blob_enable: bool = False, debug_enable: bool = False
    ) -> None:
        """Serve the devices of another INDI server too, reconnecting when the link drops.

        Args:
            host: the other server's address.
            port: its port.
            blob_enable: ask it for BLOBs (``enableBLOB Also``), so that its
                BLOBs reach the clients that want them and the in-process
                drivers that snoop on its devices. False asks for none
                (``Never``): no BLOB comes over the link.
            debug_enable: log, at DEBUG on ``pi_indi.server``, the XML that
                crosses the link both ways (``remote HOST:PORT RX::`` what we
                send it, ``TX::`` what it sends), as indipyserver does.
        """
        remote = _Remote(self, host, port, blob_enable)
        remote.debug_enable = debug_enable
        self._remotes.append(remote)

    # -- running --

    async def asyncrun(self) -> None:
        """Run until :meth:`shutdown`, or SIGTERM when run in the main thread.

        SIGINT (Ctrl-C) is left to whoever runs the loop, as indipyserver
        leaves it: under ``asyncio.run()`` the main task is cancelled, this
        server closes everything as it unwinds, and ``asyncio.run()`` raises
        ``KeyboardInterrupt``, so a script's ``except KeyboardInterrupt:``
        runs, and tasks gathered with the server end with it.
        """
        try:
            await self._run()
        finally:
            self._stopped = True
            self.stopped.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stopped:
            return
        installed: list[signal.Signals] = []
        # Not SIGINT: a handler here would swallow the KeyboardInterrupt that
        # asyncio.run() raises for it, and the script around the server
        # would neither stop nor see it.
        for sig in (signal.SIGTERM,):
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
            hosts = tuple(dict.fromkeys(self.bind or (self.host,)))
            self._tcp, self.port = await self._bind(hosts, self.port)
            self.host = hosts[0]
        except BaseException:
            for driver in self.drivers:
                driver.shutdown()
            for task in [*tasks, *self._driver_tasks.values()]:
                task.cancel()
            await asyncio.gather(*tasks, *self._driver_tasks.values(), return_exceptions=True)
            for sig in installed:
                loop.remove_signal_handler(sig)
            raise
        logger.info("listening on %s", ", ".join(self.addresses))
        self.listening.set()
        tasks.append(loop.create_task(self._send_keepalives()))
        try:
            await self._stop.wait()
        finally:
            logger.info("shutting down")
            listening = list(self._tcp.values())
            for tcp in listening:
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
            for tcp in listening:
                with contextlib.suppress(Exception):
                    await tcp.wait_closed()
            for sig in installed:
                loop.remove_signal_handler(sig)
            self._stopped = True

    async def _bind(self, hosts: Sequence[str], port: int) -> tuple[dict[str, asyncio.Server], int]:
        """Listen on every one of *hosts*, all on one port (with port 0, the first one's)."""
        loop = asyncio.get_running_loop()
        bound: dict[str, asyncio.Server] = {}
        try:
            for host in hosts:
                tcp = await loop.create_server(
                    lambda: _Client(self), host, port, reuse_address=True
                )
                bound[host] = tcp
                if port == 0 and tcp.sockets:
                    port = tcp.sockets[0].getsockname()[1]
        except BaseException:
            for tcp in bound.values():
                tcp.close()
            raise
        return bound, port

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
            # Clients it was holding back must not wait for it any longer.
            for client in peer.paused:
                client.resume()
            peer.paused.clear()
            self._in_process.remove(peer)
            self._snoop_watch.remove(peer, peer.snoop)
            self._drop_devices(peer)

    async def listen(self, host: str, port: int, *, bind: Sequence[str] = ()) -> bool:
        """Listen on other addresses; connected clients stay connected.

        With *bind*, on each of its addresses (and *host* is not used). An
        address listened on already, on the same port, is kept as it is. If a
        new address cannot be bound, the old ones are listened on again (and
        the reason logged), and False is returned.
        """
        hosts = tuple(dict.fromkeys(bind)) or (host,)
        old = self._tcp
        old_port = self.port
        kept = {h: old[h] for h in hosts if h in old and port == old_port}
        # Close what is replaced first: "0.0.0.0:7624" holds the port that
        # "127.0.0.1:7624" needs. Clients already connected are not touched.
        dropped = [h for h, tcp in old.items() if kept.get(h) is not tcp]
        for h in dropped:
            old[h].close()
        try:
            bound, port = await self._bind([h for h in hosts if h not in kept], port)
        except OSError as exc:
            failure: OSError | None = exc
        else:
            failure = None
        if failure is not None:
            try:
                again, _ = await self._bind(dropped, old_port)
            except OSError as exc:
                again = {}
                logger.critical("cannot listen on the old addresses again either: %s", exc)
            self._tcp = {**kept, **again}
            logger.error(
                "cannot listen on %s (%s); still on %s",
                ", ".join(_host_port(h, port) for h in hosts),
                failure,
                ", ".join(self.addresses),
            )
            return False
        self._tcp = {h: kept[h] if h in kept else bound[h] for h in hosts}
        self.host = hosts[0]
        self.bind = tuple(bind)
        self.port = port
        logger.info("now listening on %s", ", ".join(self.addresses))
        return True

    def shutdown(self, shutdownmessage: str = "") -> None:
        """Stop the server: stop listening, stop every driver, close every client.

        Args:
            shutdownmessage: why, logged at ERROR when given (as indipyserver
                logs it).
        """
        if shutdownmessage:
            logger.error("%s", shutdownmessage)
        self._stopped = True
        if self._stop is not None:
            self._stop.set()

    @property
    def stop(self) -> bool:
        """True once :meth:`shutdown` has been called or the server has stopped."""
        return self._stopped

    @property
    def keepalive(self) -> float:
        """Seconds of silence after which a client is sent a keep-alive message.

        A client that has been sent nothing for this long gets
        ``<message message="Keep alive message"/>``, so that clients which
        drop a silent server (indipyclient does, 40 s after its last request)
        stay connected. 0 turns it off. As in indipyserver, it is 30.
        """
        return self._keepalive

    @keepalive.setter
    def keepalive(self, seconds: float) -> None:
        if not seconds >= 0:
            raise ValueError(f"keepalive must be 0 (off) or a number of seconds, not {seconds}")
        self._keepalive = seconds
        self._keepalive_changed.set()

    async def _send_keepalives(self) -> None:
        # Sleeps until the quietest client is due; no periodic tick.
        loop = asyncio.get_running_loop()
        changed = self._keepalive_changed
        while True:
            period = self._keepalive
            wait: float | None = None
            if period > 0:
                now = loop.time()
                wait = period
                due = []
                for client in self._clients:
                    quiet = now - client.last_write
                    if quiet >= period:
                        due.append(client)
                    else:
                        wait = min(wait, period - quiet)
                if due:
                    data = encode(Message(timestamp=_now(), message="Keep alive message"))
                    for client in due:
                        client.write(data)
            changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await changed.wait()

    async def send_message(self, message: str, timestamp: datetime | None = None) -> None:
        """Send a site-wide ``<message>`` to every client."""
        data = encode(Message(timestamp=timestamp or _now(), message=message))
        for client in list(self._clients):
            client.write(data)

    # -- clients --

    def _allowed(self, ip: IPAddress | None) -> bool:
        allow = self._allow
        if allow is None:
            return True
        return ip is not None and any(ip in network for network in allow)

    def _admit(self, client: _Client) -> str | None:
        """Let a new client in, or say why not (and log it): access, rate, then room."""
        ip = client.ip
        key = str(ip) if ip is not None else client.label
        now = asyncio.get_running_loop().time()
        limit = self.max_connections_per_minute
        if not self._allowed(ip):
            self._log_refusal(client, key, "not allowed", "its address is not in the allow list")
            return f"connections from {key} are not allowed here"
        if limit is not None and not self._rate.allows(key, limit, now):
            self._log_refusal(
                client, key, "rate", f"over {limit} connections from {key} in a minute"
            )
            return f"more than {limit} connections a minute from {key}; try again later"
        if len(self._clients) >= self.maxconnections:
            self._log_refusal(client, key, "full", f"{self.maxconnections} connections already")
            return f"this server takes at most {self.maxconnections} clients; try again later"
        if limit is not None:
            self._rate.record(key, now)
        self._clients.add(client)
        return None

    def _log_refusal(self, client: _Client, key: str, kind: str, why: str) -> None:
        unlogged = self._refusals.due((key, kind), asyncio.get_running_loop().time())
        if unlogged is None:
            return
        logger.warning(
            "%s refused: %s%s",
            client.label,
            why,
            f" ({unlogged} more refused for this since the last such line)" if unlogged else "",
        )

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
            if event.device == ANY:
                client.chained = True
            event = _scoped(event)
            self._client_watch.add(client, client.interest, event.device, event.name)
            self._to_drivers(event, None)
            return
        if kind is EnableBLOB:
            # The Connection has recorded the choice; it also shows interest
            # (device "*": in everything, as for indiserver's chained servers).
            device: str | None = event.device  # type: ignore[union-attr]
            if device is not None:
                if device == ANY:
                    client.chained = True
                    device = None
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
        if device in self.readonly_devices:
            self._refuse_readonly(client, event)
            return
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

    def _refuse_readonly(
        self,
        client: _Client,
        event: NewSwitchVector | NewTextVector | NewNumberVector | NewBLOBVector,
    ) -> None:
        # Not passed on, not echoed: the driver never sees it, so nothing changes.
        logger.warning(
            "%s: refused <%s> for %s.%s: the device is read-only",
            client.label,
            _TAGS[type(event)],
            event.device,
            event.name,
        )
        client.send(
            Message(
                device=event.device,
                timestamp=_now(),
                message=f"[ERROR] {event.device} is read-only on this server;"
                f" {event.name} was not changed",
            )
        )

    # -- drivers --

    def _to_drivers(self, event: GetProperties, origin: _DriverSide | None) -> None:
        data = encode(event)
        if event.device is None:
            for side in self._driver_sides():
                if side is not origin:
                    side.deliver(event, data)
                    if origin is not None and type(side) is _InProcess:
                        side.throttle(origin)
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

    def _to_servers(self, side: _DriverSide, event: GetProperties) -> None:
        """Send a driver's snoop request down to the servers chained to this one.

        indiserver's q2Servers (called for every getProperties from a driver,
        "Send getProperties to upstream chained servers as well"): a client
        that named device "*" (``allprops == 2``) gets it, and so does one that
        asked for a device of the snooping driver (a chained ``Dev@host``
        server). The chained server then snoops on our behalf and sends what
        it hears back as a client (see ``_from_client``). Plain clients ignore
        a getProperties from the server (libindi's BaseClient does).
        """
        data: bytes | None = None
        devices = side.devices
        for client in self._clients:
            interest = client.interest
            if client.chained or (
                devices
                and (
                    not devices.isdisjoint(interest.devices)
                    or any(device in devices for device, _ in interest.props)
                )
            ):
                if data is None:
                    data = encode(event)
                client.write(data)

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
            event = _scoped(event)
            self._snoop_watch.add(side, side.snoop, event.device, event.name)
            self._to_servers(side, event)
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
                if type(owner) is _InProcess:
                    owner.throttle(side)
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
