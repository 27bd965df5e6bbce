"""The events a driver's ``rxevent`` and ``snoopevent`` receive.

Class names are indipydriver's, so ``isinstance(event, newSwitchVector)`` in
an existing driver keeps working. Vector events are ``collections.UserDict``
mappings of member name to value, as in indipydriver: ``event["name"]``,
``event.get()``, iteration, ``event.data`` (a plain dict), and ``pop``,
``del`` or ``clear`` on the event a driver was given (each call gets its own
event). Assigning ``event["name"] = value`` raises ``TypeError``, as it does in
indipydriver: set the value on ``event.vector`` instead. Every event has
``devicename``, ``vectorname``,
``timestamp`` (an aware UTC datetime; None if the peer sent one that could not
be read) and ``root`` (the element as an ``xml.etree.ElementTree.Element``,
built on first use).
"""

from __future__ import annotations

import copy
from collections import UserDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from pi_indi.properties import getfloat
from pi_indi.protocol import (
    DefBLOBVector,
    DefLightVector,
    DefNumberVector,
    DefSwitchVector,
    DefTextVector,
    DelProperty,
    Event,
    GetProperties,
    NewBLOBVector,
    SetBLOBVector,
    SetLightVector,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    encode,
)
from pi_indi.protocol import Message as MessageEvent

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    from pi_indi.properties import PropertyVector

__all__ = [
    "Message",
    "defBLOBVector",
    "defLightVector",
    "defNumberVector",
    "defSwitchVector",
    "defTextVector",
    "delProperty",
    "getProperties",
    "newBLOBVector",
    "newNumberVector",
    "newSwitchVector",
    "newTextVector",
    "setBLOBVector",
    "setLightVector",
    "setNumberVector",
    "setSwitchVector",
    "setTextVector",
    "snoop_event",
]


def _aware(ts: datetime | None, *, default_now: bool) -> datetime | None:
    if ts is None:
        return datetime.now(UTC) if default_now else None
    return ts.replace(tzinfo=UTC)


class _Base:
    devicename: str | None
    vectorname: str | None

    def __init__(self, source: Event, timestamp: datetime | None) -> None:
        self._source = source
        self.timestamp = timestamp

    @property
    def root(self) -> ET.Element:
        """The received element, as ElementTree would give it."""
        # The XML library is loaded only for code that asks for XML.
        import xml.etree.ElementTree as ET

        return ET.fromstring(encode(self._source))  # noqa: S314 - our own encoder's output


class _Values(UserDict[str, Any]):
    """Member name -> value, in ``data``; items cannot be assigned (as in indipydriver)."""

    devicename: str | None
    vectorname: str | None

    # Each event has a dict of its own: what a driver removes from it touches
    # nothing else (so ``data`` is set directly, not through ``__init__``).
    data: dict[str, Any]

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(
            f"a received event's values cannot be assigned; set the vector's instead,"
            f" e.g. event.vector[{key!r}] = value"
        )

    def copy(self) -> Self:
        """A copy of the event with a dict of its own."""
        return copy.copy(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.devicename!r}, {self.vectorname!r}, {self.data!r})"


# -- rxevent -------------------------------------------------------------------------


class getProperties(_Base):
    """A client asked for a vector's definition (only when ``auto_send_def`` is False).

    One event is made per vector the request covers.
    """

    def __init__(
        self, devicename: str, vectorname: str, vector: PropertyVector[Any], source: GetProperties
    ) -> None:
        super().__init__(source, datetime.now(UTC))
        self.devicename = devicename
        self.vectorname = vectorname
        self.vector = vector


class newVector(_Base, _Values):
    """Base of the new*Vector events: a client's request for new values."""

    def __init__(self, vector: PropertyVector[Any], source: Event, values: dict[str, Any]) -> None:
        super().__init__(source, _aware(getattr(source, "timestamp", None), default_now=True))
        self.devicename = vector.devicename
        self.vectorname = vector.name
        self.vector = vector
        self.data = values


class newSwitchVector(newVector):
    """A client wants switches changed: member name -> "On" or "Off".

    For OneOfMany and AtMostOne vectors, turning one member On implies the
    others Off; the event spells those out, so it always describes the
    requested state of every member the request affects.
    """


class newTextVector(newVector):
    """A client sent text: member name -> str."""


class newNumberVector(newVector):
    """A client sent numbers: member name -> number text as sent (maybe sexagesimal)."""

    def getfloatvalue(self, membername: str) -> float:
        """A received member's value as a float."""
        return getfloat(self[membername])

    def getformattedvalue(self, membername: str) -> str:
        """A received member's value, formatted with the member's format."""
        member = self.vector.data[membername]
        return member.format_number(getfloat(self[membername]))  # type: ignore[no-any-return]


