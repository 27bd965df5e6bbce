"""Members and vectors: the mutable properties a driver owns.

The API is indipydriver's (3.x): a vector is a mapping of member name to
member *value*, built from member objects, and has ``send_defVector``,
``send_setVector`` and ``send_setVectorMembers`` coroutines. What goes on the
wire is built here as protocol events; only :mod:`pi_indi.protocol` writes XML.

Where indipydriver misbehaves, these classes do not: a vector's message is sent
once and does not stick to later updates, a BLOB's ``size`` is worked out for
each BLOB sent, a number's default format is one clients accept, and bad values
raise ``ValueError`` at the assignment instead of being logged and dropped.
"""

from __future__ import annotations

import asyncio
import pathlib
from collections import UserDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pi_indi import _logger
from pi_indi.errors import NumberFormatError
from pi_indi.protocol import (
    DefBLOB,
    DefBLOBVector,
    DefLight,
    DefLightVector,
    DefNumber,
    DefNumberVector,
    DefSwitch,
    DefSwitchVector,
    DefText,
    DefTextVector,
    DelProperty,
    Event,
    OneBLOB,
    Permission,
    PropertyState,
    SetBLOBVector,
    SetLightVector,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    SwitchRule,
    SwitchState,
    blob_size,
    format_number,
    number_to_wire,
    parse_number,
)
from pi_indi.protocol._events import build_unchecked

if TYPE_CHECKING:
    from pi_indi.driver import Device, IPyDriver

__all__ = [
    "BLOBMember",
    "BLOBVector",
    "LightMember",
    "LightVector",
    "NumberMember",
    "NumberVector",
    "PropertyMember",
    "PropertyVector",
    "SwitchMember",
    "SwitchVector",
    "TextMember",
    "TextVector",
    "getfloat",
]

logger = _logger(__name__, "indipydriver.propertyvectors")

_STATES = frozenset(s.value for s in PropertyState)
_PERMS = frozenset(p.value for p in Permission)
_RULES = frozenset(r.value for r in SwitchRule)
# Wire text (or the enum itself, a str too) -> enum member: one dict lookup,
# cheaper than calling the enum class.
_STATE_OF = {s.value: s for s in PropertyState}
_SWITCH_OF = {s.value: s for s in SwitchState}


def getfloat(value: str | float) -> float:
    """Return any INDI number (decimal or sexagesimal) as a float.

    ``getfloat("12:30")`` is 12.5; ints and floats are returned as floats.
    An empty or blank string is 0.0, as in indipydriver (whose own getfloat
    reads a missing sexagesimal field as zero, and so a missing number too).

    Raises:
        NumberFormatError: *value* is not an INDI number. It is a ``TypeError``
            as in indipydriver, and also a ``ValueError``.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise NumberFormatError(f"not an INDI number: {value!r}")
    if isinstance(value, str) and not value.strip():
        return 0.0
    try:
        return parse_number(value)
    except ValueError:
        raise NumberFormatError(f"not an INDI number: {value!r}") from None


def _utcnow() -> datetime:
    # Naive UTC. combine() drops the zone in a third of the time replace() takes.
    now = datetime.now(UTC)
    return datetime.combine(now.date(), now.time())


def _timestamp(timestamp: datetime | None) -> datetime:
    if timestamp is None:
        return _utcnow()
    if not isinstance(timestamp, datetime):
        raise TypeError(f"timestamp must be a datetime or None, not {timestamp!r}")
    if timestamp.tzinfo is not None:
        return timestamp.astimezone(UTC).replace(tzinfo=None)
    return timestamp


_new = object.__new__
_set = object.__setattr__


def _set_vector(
    cls: type[_V],
    vector: PropertyVector[Any],
    timeout: str | None,
    timestamp: datetime,
    message: str | None,
    values: dict[str, Any],
) -> _V:
    # protocol's build_unchecked without packing keywords: this runs for every
    # update a driver sends, with values its members checked when assigned.
    event = _new(cls)
    _set(event, "device", vector.devicename)
    _set(event, "name", vector.name)
    _set(event, "state", vector._state)
    _set(event, "timeout", timeout)
    _set(event, "timestamp", timestamp)
    _set(event, "message", message)
    _set(event, "values", values)
    return event


def _check_choice(what: str, value: str, allowed: frozenset[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(sorted(allowed))}, not {value!r}")
    return str(value)


_E = TypeVar("_E")
_V = TypeVar("_V", SetNumberVector, SetSwitchVector, SetTextVector)


def _choice(what: str, value: Any, table: dict[str, _E]) -> _E:
    found = table.get(value)
    if found is None:
        raise ValueError(f"{what} must be one of {', '.join(sorted(table))}, not {value!r}")
    return found


def _check_name(what: str, name: str) -> str:
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValueError(f"{what} must be a non-empty string without surrounding blanks: {name!r}")
    if not name.isprintable():
        raise ValueError(_unprintable(what, name))
    return name


def _unprintable(what: str, name: str) -> str:
    # XML 1.0 cannot carry most control characters at all, an attribute turns
    # a newline into a blank, and a name is shown to people: only printable
    # characters (str.isprintable: no Cc, Cf, Cs, Zl, Zp, Zs but " ") are taken.
    return (
        f"{what} must not contain control or other unprintable characters"
        f" (newline, tab, ESC, U+2028, U+FFFE...): {name!r}"
    )


# -- Members -------------------------------------------------------------------------


class PropertyMember:
    """Base of the member classes: a name, a label and a changed flag."""

    def __init__(self, name: str, label: str | None = None) -> None:
        self.name = _check_name("member name", name)
        self.label = label if label else name
        # True until the value has been sent once, and again after each change.
        self.changed = True

    @property
    def membervalue(self) -> Any:
        """The member's value."""
        raise NotImplementedError

    @membervalue.setter
    def membervalue(self, value: Any) -> None:
        raise NotImplementedError


