"""Who gets what: the server's routing as a pure object (no asyncio, no sockets).

The :class:`Router` routes as indilib's indiserver does (indiserver.cpp): a
client's ``getProperties`` records what it wants to see and goes to the
drivers that own the device; ``new*Vector`` goes only to the owning driver
(and is echoed to the other clients watching that property); what drivers
send goes to the clients and the snooping drivers that asked for that device
or property, with each client's ``enableBLOB`` choices applied. Interest is
kept in tables, so a message costs a few set unions, not a pass over every
client. Each message is encoded once and the same bytes go to every peer that
gets it.

Peers are whatever objects the caller hands in (:class:`ClientPeer`,
:class:`DriverPeer`); the router only calls their methods. So it is tested as
the codec is: feed it events, read what each peer was given.

What one client can make it hold is bounded: at most
:attr:`Router.max_interest` interest entries and as many ``enableBLOB``
choices; a request past that is refused with a ``<message>``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from pi_indi._log import LogLimiter, shown
from pi_indi.errors import LocalProtocolError, RemoteProtocolError
from pi_indi.protocol import (
    ANY,
    BLOBPolicy,
    BLOBPolicyTable,
    DefBLOBVector,
    DefNumberVector,
    DefSwitchVector,
    DefTextVector,
    DelProperty,
    EnableBLOB,
    Event,
    GetProperties,
    Message,
    NewBLOBVector,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    Permission,
    PingReply,
    PingRequest,
    PlainVector,
    PropertyState,
    SetBLOBVector,
    SetLightVector,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    check_plain,
    encode,
    request_scope,
)

__all__ = ["ClientPeer", "DriverPeer", "Interest", "Router", "Watchers", "now", "scoped"]

logger = logging.getLogger("pi_indi.server")

_NEW = (NewSwitchVector, NewTextVector, NewNumberVector, NewBLOBVector)
_NEW_KINDS = frozenset(_NEW)
_TAGS: dict[type, str] = {
    NewSwitchVector: "newSwitchVector",
    NewTextVector: "newTextVector",
    NewNumberVector: "newNumberVector",
    NewBLOBVector: "newBLOBVector",
}
#: A refused request's answer: its vector in Alert, as libindi answers one.
_ANSWER = {
    NewSwitchVector: SetSwitchVector,
    NewTextVector: SetTextVector,
    NewNumberVector: SetNumberVector,
    NewBLOBVector: SetBLOBVector,
}
#: The definitions with a permission: a read-only device's are sent as "ro".
_DEF_WITH_PERM = (DefSwitchVector, DefNumberVector, DefTextVector, DefBLOBVector)
# What drivers send most: routed by the short path.
_PLAIN_SET = frozenset((SetNumberVector, SetSwitchVector, SetTextVector, SetLightVector))

#: The most devices and properties one client may ask to watch, and the most
#: ``enableBLOB`` choices it may make: far above what any real client asks for
#: (a client watching every device needs one), small enough to cost little.
DEFAULT_MAX_INTEREST = 1024
#: The longest device or property name a client may ask to watch: libindi's
#: names are at most 64 characters (MAXINDINAME), so this costs nobody, and
#: with the count above it bounds what one client's tables hold (~1 MiB).
MAX_NAME = 256


def now() -> datetime:
    """The time for a message's timestamp: naive UTC, as INDI writes it."""
    t = datetime.now(UTC)
    return datetime.combine(t.date(), t.time())  # cheaper than replace()


def scoped(event: GetProperties) -> GetProperties:
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


class Interest:
    """What one peer asked to see: everything, some devices, some properties."""

    __slots__ = ("all", "devices", "props")

    def __init__(self) -> None:
        self.all = False
        self.devices: set[str] = set()
        self.props: set[tuple[str, str]] = set()

    def __len__(self) -> int:
        return len(self.devices) + len(self.props)

    def has(self, device: str | None, name: str | None) -> bool:
        """Whether this exact entry is recorded already."""
        if device is None:
            return self.all
        if name is None:
            return device in self.devices
        return (device, name) in self.props


