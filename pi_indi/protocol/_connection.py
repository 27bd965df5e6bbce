"""A sans-IO INDI connection: bytes in, events out; events in, bytes out."""

from __future__ import annotations

from collections import deque
from typing import Final

from pi_indi.errors import RemoteProtocolError
from pi_indi.protocol._codec import decode_element, encode
from pi_indi.protocol._enums import BLOBPolicy
from pi_indi.protocol._events import EnableBLOB, Event, SetBLOBVector
from pi_indi.protocol._xml import ElementStream

__all__ = ["ANY", "CLOSED", "NEED_DATA", "BLOBPolicyTable", "Connection", "request_scope"]


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA: Final = _Sentinel("NEED_DATA")
"""Returned by :meth:`Connection.next_event` when more bytes are needed."""

CLOSED: Final = _Sentinel("CLOSED")
"""Returned by :meth:`Connection.next_event` once the peer closed and all is read."""


ANY: Final = "*"
"""The device name (and here also property name) that means every one.

indiserver reserves the device name ``*``: a chained indiserver started with
``@host:port`` (every device of that server) asks it for
``<getProperties device="*" version="1.7"/>`` (RemoteDvrInfo::start), and the
server marks a connection whose messages name a device starting with ``*`` as
a chained server that gets everything (``if (dev[0] == '*' &&
!this->props.size()) this->allprops = 2;`` in ClInfo::onMessage) and sends
getProperties for ``*`` on to every driver (``dev[0] != '*' &&
!dp->isHandlingDevice(dev)`` in DvrInfo::q2RDrivers). pi_indi reads ``*`` as
"every" wherever a request names a device or property: getProperties,
enableBLOB and snoop requests.
"""


def request_scope(device: str | None, name: str | None) -> tuple[str | None, str | None]:
    """The device and property a request is about, with :data:`ANY` read as None (every).

    ``(None, None)`` is everything, ``("Dev", None)`` every property of Dev, and
    ``(None, "P")`` (from ``device="*" name="P"``) property P of every device.
    """
    return (None if device == ANY else device), (None if name == ANY else name)


class BLOBPolicyTable:
    """Which BLOBs one peer asked for with ``enableBLOB``, as indiserver keeps it.

    Semantics follow indiserver 1.9.9 (checked against it with eight clients):
    the default is Never; an ``enableBLOB`` for a whole device (or, without a
    device, the whole connection) resets every property-level choice made for
    it before; a property-level choice wins over the device and connection
    level in both directions; and ``Only`` at device or connection level
    suppresses every non-BLOB message for that device.

    ``device="*"`` is the whole connection, as indiserver takes it (without a
    name it sets the client's own policy); ``device="*"`` with a name is that
    property of every device (indiserver records it under device "*" and so
    never applies it); ``name="*"`` is the whole device.
    """

    __slots__ = ("_any_device", "_default", "_devices", "_properties")

    def __init__(self) -> None:
        self._default = BLOBPolicy.NEVER
        self._devices: dict[str, BLOBPolicy] = {}
        self._properties: dict[tuple[str, str], BLOBPolicy] = {}
        self._any_device: dict[str, BLOBPolicy] = {}  # property name -> policy

    def update(self, event: EnableBLOB) -> None:
        """Record one ``enableBLOB`` request."""
        device, name = request_scope(event.device, event.name)
        if device is None:
            if name is None:
                self._default = event.policy
                self._devices.clear()
                self._properties.clear()
                self._any_device.clear()
            else:
                self._any_device[name] = event.policy
        elif name is None:
            self._devices[device] = event.policy
            for key in [k for k in self._properties if k[0] == device]:
                del self._properties[key]
        else:
            self._properties[(device, name)] = event.policy

    def __len__(self) -> int:
        """How many device- and property-level choices are recorded."""
        return len(self._devices) + len(self._properties) + len(self._any_device)

    def has(self, event: EnableBLOB) -> bool:
        """Whether a choice for *event*'s scope is recorded already (so updating it adds none)."""
        device, name = request_scope(event.device, event.name)
        if device is None:
            return name is None or name in self._any_device
        if name is None:
            return device in self._devices
        return (device, name) in self._properties

    def policy(self, device: str, name: str | None = None) -> BLOBPolicy:
        """The policy in force for a device, or for one of its properties."""
        if name is not None:
            found = self._properties.get((device, name))
            if found is None and self._any_device:
                found = self._any_device.get(name)
            if found is not None:
                return found
        return self._devices.get(device, self._default)

    def wants_plain(self, device: str) -> bool:
        """Whether this peer wants a non-BLOB message about *device*."""
        return self._devices.get(device, self._default) is not BLOBPolicy.ONLY

    def wants(self, event: Event) -> bool:
        """Whether this peer should be sent *event* under its BLOB choices."""
        if type(event) is SetBLOBVector:
            if not event.blobs:
                # A state-only acknowledgement carries no data to refuse.
                return True
            return self.policy(event.device, event.name) is not BLOBPolicy.NEVER
        device = getattr(event, "device", None)
        if device is None:
            return self._default is not BLOBPolicy.ONLY
        return self._devices.get(device, self._default) is not BLOBPolicy.ONLY