class SwitchMember(PropertyMember):
    """A switch, "On" or "Off"."""

    def __init__(self, name: str, label: str | None = None, membervalue: str = "Off") -> None:
        super().__init__(name, label)
        self._value = _choice("switch value", membervalue, _SWITCH_OF)

    @property
    def membervalue(self) -> str:
        """The value: "On" or "Off" (anything else raises ValueError)."""
        return str(self._value)  # the wire text; a StrEnum's .value is slower

    @membervalue.setter
    def membervalue(self, value: str) -> None:
        new = _choice("switch value", value, _SWITCH_OF)
        if new is not self._value:
            self._value = new
            self.changed = True


class LightMember(PropertyMember):
    """A light: "Idle", "Ok", "Busy" or "Alert"."""

    def __init__(self, name: str, label: str | None = None, membervalue: str = "Idle") -> None:
        super().__init__(name, label)
        self._value = _choice("light value", membervalue, _STATE_OF)

    @property
    def membervalue(self) -> str:
        """The light's state; anything but the four states raises ValueError."""
        return str(self._value)

    @membervalue.setter
    def membervalue(self, value: str) -> None:
        new = _choice("light value", value, _STATE_OF)
        if new is not self._value:
            self._value = new
            self.changed = True


class TextMember(PropertyMember):
    """A text value.

    INDI peers strip leading and trailing blanks from member text, so they are
    stripped when the value is sent.
    """

    def __init__(self, name: str, label: str | None = None, membervalue: str = "") -> None:
        super().__init__(name, label)
        self._value = self._check(membervalue)

    @staticmethod
    def _check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"text must be a string, not {value!r}")
        return value

    @property
    def membervalue(self) -> str:
        """The text."""
        return self._value

    @membervalue.setter
    def membervalue(self, value: str) -> None:
        value = self._check(value)
        if value != self._value:
            self._value = value
            self.changed = True


