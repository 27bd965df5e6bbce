"""IPyServer: serve drivers to INDI clients over TCP, as indiserver does.

The routing itself is :class:`~pi_indi.server._router.Router`, a pure
object; this module holds the sockets, the processes and the tasks around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pi_indi import _logger
from pi_indi.driver import IPyDriver
from pi_indi.protocol import GetProperties, Message, encode
from pi_indi.server._access import (
    IPAddress,
    IPNetwork,
    RateLimit,
    host_port,
    parse_networks,
)
from pi_indi.server._clients import Client
from pi_indi.server._drivers import ExDriver, InProcess, Remote
from pi_indi.server._router import DEFAULT_MAX_INTEREST, Router, now

__all__ = ["IPyServer"]

# Also under indipyserver's name: a ported script's logging set-up catches it.
logger = _logger("pi_indi.server", "indipyserver.ipyserver")

# indiserver's default for -m: clients more than this far behind are dropped.
DEFAULT_CLIENT_QUEUE = 128 << 20
# The largest element a client may send (BLOB vectors aside), and BLOB vector.
DEFAULT_MAX_ELEMENT = 1 << 20
DEFAULT_MAX_BLOB_ELEMENT = 64 << 20
# An executable driver is cut off after this many malformed elements in a row,
# or this many bytes of garbage since its last good element...
DEFAULT_EXDRIVER_MAX_BAD_XML = 32
DEFAULT_EXDRIVER_MAX_GARBAGE = 1 << 20
# ... or when its output pipe has been full at every read for this long: it
# writes faster than the server can take its output and pass it on.
DEFAULT_EXDRIVER_FLOOD_SECONDS = 30.0
# Reading from a client stops while this much of its output waits to be sent:
# a client that does not read cannot make the server queue replies without end.
DEFAULT_READ_PAUSE = 256 << 10
# A client that has sent no whole element this long after connecting is closed
# (every INDI client starts with getProperties at once).
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
# When the server is full, a client silent this long since it connected makes
# room for a new one.
_SILENT_EVICT = 2.0


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
        max_connections_per_address: the most clients at once from one
            address; one more is told so and closed. None: no limit.
        handshake_timeout: seconds a client may stay connected without
            sending a whole element; then it is told so and closed. When the
            server is full, a client that has sent no whole element for 2 s makes
            room for a new one.
            0: no limit.
        read_pause: bytes of a client's output waiting to be sent at which
            the server stops reading that client until it catches up.
        max_interest: the most devices and properties one client may name in
            ``getProperties``, and in ``enableBLOB``; more are refused.

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
        max_connections_per_address: int | None = None,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        read_pause: int = DEFAULT_READ_PAUSE,
        max_interest: int = DEFAULT_MAX_INTEREST,
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
            ("read_pause", read_pause),
            ("max_interest", max_interest),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive, not {value}")
        if not handshake_timeout >= 0:
            raise ValueError(
                f"handshake_timeout must be 0 (off) or positive, not {handshake_timeout}"
            )
        if max_connections_per_address is not None and max_connections_per_address < 1:
            raise ValueError(
                "max_connections_per_address must be at least 1 (or None for no limit),"
                f" not {max_connections_per_address}"
            )
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
        self.router = Router(readonly_devices=readonly_devices, max_interest=max_interest)
        self.max_connections_per_address = max_connections_per_address
        self.handshake_timeout = handshake_timeout
        self.read_pause_bytes = read_pause
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
        self._exdrivers: list[ExDriver] = []
        self._remotes: list[Remote] = []
        self._in_process: list[InProcess] = []
        self._stop: asyncio.Event | None = None
        self._stopped = False
        # One listening server per address, in the order asked for.
        self._tcp: dict[str, asyncio.Server] = {}
        self.gate = Gate(self)
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
    def readonly_devices(self) -> set[str]:
        """Device names no client may change (see the class's arguments)."""
        return self.router.readonly_devices

    @readonly_devices.setter
    def readonly_devices(self, names: Iterable[str]) -> None:
        self.router.readonly_devices = set(names)

    @property
    def max_interest(self) -> int:
        """The most devices and properties one client may name."""
        return self.router.max_interest

    @max_interest.setter
    def max_interest(self, value: int) -> None:
        self.router.max_interest = value

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
        for client in list(self.clients):
            if not self.gate.allowed(client.ip):
                logger.warning("%s: its address is no longer allowed; closing it", client.label)
                client.close()

    @property
    def clients(self) -> set[Client]:
        """The clients connected now (do not change it)."""
        return self.router.clients  # type: ignore[return-value]

    @property
    def addresses(self) -> list[str]:
        """Where the server listens (or will), as ``host:port`` strings."""
        hosts = list(self._tcp) or list(self.bind or (self.host,))
        return [host_port(host, self.port) for host in hosts]

    # -- configuration --

    def add_exdriver(
        self, program: str, *args: str, max_restarts: int = 10, debug_enable: bool = False
    ) -> None:
        """Run an executable INDI driver (indilib simulators, stdio pi_indi drivers, ...).

        It is restarted with growing delays when it exits, at most
        *max_restarts* times in a row (like ``indiserver -r``).
        """
        ex = ExDriver(self, program, tuple(args), max_restarts)
        ex.debug_enable = debug_enable
        self._exdrivers.append(ex)
        self.router.add_side(ex)

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
        remote = Remote(self, host, port, blob_enable)
        remote.debug_enable = debug_enable
        self._remotes.append(remote)
        self.router.add_side(remote)

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
        runners: list[ExDriver | Remote] = [*self._exdrivers, *self._remotes]
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
            self.router.stopped = True
            for tcp in listening:
                tcp.close()
            for client in list(self.clients):
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

    async def _bind(
        self, hosts: Sequence[str], port: int, alongside: Sequence[str] = ()
    ) -> tuple[dict[str, asyncio.Server], int]:
        """Listen on every one of *hosts*, all on one port (with port 0, the first one's).

        *alongside*: every address the server will listen on, these included.
        """
        loop = asyncio.get_running_loop()
        bound: dict[str, asyncio.Server] = {}
        # "::" alone is every address, IPv4 too, as it is for indiserver
        # (asyncio makes it IPv6 only); next to an IPv4 address, which the
        # dual-stack socket would already hold, it stays IPv6 only.
        ipv4 = any(":" not in host for host in (*alongside, *hosts))
        try:
            for host in hosts:
                dual = _dual_stack_socket(port) if host == "::" and not ipv4 else None
                if dual is not None:
                    tcp = await loop.create_server(lambda: Client(self), sock=dual)
                else:
                    tcp = await loop.create_server(
                        lambda: Client(self), host, port, reuse_address=True
                    )
                bound[host] = tcp
                if port == 0 and tcp.sockets:
                    port = tcp.sockets[0].getsockname()[1]
        except BaseException:
            for tcp in bound.values():
                tcp.close()
            raise
        return bound, port

    def _start_driver(self, driver: IPyDriver) -> InProcess:
        peer = InProcess(self, driver)
        self._in_process.append(peer)
        self.router.add_side(peer, driver)
        self._driver_tasks[id(driver)] = asyncio.get_running_loop().create_task(driver.asyncrun())
        return peer

    @property
    def client_count(self) -> int:
        """How many clients are connected."""
        return len(self.clients)

    async def add_driver(self, driver: IPyDriver) -> None:
        """Serve one more in-process driver while running; its definitions go out at once.

        Clients that asked for every device (or for its devices) get its
        ``def*Vector``s, as if they had asked just now.

        Raises:
            ValueError: one of its devices is already served.
        """
        for name in driver:
            owner = self.router.owners.get(name)
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
            # Gone first, then the clients it was holding back are let go: what
            # they still send must find no driver to wait for (and no device).
            self._in_process.remove(peer)
            self.router.remove_side(peer)
            peer.removed = True
            peer.inbox.clear()
            peer.queued_gets.clear()
            peer.release_senders()

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
            bound, port = await self._bind([h for h in hosts if h not in kept], port, hosts)
        except OSError as exc:
            failure: OSError | None = exc
        else:
            failure = None
        if failure is not None:
            try:
                again, _ = await self._bind(dropped, old_port, list(old))
            except OSError as exc:
                again = {}
                logger.critical("cannot listen on the old addresses again either: %s", exc)
            self._tcp = {**kept, **again}
            logger.error(
                "cannot listen on %s (%s); still on %s",
                ", ".join(host_port(h, port) for h in hosts),
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
        self.router.stopped = True
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
                loop_now = loop.time()
                wait = period
                due = []
                for client in self.clients:
                    quiet = loop_now - client.last_write
                    if quiet >= period:
                        due.append(client)
                    else:
                        wait = min(wait, period - quiet)
                if due:
                    data = encode(Message(timestamp=now(), message="Keep alive message"))
                    for client in due:
                        client.write(data)
            changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await changed.wait()

    async def send_message(self, message: str, timestamp: datetime | None = None) -> None:
        """Send a site-wide ``<message>`` to every client."""
        self.router.broadcast(encode(Message(timestamp=timestamp or now(), message=message)))

    # -- clients --


class Gate:
    """Who gets in: the allow list, the connection rate, the room, in that order.

    A client is let in (and counted) or refused with the reason it is sent;
    when the server is full, one that has sent no whole element makes room.
    """

    def __init__(self, server: IPyServer) -> None:
        self.server = server
        self.rate = RateLimit()

    def allowed(self, ip: IPAddress | None) -> bool:
        """Whether the allow list lets *ip* in."""
        allow = self.server.allow
        if allow is None:
            return True
        return ip is not None and any(ip in network for network in allow)

    def admit(self, client: Client) -> str | None:
        """Let a new client in, or say why not (and log it): access, rate, then room."""
        ip = client.ip
        key = str(ip) if ip is not None else client.label
        loop_now = asyncio.get_running_loop().time()
        server = self.server
        limit = server.max_connections_per_minute
        if not self.allowed(ip):
            self._log_refusal(client, key, "not allowed", "its address is not in the allow list")
            return f"connections from {key} are not allowed here"
        if limit is not None and not self.rate.allows(key, limit, loop_now):
            self._log_refusal(
                client, key, "rate", f"over {limit} connections from {key} in a minute"
            )
            return f"more than {limit} connections a minute from {key}; try again later"
        clients = server.clients
        per_address = server.max_connections_per_address
        if per_address is not None:
            same: list[Client] = [c for c in clients if c.ip == ip and not c.closed]
            if len(same) >= per_address and not self._make_room(same, client, loop_now):
                self._log_refusal(
                    client, key, "per address", f"{per_address} connections from {key} already"
                )
                return f"at most {per_address} connections from one address; try again later"
        if len(clients) >= server.maxconnections and not self._make_room(
            list(clients), client, loop_now
        ):
            self._log_refusal(client, key, "full", f"{server.maxconnections} connections already")
            return f"this server takes at most {server.maxconnections} clients; try again later"
        if limit is not None:
            self.rate.record(key, loop_now)
        self.server.router.add_client(client)
        return None

    def _make_room(self, among: list[Client], newcomer: Client, loop_now: float) -> bool:
        """Close the client of *among* silent longest (2 s at least) for *newcomer*.

        A socket held open and silent must not lock everyone else out; every
        INDI client speaks first, at once.
        """
        silent = [
            c
            for c in among
            if c.silent and not c.closed and loop_now - c.connected_at >= _SILENT_EVICT
        ]
        if not silent:
            return False
        oldest = min(silent, key=lambda c: c.connected_at)
        self.server.router.log.warning(
            (oldest.label, "evicted"),
            "%s has sent no whole element since it connected; closing it to let %s in",
            oldest.label,
            newcomer.label,
        )
        oldest.tell(
            "[ERROR] this connection sent no request and another client waits; closing it", None
        )
        oldest.close()
        self.forget(oldest)
        return True

    def _log_refusal(self, client: Client, key: str, kind: str, why: str) -> None:
        self.server.router.log.warning((key, kind), "%s refused: %s", client.label, why)

    def forget(self, client: Client) -> None:
        self.server.router.remove_client(client)


def _dual_stack_socket(port: int) -> socket.socket | None:
    """A listening socket on "::" that takes IPv4 too; None where there is no IPv6."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", port))
        sock.listen(100)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