class Connection:
    """The INDI protocol on one byte stream, without any I/O.

    Feed it what the peer sent with :meth:`receive_data` and read events with
    :meth:`next_event`; turn events into bytes for the peer with :meth:`send`::

        conn = Connection()
        conn.receive_data(b'<getProperties version="1.7"/>')
        event = conn.next_event()      # GetProperties(version='1.7', ...)
        data = conn.send(reply_event)  # bytes to write

    ``enableBLOB`` requests that pass through :meth:`next_event` are recorded
    in :attr:`blob_policy`, whose :meth:`~BLOBPolicyTable.wants` tells a
    server whether a message is for this peer.

    Args:
        max_element: the largest element accepted, in bytes (BLOB vectors aside).
        max_blob_element: the largest BLOB vector element accepted, in bytes.
        max_tag: the largest single tag accepted, in bytes.
        max_members: the most members a vector may have.
    """

    def __init__(
        self,
        *,
        max_element: int = 1 << 20,
        max_blob_element: int = 64 << 20,
        max_tag: int = 64 << 10,
        max_members: int = 10_000,
    ) -> None:
        self._stream = ElementStream(
            max_element=max_element,
            max_blob_element=max_blob_element,
            max_tag=max_tag,
            max_members=max_members,
        )
        self._attachments: deque[bytes] = deque()
        self.blob_policy = BLOBPolicyTable()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet turned into events."""
        return self._stream.buffered

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer. ``b""`` means the peer closed the stream."""
        self._stream.feed(data)

    def receive_attachment(self, data: bytes) -> None:
        """Add the bytes of one attached BLOB, in the order they arrived.

        indiserver sends BLOBs to local drivers as ``attached="true"`` elements
        with the data in a file descriptor beside the stream; the transport
        reads each descriptor and hands the bytes over here.
        """
        self._attachments.append(data)

    def _take_attachment(self) -> bytes | None:
        return self._attachments.popleft() if self._attachments else None

    def next_event(self) -> Event | _Sentinel:
        """Return the next event, :data:`NEED_DATA` or :data:`CLOSED`.

        Raises:
            RemoteProtocolError: the peer sent something malformed. The bad
                element is skipped; calling again goes on with the next one.
        """
        elem = self._stream.next_element()
        if elem is None:
            if self._stream.closed:
                if self._stream.discard_partial():
                    raise RemoteProtocolError("the stream ended inside an element")
                return CLOSED
            return NEED_DATA
        event = decode_element(elem, self._take_attachment)
        if type(event) is EnableBLOB:
            self.blob_policy.update(event)
        return event

    def send(self, event: Event) -> bytes:
        """Serialise *event* for the peer.

        Raises:
            LocalProtocolError: *event* is not an INDI event.
        """
        return encode(event)