class NumberMember(PropertyMember):
    """A number, with the format, min, max and step clients use to show it.

    ``format`` is a printf format for a double (``"%.2f"``) or INDI sexagesimal
    ``"%<w>.<f>m"``. The default, ``"%g"``, is one every client accepts (an
    empty format, indipydriver's default, makes indipyclient refuse the
    vector). Values may be given as numbers or number text (``"12:30:00"``);
    they are kept as wire text, as in indipydriver.

    When ``min < max``, values a client sends outside that range are refused
    with an Alert; ``min == max`` means no range (white paper 1.7).
    """

    def __init__(
        self,
        name: str,
        label: str | None = None,
        format: str = "%g",
        min: float | str = "0",
        max: float | str = "0",
        step: float | str = "0",
        membervalue: float | str = "0",
    ) -> None:
        super().__init__(name, label)
        self.format = format or "%g"
        try:
            format_number(0.0, self.format)
        except ValueError:
            raise ValueError(f"not an INDI number format: {format!r}") from None
        self.min = self._wire(min)
        self.max = self._wire(max)
        self.step = self._wire(step)
        self._value = self._wire(membervalue)

    @staticmethod
    def _wire(value: float | str) -> str:
        try:
            return number_to_wire(value)
        except ValueError:
            raise ValueError(f"not an INDI number: {value!r}") from None

    @property
    def membervalue(self) -> str:
        """The value as wire text; set it with a number or number text."""
        return self._value

    @membervalue.setter
    def membervalue(self, value: float | str) -> None:
        new = self._wire(value)
        if new != self._value:
            self._value = new
            self.changed = True

    def getfloatvalue(self) -> float:
        """The value as a float."""
        return getfloat(self._value)

    def getformattedvalue(self) -> str:
        """The value formatted with this member's format."""
        return self.format_number(self.getfloatvalue())

    def format_number(self, value: float) -> str:
        """Format *value* with this member's format (``%m`` sexagesimal included)."""
        return format_number(value, self.format)

    def in_range(self, value: float) -> bool:
        """Whether *value* lies within min..max (always True when min == max)."""
        lo = parse_number(self.min)
        hi = parse_number(self.max)
        return lo >= hi or lo <= value <= hi


BLOBValue = bytes | pathlib.Path | str | Any


class BLOBMember(PropertyMember):
    """A BLOB: bytes, a path (``pathlib.Path`` or str), or a binary file object.

    ``blobformat`` is the file suffix(es), such as ``".fits"``; when empty, a
    path's suffixes are used. A format ending in ``.z`` means the bytes are
    zlib-compressed; the ``size`` sent is then the inflated length, as INDI
    requires, worked out from each BLOB sent.
    """

    def __init__(
        self,
        name: str,
        label: str | None = None,
        blobsize: int = 0,
        blobformat: str = "",
        membervalue: BLOBValue | None = None,
    ) -> None:
        super().__init__(name, label)
        if not isinstance(blobsize, int):
            raise ValueError(f"blobsize must be an int, not {blobsize!r}")
        # An explicit size for the next BLOB only (see BLOBVector.set_blobsize).
        self.blobsize = blobsize
        self.blobformat = blobformat
        self._value = membervalue

    @property
    def membervalue(self) -> BLOBValue | None:
        """The BLOB source: bytes, a path or a file object."""
        return self._value

    @membervalue.setter
    def membervalue(self, value: BLOBValue) -> None:
        if value is None or (isinstance(value, (bytes, str)) and not value):
            raise ValueError(f"the BLOB {self.name!r} value cannot be empty")
        self._value = value
        self.changed = True

    @staticmethod
    def getbytes(value: BLOBValue) -> bytes:
        """Read a BLOB source into bytes (a file object is read and closed).

        Raises:
            ValueError: the source cannot be read or is empty.
        """
        try:
            if isinstance(value, (bytes, bytearray, memoryview)):
                data = bytes(value)
            elif isinstance(value, pathlib.Path):
                data = value.read_bytes()
            elif isinstance(value, str):
                data = pathlib.Path(value).read_bytes()
            elif hasattr(value, "read"):
                if hasattr(value, "seek"):
                    value.seek(0)
                data = value.read()
                value.close()
            else:
                raise TypeError(type(value).__name__)
        except (OSError, TypeError) as exc:
            raise ValueError(f"unable to read the BLOB value: {exc}") from exc
        if not isinstance(data, bytes):
            raise ValueError("the BLOB value did not give bytes")
        return data

    def _format_for(self, value: BLOBValue) -> str:
        if self.blobformat:
            return self.blobformat
        if isinstance(value, (str, pathlib.Path)):
            return "".join(pathlib.Path(value).suffixes)
        return ""

    def _one_blob(self, data: bytes, fmt: str) -> OneBLOB:
        size = self.blobsize if self.blobsize else blob_size(data, fmt)
        # The explicit size was for this BLOB; the next one is measured again.
        self.blobsize = 0
        self.changed = False
        return OneBLOB(name=self.name, size=size, format=fmt, data=data)