class Watchers:
    """Reverse index from device and property to the peers that watch them."""

    def __init__(self) -> None:
        self.all: set[Any] = set()
        self.devices: dict[str, set[Any]] = {}
        self.props: dict[tuple[str, str], set[Any]] = {}

    def add(self, peer: Any, interest: Interest, device: str | None, name: str | None) -> None:
        if device is None:
            interest.all = True
            self.all.add(peer)
        elif name is None:
            interest.devices.add(device)
            self.devices.setdefault(device, set()).add(peer)
        else:
            interest.props.add((device, name))
            self.props.setdefault((device, name), set()).add(peer)

    def remove(self, peer: Any, interest: Interest) -> None:
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


class ClientPeer(Protocol):
    """What the router needs of a client: its label, its choices, somewhere to write."""

    label: str
    #: A chained server (it named device "*", as indiserver's "@host:port"
    #: remote does): it is sent the drivers' snoop requests too.
    chained: bool
    interest: Interest
    blobs: BLOBPolicyTable

    def write(self, data: bytes) -> None:
        """Queue bytes for the client."""


class DriverPeer(Protocol):
    """What the router needs of a driver side: in-process, executable or remote."""

    label: str
    #: Remote servers: asked for devices nobody here serves yet.
    remote: bool
    #: The XML it sends is logged (so it takes the full path, never the relay).
    debug_enable: bool
    snoop: Interest
    snoop_blobs: BLOBPolicyTable

    def deliver(self, event: Event, data: bytes | None) -> None:
        """Send one event to the driver; *data* is its encoding when already made."""

    def accepted(self, sender: Any) -> None:
        """*sender* (a client or a driver side) just gave this driver a request.

        Flow control: a driver whose queue is long pauses the sender.
        """