class newBLOBVector(newVector):
    """A client sent BLOBs: member name -> bytes.

    ``sizeformat`` maps member name -> (size, format) as the client gave them.
    """

    def __init__(self, vector: PropertyVector[Any], source: NewBLOBVector) -> None:
        super().__init__(vector, source, {b.name: b.data for b in source.blobs})
        self.sizeformat = {b.name: (b.size, b.format) for b in source.blobs}


# -- snoopevent ----------------------------------------------------------------------


class SnoopEvent(_Base):
    """Base of the events snooped from other devices."""

    def __init__(self, source: Event) -> None:
        super().__init__(source, _aware(getattr(source, "timestamp", None), default_now=True))
        self.devicename = getattr(source, "device", None)
        self.vectorname = getattr(source, "name", None)


class Message(SnoopEvent):
    """A ``<message>`` from a snooped device; ``devicename`` is None for site-wide ones."""

    def __init__(self, source: MessageEvent) -> None:
        super().__init__(source)
        self.vectorname = None
        self.message = source.message or ""


class delProperty(SnoopEvent):
    """A snooped device deleted a vector (``vectorname``) or itself (``vectorname`` None)."""

    def __init__(self, source: DelProperty) -> None:
        super().__init__(source)
        self.message = source.message or ""


class defVector(SnoopEvent, _Values):
    """Base of the snooped definitions: member name -> value, plus the vector's attributes."""

    def __init__(self, source: Any) -> None:
        super().__init__(source)
        self.label = source.label or source.name
        self.group = source.group or ""
        self.state = source.state.value
        self.message = source.message or ""
        self.memberlabels: dict[str, Any] = {m.name: m.label or m.name for m in source.members}
        self.data = {m.name: getattr(m, "value", None) for m in source.members}
        if hasattr(source, "perm"):
            self.perm = source.perm.value
            self.timeout = source.timeout or "0"


class defSwitchVector(defVector):
    """A snooped switch vector definition; also has ``perm``, ``rule`` and ``timeout``."""

    def __init__(self, source: DefSwitchVector) -> None:
        super().__init__(source)
        self.data = {m.name: m.value.value for m in source.members}
        self.rule = source.rule.value


class defTextVector(defVector):
    """A snooped text vector definition."""


class defNumberVector(defVector):
    """A snooped number vector definition.

    ``memberlabels`` maps member name -> (label, format, min, max, step).
    """

    def __init__(self, source: DefNumberVector) -> None:
        super().__init__(source)
        self.memberlabels = {
            m.name: (m.label or m.name, m.format, m.min, m.max, m.step) for m in source.members
        }

    def getfloatvalue(self, membername: str) -> float:
        """A member's value as a float."""
        return getfloat(self[membername])


class defLightVector(defVector):
    """A snooped light vector definition."""

    def __init__(self, source: DefLightVector) -> None:
        super().__init__(source)
        self.data = {m.name: m.value.value for m in source.members}


class defBLOBVector(defVector):
    """A snooped BLOB vector definition (BLOBs are defined without values)."""

    def __init__(self, source: DefBLOBVector) -> None:
        super().__init__(source)
        self.data = {}


class setVector(SnoopEvent, _Values):
    """Base of the snooped updates: member name -> value for the members sent."""

    def __init__(self, source: Any) -> None:
        super().__init__(source)
        self.state = source.state.value if source.state is not None else None
        self.message = source.message or ""
        self.timeout = getattr(source, "timeout", None) or "0"
        values = getattr(source, "values", {})
        self.data = {k: getattr(v, "value", v) for k, v in values.items()}


class setSwitchVector(setVector):
    """A snooped switch update."""


class setTextVector(setVector):
    """A snooped text update."""


class setNumberVector(setVector):
    """A snooped number update (values are number text)."""

    def getfloatvalue(self, membername: str) -> float:
        """A member's value as a float."""
        return getfloat(self[membername])


class setLightVector(setVector):
    """A snooped light update."""


class setBLOBVector(setVector):
    """A snooped BLOB update: member name -> bytes; ``sizeformat`` -> (size, format)."""

    def __init__(self, source: SetBLOBVector) -> None:
        super().__init__(source)
        self.data = {b.name: b.data for b in source.blobs}
        self.sizeformat = {b.name: (b.size, b.format) for b in source.blobs}


_SNOOP_CLASSES: dict[type, type[SnoopEvent]] = {
    MessageEvent: Message,
    DelProperty: delProperty,
    DefSwitchVector: defSwitchVector,
    DefTextVector: defTextVector,
    DefNumberVector: defNumberVector,
    DefLightVector: defLightVector,
    DefBLOBVector: defBLOBVector,
    SetSwitchVector: setSwitchVector,
    SetTextVector: setTextVector,
    SetNumberVector: setNumberVector,
    SetLightVector: setLightVector,
    SetBLOBVector: setBLOBVector,
}


def snoop_event(source: Event) -> SnoopEvent | None:
    """The snoop event for a protocol event, or None if it is not snoopable."""
    cls = _SNOOP_CLASSES.get(type(source))
    return cls(source) if cls is not None else None