# -- Vectors -------------------------------------------------------------------------

M = TypeVar("M", bound=PropertyMember)


class PropertyVector(UserDict[str, Any], Generic[M]):
    """Base of the vector classes: a mapping of member name to member value.

    ``vector["name"]`` reads a member's value and ``vector["name"] = v`` sets
    it (``KeyError`` for an unknown member, ``ValueError`` for a bad value).
    The member objects are in ``vector.data``.
    """

    _member_type: ClassVar[type[PropertyMember]] = PropertyMember
    # Lights never set it; the other vectors set it from their `perm` argument.
    _perm = Permission.RO
    data: dict[str, M]

    def __init__(self, name: str, label: str | None, group: str | None, state: str) -> None:
        super().__init__()
        self.name = _check_name("vector name", name)
        self.label = label if label else name
        self.group = group if group else ""
        self._state = _choice("state", state, _STATE_OF)
        self._timeout = "0"
        self._message = ""
        self.changed = True
        self.enable = True
        self.vectortype = type(self).__name__
        self.devicename: str | None = None
        self.driver: IPyDriver | None = None

    def _add_members(self, members: Iterable[M]) -> None:
        for member in members:
            if not isinstance(member, self._member_type):
                raise TypeError(
                    f"members of a {type(self).__name__} must be {self._member_type.__name__}s"
                )
            if member.name in self.data:
                raise ValueError(f"member {member.name!r} appears twice in {self.name!r}")
            self.data[member.name] = member

    def __getitem__(self, membername: str) -> Any:
        return self.data[membername].membervalue

    def __setitem__(self, membername: str, value: Any) -> None:
        try:
            member = self.data[membername]
        except KeyError:
            raise KeyError(f"{self.name!r} has no member {membername!r}") from None
        member.membervalue = value

    def __delitem__(self, membername: str) -> None:
        raise TypeError("members cannot be removed from a vector")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {dict(self)!r})"

    # -- attributes --

    @property
    def state(self) -> str:
        """The vector state: "Idle", "Ok", "Busy" or "Alert" (ValueError otherwise)."""
        return str(self._state)

    @state.setter
    def state(self, value: str) -> None:
        new = _choice("state", value, _STATE_OF)
        if new is not self._state:
            self._state = new
            self.changed = True

    @property
    def timeout(self) -> str:
        """Seconds the device may take to act on a request, as number text."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: float | str) -> None:
        new = NumberMember._wire(value)
        if new != self._timeout:
            self._timeout = new
            self.changed = True

    @property
    def message(self) -> str:
        """A note for the next update; it is sent once, then cleared."""
        return self._message

    @message.setter
    def message(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"message must be a string, not {value!r}")
        if value != self._message:
            self._message = value
            self.changed = True

    @property
    def perm(self) -> str:
        """Client permission: "ro", "wo" or "rw"."""
        return self._perm.value

    @perm.setter
    def perm(self, value: str) -> None:
        self._perm = Permission(_check_choice("perm", value, _PERMS))

    @property
    def device(self) -> Device:
        """The Device this vector belongs to."""
        if self.driver is None or self.devicename is None:
            raise RuntimeError(f"vector {self.name!r} is not part of a driver yet")
        return self.driver[self.devicename]

    # -- sending --

    def _apply(self, message: str, timeout: float | str | None, state: str | None) -> str | None:
        if not isinstance(message, str):
            raise TypeError(f"message must be a string, not {message!r}")
        if timeout is not None:
            self.timeout = timeout
        if state:
            self.state = state
        msg = message or self._message
        self._message = ""
        return msg or None

    def _sender(self) -> IPyDriver | None:
        """The driver to send through, or None while this vector or its device is disabled."""
        driver = self.driver
        if (
            self.enable
            and driver is not None
            and self.devicename is not None
            and driver.data[self.devicename].enable
        ):
            return driver
        return None

    def _def_event(self, timestamp: datetime, message: str | None) -> Event:
        raise NotImplementedError

    def _set_event(self, timestamp: datetime, message: str | None, members: list[M]) -> Event:
        raise NotImplementedError

    def _wire_timeout(self) -> str | None:
        return self._timeout if self._perm is not Permission.RO else None

    async def send_defVector(
        self,
        message: str = "",
        timestamp: datetime | None = None,
        timeout: float | str | None = None,
        state: str | None = None,
    ) -> None:
        """Send the vector's definition with every member.

        Args:
            message: a note for clients, sent with this definition only.
            timestamp: a datetime (naive means UTC); None means now.
            timeout: a new timeout for the vector, or None to keep it.
            state: a new state, or None to keep it.
        """
        msg = self._apply(message, timeout, state)
        driver = self._sender()
        if driver is None:
            return
        event = self._def_event(_timestamp(timestamp), msg)
        for member in self.data.values():
            member.changed = False
        self.changed = False
        await driver.send(event)

    async def send_setVector(
        self,
        message: str = "",
        timestamp: datetime | None = None,
        timeout: float | str | None = None,
        state: str | None = None,
        allvalues: bool = True,
    ) -> None:
        """Send the vector's values to clients.

        With ``allvalues=False`` only members changed since they were last sent
        go out. The update is sent when anything changed (a value, the state,
        the timeout or a message) and always when the state is "Ok", which
        clients take as the acknowledgement of a request.
        """
        msg = self._apply(message, timeout, state)
        driver = self._sender()
        if driver is None:
            return
        changed = self.changed or msg is not None
        if allvalues:
            members = list(self.data.values())
            if not changed:
                for member in members:
                    if member.changed:
                        changed = True
                        break
        else:
            members = [m for m in self.data.values() if m.changed]
            changed = changed or bool(members)
        if not changed and self._state is not PropertyState.OK:
            return
        event = self._set_event(
            _utcnow() if timestamp is None else _timestamp(timestamp), msg, members
        )
        for member in members:
            member.changed = False
        self.changed = False
        await driver.send(event)

    async def send_setVectorMembers(
        self,
        message: str = "",
        timestamp: datetime | None = None,
        timeout: float | str | None = None,
        state: str | None = None,
        members: Iterable[str] = (),
    ) -> None:
        """Send exactly the named members (none at all is allowed), always.

        ``send_setVectorMembers(state="Ok")`` with no members acknowledges a
        request without resending values.

        Raises:
            KeyError: a name is not a member of this vector.
        """
        wanted = list(members)
        for name in wanted:
            if name not in self.data:
                raise KeyError(f"{self.name!r} has no member {name!r}")
        msg = self._apply(message, timeout, state)
        driver = self._sender()
        if driver is None:
            return
        chosen = [m for m in self.data.values() if m.name in wanted]
        event = self._set_event(_timestamp(timestamp), msg, chosen)
        for member in chosen:
            member.changed = False
        self.changed = False
        await driver.send(event)

    async def send_delProperty(self, message: str = "", timestamp: datetime | None = None) -> None:
        """Tell clients this vector is gone, and stop its traffic.

        Set ``vector.enable = True`` and call :meth:`send_defVector` to bring it back.
        """
        if self.driver is None or self.devicename is None:
            return
        event = DelProperty(
            device=self.devicename,
            name=self.name,
            timestamp=_timestamp(timestamp),
            message=message or None,
        )
        self.enable = False
        self.changed = True
        for member in self.data.values():
            member.changed = True
        await self.driver.send(event)

    def _head(self) -> dict[str, Any]:
        assert self.devicename is not None  # noqa: S101 - _sender() checked it
        return {"device": self.devicename, "name": self.name}

    def _def_head(self, timestamp: datetime, message: str | None) -> dict[str, Any]:
        return {
            **self._head(),
            "label": self.label,
            "group": self.group,
            "state": self._state,
            "timestamp": timestamp,
            "message": message,
        }


class SwitchVector(PropertyVector[SwitchMember]):
    """A vector of switches with a rule: "OneOfMany", "AtMostOne" or "AnyOfMany".

    Requests from clients are checked against the rule before ``rxevent`` sees
    them (see :doc:`/concepts`).
    """

    _member_type = SwitchMember

    def __init__(
        self,
        name: str,
        label: str | None,
        group: str | None,
        perm: str,
        rule: str,
        state: str,
        switchmembers: Iterable[SwitchMember],
    ) -> None:
        super().__init__(name, label, group, state)
        self.perm = perm
        self.rule = rule
        self._add_members(switchmembers)

    @property
    def rule(self) -> str:
        """The switch rule."""
        return self._rule.value

    @rule.setter
    def rule(self, value: str) -> None:
        self._rule = SwitchRule(_check_choice("rule", value, _RULES))

    def _def_event(self, timestamp: datetime, message: str | None) -> Event:
        return DefSwitchVector(
            **self._def_head(timestamp, message),
            perm=self._perm,
            rule=self._rule,
            timeout=self._wire_timeout(),
            members=tuple(
                DefSwitch(name=m.name, label=m.label, value=m._value) for m in self.data.values()
            ),
        )

    def _set_event(
        self, timestamp: datetime, message: str | None, members: list[SwitchMember]
    ) -> Event:
        # Off before On: a client applying members in order never sees two On
        # in a OneOfMany vector.
        on = SwitchState.ON
        values = {m.name: m._value for m in members if m._value is not on}
        values.update((m.name, on) for m in members if m._value is on)
        return _set_vector(SetSwitchVector, self, self._wire_timeout(), timestamp, message, values)


class LightVector(PropertyVector[LightMember]):
    """A vector of lights; always read-only, with no timeout on the wire."""

    _member_type = LightMember

    def __init__(
        self,
        name: str,
        label: str | None,
        group: str | None,
        state: str,
        lightmembers: Iterable[LightMember],
    ) -> None:
        super().__init__(name, label, group, state)
        self._add_members(lightmembers)

    @property
    def perm(self) -> str:
        """Always "ro"."""
        return "ro"

    @perm.setter
    def perm(self, value: str) -> None:
        if value != "ro":
            raise ValueError("a LightVector is always read-only")

    def _def_event(self, timestamp: datetime, message: str | None) -> Event:
        return DefLightVector(
            **self._def_head(timestamp, message),
            members=tuple(
                DefLight(name=m.name, label=m.label, value=m._value) for m in self.data.values()
            ),
        )

    def _set_event(
        self, timestamp: datetime, message: str | None, members: list[LightMember]
    ) -> Event:
        return build_unchecked(
            SetLightVector,
            **self._head(),
            state=self._state,
            timestamp=timestamp,
            message=message,
            values={m.name: m._value for m in members},
        )


class TextVector(PropertyVector[TextMember]):
    """A vector of texts."""

    _member_type = TextMember

    def __init__(
        self,
        name: str,
        label: str | None,
        group: str | None,
        perm: str,
        state: str,
        textmembers: Iterable[TextMember],
    ) -> None:
        super().__init__(name, label, group, state)
        self.perm = perm
        self._add_members(textmembers)

    def _def_event(self, timestamp: datetime, message: str | None) -> Event:
        return DefTextVector(
            **self._def_head(timestamp, message),
            perm=self._perm,
            timeout=self._wire_timeout(),
            members=tuple(
                DefText(name=m.name, label=m.label, value=m._value.strip())
                for m in self.data.values()
            ),
        )

    def _set_event(
        self, timestamp: datetime, message: str | None, members: list[TextMember]
    ) -> Event:
        values = {m.name: m._value.strip() for m in members}
        return _set_vector(SetTextVector, self, self._wire_timeout(), timestamp, message, values)


class NumberVector(PropertyVector[NumberMember]):
    """A vector of numbers."""

    _member_type = NumberMember

    def __init__(
        self,
        name: str,
        label: str | None,
        group: str | None,
        perm: str,
        state: str,
        numbermembers: Iterable[NumberMember],
    ) -> None:
        super().__init__(name, label, group, state)
        self.perm = perm
        self._add_members(numbermembers)

    def getfloatvalue(self, membername: str) -> float:
        """A member's value as a float."""
        return self.data[membername].getfloatvalue()

    def getformattedvalue(self, membername: str) -> str:
        """A member's value formatted with its format."""
        return self.data[membername].getformattedvalue()

    def _def_event(self, timestamp: datetime, message: str | None) -> Event:
        return DefNumberVector(
            **self._def_head(timestamp, message),
            perm=self._perm,
            timeout=self._wire_timeout(),
            members=tuple(
                DefNumber(
                    name=m.name,
                    label=m.label,
                    format=m.format,
                    min=m.min,
                    max=m.max,
                    step=m.step,
                    value=m._value,
                )
                for m in self.data.values()
            ),
        )

    def _set_event(
        self, timestamp: datetime, message: str | None, members: list[NumberMember]
    ) -> Event:
        values = {m.name: m._value for m in members}
        return _set_vector(SetNumberVector, self, self._wire_timeout(), timestamp, message, values)