class Router:
    """The server's routing tables, and every routing decision.

    Args:
        readonly_devices: devices no client may change.
        max_interest: the most watch entries, and ``enableBLOB`` choices,
            one client may hold.
        clock: the time for messages the router makes.
    """

    def __init__(
        self,
        *,
        readonly_devices: Iterable[str] = (),
        max_interest: int = DEFAULT_MAX_INTEREST,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.readonly_devices: set[str] = set(readonly_devices)
        self.max_interest = max_interest
        self.clock = clock
        self.clients: set[ClientPeer] = set()
        self.sides: list[DriverPeer] = []
        #: Device name -> the driver side that serves it: the one record of ownership.
        self.owners: dict[str, DriverPeer] = {}
        self.client_watch = Watchers()
        self.snoop_watch = Watchers()
        #: Once set, drivers' output is dropped (the server is stopping).
        self.stopped = False
        self._duplicates_logged: set[tuple[str, str]] = set()
        self.log = LogLimiter(logger)

    # -- peers --

    def add_client(self, client: ClientPeer) -> None:
        self.clients.add(client)

    def remove_client(self, client: ClientPeer) -> None:
        if client in self.clients:
            self.clients.discard(client)
            self.client_watch.remove(client, client.interest)

    def add_side(self, side: DriverPeer, devices: Iterable[str] = ()) -> None:
        """Serve a driver side, owning *devices* from the start.

        Raises:
            ValueError: one of *devices* is served already.
        """
        devices = list(devices)
        for device in devices:
            owner = self.owners.get(device)
            if owner is not None and owner is not side:
                raise ValueError(f"device {device!r} is already served by {owner.label}")
        if side not in self.sides:
            self.sides.append(side)
        for device in devices:
            self.owners[device] = side

    def remove_side(self, side: DriverPeer) -> None:
        """A driver side is gone for good: its devices and snoop requests with it."""
        self.drop_devices(side)
        self.snoop_watch.remove(side, side.snoop)
        if side in self.sides:
            self.sides.remove(side)

    def devices_of(self, side: DriverPeer) -> list[str]:
        """The devices *side* serves, sorted."""
        return sorted(d for d, owner in self.owners.items() if owner is side)

    def drop_devices(self, side: DriverPeer) -> None:
        """A driver went away: its devices are gone for the clients too."""
        for device in self.devices_of(side):
            del self.owners[device]
            event = DelProperty(device=device, timestamp=self.clock())
            data = encode(event)
            for client in self.client_watch.of(device, None):
                client.write(data)
            self._to_snoopers(side, event, data)

    def broadcast(self, data: bytes) -> None:
        """Write *data* to every client."""
        for client in list(self.clients):
            client.write(data)

    # -- from clients --

    def from_client(self, client: ClientPeer, event: Event) -> None:
        kind = type(event)
        if kind in _NEW_KINDS:
            self._new_from_client(client, event)  # type: ignore[arg-type]
            return
        if kind is PingRequest:
            client.write(encode(PingReply(uid=event.uid)))  # type: ignore[union-attr]
            return
        if kind is GetProperties:
            assert isinstance(event, GetProperties)  # noqa: S101
            if event.device == ANY:
                client.chained = True
            event = scoped(event)
            if not self._watch(client, event.device, event.name, "getProperties"):
                return
            self._to_drivers(event, None, client)
            return
        if kind is EnableBLOB:
            assert isinstance(event, EnableBLOB)  # noqa: S101
            if _too_long(event.device, event.name):
                self._too_long(client, "enableBLOB", event.device, event.name)
                return
            if len(client.blobs) >= self.max_interest and not client.blobs.has(event):
                self._too_many(client, "enableBLOB", event.device, event.name)
                return
            client.blobs.update(event)
            # It also shows interest (device "*": in everything, as for
            # indiserver's chained servers).
            device: str | None = event.device
            if device is not None:
                if device == ANY:
                    client.chained = True
                    device = None
                self._watch(client, device, None, "enableBLOB")
            return
        if kind is PingReply:
            return
        # set/def/del/message from a client: a downstream server relaying; only
        # snoopers care (indiserver does the same for set*).
        self._to_snoopers(None, event, None)

    def _watch(self, client: ClientPeer, device: str | None, name: str | None, what: str) -> bool:
        interest = client.interest
        if _too_long(device, name):
            self._too_long(client, what, device, name)
            return False
        if (
            device is not None
            and len(interest) >= self.max_interest
            and not interest.has(device, name)
        ):
            self._too_many(client, what, device, name)
            return False
        self.client_watch.add(client, interest, device, name)
        return True

    def _too_many(
        self, client: ClientPeer, what: str, device: str | None, name: str | None
    ) -> None:
        self.log.warning(
            (client.label, "interest"),
            "%s: refused <%s> for %s: it already holds %d such requests (the most one client may)",
            client.label,
            what,
            shown(f"{device}.{name}" if name else device),
            self.max_interest,
        )
        client.write(
            encode(
                Message(
                    timestamp=self.clock(),
                    message=f"[ERROR] refused <{what}>: a client may name at most"
                    f" {self.max_interest} devices and properties",
                )
            )
        )

    def _too_long(
        self, client: ClientPeer, what: str, device: str | None, name: str | None
    ) -> None:
        self.log.warning(
            (client.label, "too long"),
            "%s: refused <%s> for %s: a name longer than %d characters",
            client.label,
            what,
            shown(f"{device}.{name}" if name else device),
            MAX_NAME,
        )
        client.write(
            encode(
                Message(
                    timestamp=self.clock(),
                    message=f"[ERROR] refused <{what}>: device and property names"
                    f" are at most {MAX_NAME} characters here",
                )
            )
        )

    def _new_from_client(
        self,
        client: ClientPeer,
        event: NewSwitchVector | NewTextVector | NewNumberVector | NewBLOBVector,
    ) -> None:
        device, name = event.device, event.name
        if device in self.readonly_devices:
            told = self._refuse_readonly(client.label, event)
            try:
                # The vector in Alert with the reason, so that a client which
                # sent it anyway does not wait on it Busy.
                answer: Event = _ANSWER[type(event)](
                    device=device,
                    name=name,
                    state=PropertyState.ALERT,
                    timestamp=told.timestamp,
                    message=told.message,
                )
            except LocalProtocolError:
                answer = told  # a name no vector can have: the message alone
            client.write(encode(answer))
            return
        owner = self.owners.get(device)
        if owner is None:
            self.log.warning(
                (client.label, "no device"),
                "%s: refused <%s> for %s.%s: no driver serves that device",
                client.label,
                _TAGS[type(event)],
                shown(device),
                shown(name),
            )
            client.write(
                encode(
                    Message(
                        timestamp=self.clock(),
                        message=f"[ERROR] no device {device!r} on this server;"
                        f" {name!r} was not changed",
                    )
                )
            )
            return
        # indiserver echoes new* to the other clients watching the property.
        # First, since an idle in-process driver answers within deliver().
        data: bytes | None = None
        for other in self.client_watch.of(device, name):
            if other is not client and other.blobs.wants(event):
                if data is None:
                    data = encode(event)
                other.write(data)
        owner.deliver(event, data)
        owner.accepted(client)

    def _refuse_readonly(
        self,
        label: str,
        event: NewSwitchVector | NewTextVector | NewNumberVector | NewBLOBVector,
    ) -> Message:
        # Not passed on, not echoed: the driver never sees it, so nothing changes.
        self.log.warning(
            (label, "read-only"),
            "%s: refused <%s> for %s.%s: the device is read-only",
            label,
            _TAGS[type(event)],
            shown(event.device),
            shown(event.name),
        )
        return Message(
            device=event.device,
            timestamp=self.clock(),
            message=f"[ERROR] {event.device} is read-only on this server;"
            f" {event.name} was not changed",
        )

    # -- to drivers --

    def _to_drivers(
        self, event: GetProperties, origin: DriverPeer | None, client: ClientPeer | None
    ) -> None:
        data = encode(event)
        sender = origin if origin is not None else client
        if event.device is None:
            for side in self.sides:
                if side is not origin:
                    side.deliver(event, data)
                    if sender is not None:
                        side.accepted(sender)
            return
        owner = self.owners.get(event.device)
        if owner is not None:
            if owner is not origin:
                owner.deliver(event, data)
                if sender is not None:
                    owner.accepted(sender)
            return
        # Not known yet: a remote server may serve it.
        asked = False
        for side in self.sides:
            if side.remote and side is not origin:
                side.deliver(event, data)
                asked = True
        if client is not None and not asked:
            # Its interest is kept (a device added later is sent to it); the
            # client is told that nothing here serves the device now.
            client.write(
                encode(
                    Message(
                        timestamp=self.clock(),
                        message=f"[WARNING] no device {event.device!r} on this server (yet)",
                    )
                )
            )

    def _to_servers(self, side: DriverPeer, event: GetProperties) -> None:
        """Send a driver's snoop request down to the servers chained to this one.

        indiserver's q2Servers (called for every getProperties from a driver,
        "Send getProperties to upstream chained servers as well"): a client
        that named device "*" (``allprops == 2``) gets it, and so does one that
        asked for a device of the snooping driver (a chained ``Dev@host``
        server). The chained server then snoops on our behalf and sends what
        it hears back as a client (see :meth:`from_client`). Plain clients
        ignore a getProperties from the server (libindi's BaseClient does).
        """
        data: bytes | None = None
        devices = set(self.devices_of(side))
        for client in self.clients:
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

    # -- from drivers --

    def from_driver(self, side: DriverPeer, event: Event) -> None:
        if self.stopped:
            return
        kind = type(event)
        if kind in _PLAIN_SET:
            self._route_set(side, event.device, event.name, None, event)  # type: ignore[union-attr,arg-type]
            return
        if kind is GetProperties:
            assert isinstance(event, GetProperties)  # noqa: S101
            event = scoped(event)
            self.snoop_watch.add(side, side.snoop, event.device, event.name)
            self._to_servers(side, event)
            self._to_drivers(event, side, None)
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
            # A driver changing another's device, as a client would.
            if event.device in self.readonly_devices:
                self._refuse_readonly(side.label, event)
                return
            owner = self.owners.get(event.device)
            if owner is not None and owner is not side:
                owner.deliver(event, None)
                owner.accepted(side)
            return
        device: str | None = getattr(event, "device", None)
        if device is not None and not self.claim(side, device):
            return
        if (
            isinstance(event, _DEF_WITH_PERM)
            and device in self.readonly_devices
            and event.perm is not Permission.RO
        ):
            # Clients (indipyweb, KStars, indipyterm) then show it without controls.
            event = dataclasses.replace(event, perm=Permission.RO)
        name: str | None = getattr(event, "name", None)
        data = encode(event)
        for client in self.client_watch.of(device, name) if device else self.clients:
            if client.blobs.wants(event):
                client.write(data)
        self._to_snoopers(side, event, data)

    def relay_plain(self, side: DriverPeer, item: PlainVector) -> bool:
        """Route a driver's plain set vector as its own bytes: the fast path of :meth:`from_driver`.

        The commonest message of all, relayed without building an event and
        encoding it again: checked as decoding would check it, then its text
        takes the same route as the event would. Returns False when the full
        path is needed (a snooping driver wants it as an event, or its XML is
        logged): then decode it and call :meth:`from_driver`.
        """
        if self.stopped:
            return True
        device = item.attrs.get("device")
        name = item.attrs.get("name")
        if device is None or side.debug_enable or self.snoop_watch.of(device, name):
            # The event path: for snoopers, or for the log. (A PlainVector
            # holds nothing XML cannot carry: the codec's fast path keeps such
            # text out, so its own text is safe to pass on.)
            return False
        try:
            check_plain(item)
        except RemoteProtocolError as exc:
            self.log.warning(
                (side.label, "invalid"), "%s sent an invalid element: %s", side.label, shown(exc)
            )
            return True
        self._route_set(side, device, name, (item.raw + "\n").encode(), None)
        return True

    def _route_set(
        self,
        side: DriverPeer,
        device: str,
        name: str | None,
        data: bytes | None,
        event: Event | None,
    ) -> None:
        # No BLOBs, so only a client's device-level Only policy can keep it from
        # the client.
        if self.owners.get(device) is not side and not self.claim(side, device):
            return
        if data is None:
            data = encode(event)  # type: ignore[arg-type]
        for client in self.client_watch.of(device, name):
            if client.blobs.wants_plain(device):
                client.write(data)
        snoop = self.snoop_watch
        if event is not None and (snoop.all or snoop.devices or snoop.props):
            self._to_snoopers(side, event, data)

    def claim(self, side: DriverPeer, device: str) -> bool:
        """Record that *side* serves *device*; False if another driver already does."""
        owner = self.owners.get(device)
        if owner is side:
            return True
        if owner is None:
            self.owners[device] = side
            return True
        key = (side.label, device)
        if key not in self._duplicates_logged:
            if len(self._duplicates_logged) < self.max_interest:
                self._duplicates_logged.add(key)
            logger.error(
                "%s also defines device %s, already served by %s; ignoring it",
                side.label,
                shown(repr(device)),
                owner.label,
            )
        return False

    def _to_snoopers(self, origin: DriverPeer | None, event: Event, data: bytes | None) -> None:
        device: str | None = getattr(event, "device", None)
        name: str | None = getattr(event, "name", None)
        for side in self.snoop_watch.of(device, name):
            if side is not origin and _wants_snooped(side, event):
                side.deliver(event, data)


def _too_long(device: str | None, name: str | None) -> bool:
    return (device is not None and len(device) > MAX_NAME) or (
        name is not None and len(name) > MAX_NAME
    )


def _wants_snooped(side: DriverPeer, event: Event) -> bool:
    if type(event) is SetBLOBVector and event.blobs:
        return side.snoop_blobs.policy(event.device, event.name) is not BLOBPolicy.NEVER
    return True