class BLOBVector(PropertyVector[BLOBMember]):
    """A vector of BLOBs (binary large objects).

    Set a member's value (bytes, a path or a file object) and send it with
    :meth:`send_setVectorMembers`, or with :meth:`send_setVector` to send
    every member that has a value. Files are read in a worker thread.
    """

    _member_type = BLOBMember

    def __init__(
        self,
        name: str,
        label: str | None,
        group: str | None,
        perm: str,
        state: str,
        blobmembers: Iterable[BLOBMember],
    ) -> None:
        super().__init__(name, label, group, state)
        self.perm = perm
        self._add_members(blobmembers)

    def set_blobsize(self, membername: str, blobsize: int) -> None:
        """Give the inflated size of the next BLOB sent for *membername*.

        Needed only when the size cannot be worked out (it is, for bytes and
        for ``.z`` zlib data); the value applies to the next send only.
        """
        if not isinstance(blobsize, int) or blobsize < 0:
            raise ValueError(f"blobsize must be a non-negative int, not {blobsize!r}")
        self.data[membername].blobsize = blobsize

    def _def_event(self, timestamp: datetime, message: str | None) -> Event:
        return DefBLOBVector(
            **self._def_head(timestamp, message),
            perm=self._perm,
            timeout=self._wire_timeout(),
            members=tuple(DefBLOB(name=m.name, label=m.label) for m in self.data.values()),
        )

    def _set_event(
        self, timestamp: datetime, message: str | None, members: list[BLOBMember]
    ) -> Event:
        raise NotImplementedError  # BLOBs are read asynchronously; see _send_blobs

    async def _send_blobs(
        self,
        message: str,
        timestamp: datetime | None,
        timeout: float | str | None,
        state: str | None,
        members: list[BLOBMember],
    ) -> None:
        msg = self._apply(message, timeout, state)
        if self._sender() is None:
            return
        loop = asyncio.get_running_loop()
        blobs = []
        for member in members:
            if member.membervalue is None:
                continue
            value = member.membervalue
            data = await loop.run_in_executor(None, member.getbytes, value)
            blobs.append(member._one_blob(data, member._format_for(value)))
        event = SetBLOBVector(
            **self._head(),
            state=self._state,
            timeout=self._wire_timeout(),
            timestamp=_timestamp(timestamp),
            message=msg,
            blobs=tuple(blobs),
        )
        self.changed = False
        assert self.driver is not None  # noqa: S101 - _sender() checked it
        await self.driver.send(event)

    async def send_setVector(
        self,
        message: str = "",
        timestamp: datetime | None = None,
        timeout: float | str | None = None,
        state: str | None = None,
        allvalues: bool = True,
    ) -> None:
        """Send every member that has a value (with ``allvalues=False``, changed ones)."""
        members = [
            m for m in self.data.values() if m.membervalue is not None and (allvalues or m.changed)
        ]
        await self._send_blobs(message, timestamp, timeout, state, members)

    async def send_setVectorMembers(
        self,
        message: str = "",
        timestamp: datetime | None = None,
        timeout: float | str | None = None,
        state: str | None = None,
        members: Iterable[str] = (),
    ) -> None:
        """Send the named members; with none, a state-only update (e.g. an Ok ack)."""
        wanted = list(members)
        for name in wanted:
            if name not in self.data:
                raise KeyError(f"{self.name!r} has no member {name!r}")
        chosen = [m for m in self.data.values() if m.name in wanted]
        await self._send_blobs(message, timestamp, timeout, state, chosen)
