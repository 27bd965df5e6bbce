"""One immutable event class per INDI element.

Each class is named after its wire tag in CapWords (``setNumberVector`` ->
:class:`SetNumberVector`). Constructors validate, so an event that exists can
always be encoded: building an illegal one raises
:class:`~pi_indi.errors.LocalProtocolError` at the line that built it, the way
h11's ``Request(...)`` refuses a request without a Host header.

Values travel as the wire carries them: text, numbers as their ``numberValue``
text (checked to parse; :func:`~pi_indi.protocol.parse_number` gives the float),
switches as :class:`SwitchState`, lights as :class:`PropertyState`, BLOBs as
bytes. Member text never has leading or trailing whitespace, because every INDI
reader strips it (lilxml does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias, TypeVar

from pi_indi.errors import LocalProtocolError
from pi_indi.protocol._enums import BLOBPolicy, Permission, PropertyState, SwitchRule, SwitchState
from pi_indi.protocol._format import format_number, parse_number

__all__ = [
    "DefBLOB",
    "DefBLOBVector",
    "DefLight",
    "DefLightVector",
    "DefNumber",
    "DefNumberVector",
    "DefSwitch",
    "DefSwitchVector",
    "DefText",
    "DefTextVector",
    "DefVector",
    "DelProperty",
    "EnableBLOB",
    "Event",
    "GetProperties",
    "Message",
    "NewBLOBVector",
    "NewNumberVector",
    "NewSwitchVector",
    "NewTextVector",
    "NewVector",
    "OneBLOB",
    "PingReply",
    "PingRequest",
    "SetBLOBVector",
    "SetLightVector",
    "SetNumberVector",
    "SetSwitchVector",
    "SetTextVector",
    "SetVector",
]

_STATES = {s.value: s for s in PropertyState}
_SWITCHES = {s.value: s for s in SwitchState}
_PERMS = {p.value: p for p in Permission}
_RULES = {r.value: r for r in SwitchRule}
_POLICIES = {p.value: p for p in BLOBPolicy}


_E = TypeVar("_E")


def _fail(msg: str) -> LocalProtocolError:
    return LocalProtocolError(msg)


def _check_name(what: str, value: object) -> None:
    if not isinstance(value, str) or not value or value != value.strip():
        raise _fail(f"{what} must be a non-empty string without surrounding blanks: {value!r}")


def _check_optional_text(what: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise _fail(f"{what} must be a string or None: {value!r}")


def _plain_number(value: object) -> bool:
    # A plain decimal, the common case, checked without building any message.
    if type(value) is str and value.isascii() and "_" not in value and value == value.strip():
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return False


def _check_number(what: str, value: object) -> None:
    if _plain_number(value):
        return
    if not isinstance(value, str):
        raise _fail(f"{what} must be number text, got {value!r}")
    try:
        parse_number(value)
    except ValueError:
        raise _fail(f"{what} is not an INDI number: {value!r}") from None
    if value != value.strip():
        raise _fail(f"{what} must not have surrounding blanks: {value!r}")


def _check_timestamp(value: object) -> None:
    if value is not None and not isinstance(value, datetime):
        raise _fail(f"timestamp must be a datetime or None: {value!r}")


def _coerce(obj: object, attr: str, table: Mapping[str, object], what: str) -> None:
    value = getattr(obj, attr)
    try:
        canon = table[value]
    except (KeyError, TypeError):
        raise _fail(f"{what} must be one of {', '.join(table)}: {value!r}") from None
    if canon is not value:
        object.__setattr__(obj, attr, canon)


def build_unchecked(cls: type[_E], **fields: Any) -> _E:
    """Make an event from values already known to be valid, without checking them again.

    For pi_indi's own model, whose members check every value as it is
    assigned; every field must be given.
    """
    event = object.__new__(cls)
    for key, value in fields.items():
        object.__setattr__(event, key, value)
    return event


def _check_vector(obj: DefVector | SetVector | NewVector) -> None:
    device = obj.device
    name = obj.name
    if not (type(device) is str and device and device == device.strip()):
        _check_name("device", device)
    if not (type(name) is str and name and name == name.strip()):
        _check_name("name", name)
    if obj.timestamp is not None and type(obj.timestamp) is not datetime:
        _check_timestamp(obj.timestamp)


# -- Requests and notices -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GetProperties:
    """``<getProperties>``: ask for definitions (client) or snoop (driver).

    ``name`` may only be given with ``device``. ``version`` is "1.7" unless a
    peer sent something else, or None when a peer sent none.
    """

    version: str | None = "1.7"
    device: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        _check_optional_text("version", self.version)
        if self.device is not None:
            _check_name("device", self.device)
        if self.name is not None:
            if self.device is None:
                raise _fail("getProperties with a name needs a device")
            _check_name("name", self.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnableBLOB:
    """``<enableBLOB>``: which BLOBs a client wants, for a device or one property.

    ``device=None`` sets the policy for the whole connection, as indiserver
    accepts.
    """

    device: str | None = None
    name: str | None = None
    policy: BLOBPolicy = BLOBPolicy.NEVER

    def __post_init__(self) -> None:
        if self.device is not None:
            _check_name("device", self.device)
        if self.name is not None:
            if self.device is None:
                raise _fail("enableBLOB with a name needs a device")
            _check_name("name", self.name)
        _coerce(self, "policy", _POLICIES, "BLOB policy")


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """``<message>``: text for people, from a device or (no device) site-wide."""

    device: str | None = None
    timestamp: datetime | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.device is not None:
            _check_name("device", self.device)
        _check_timestamp(self.timestamp)
        _check_optional_text("message", self.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class DelProperty:
    """``<delProperty>``: a property (``name``) or a whole device is gone."""

    device: str
    name: str | None = None
    timestamp: datetime | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        _check_name("device", self.device)
        if self.name is not None:
            _check_name("name", self.name)
        _check_timestamp(self.timestamp)
        _check_optional_text("message", self.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class PingRequest:
    """``<pingRequest>``: indiserver's liveness probe; answer with PingReply."""

    uid: str | None = None

    def __post_init__(self) -> None:
        _check_optional_text("uid", self.uid)


@dataclass(frozen=True, slots=True, kw_only=True)
class PingReply:
    """``<pingReply>``: the answer to a PingRequest with the same ``uid``."""

    uid: str | None = None

    def __post_init__(self) -> None:
        _check_optional_text("uid", self.uid)


# -- Definitions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DefText:
    """A ``<defText>`` member."""

    name: str
    label: str | None = None
    value: str = ""

    def __post_init__(self) -> None:
        _check_name("member name", self.name)
        _check_optional_text("label", self.label)
        if not isinstance(self.value, str) or self.value != self.value.strip():
            raise _fail(f"text must be a string without surrounding blanks: {self.value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DefNumber:
    """A ``<defNumber>`` member. ``min``, ``max``, ``step`` and ``value`` are number text."""

    name: str
    label: str | None = None
    format: str = "%g"
    min: str = "0"
    max: str = "0"
    step: str = "0"
    value: str = "0"

    def __post_init__(self) -> None:
        _check_name("member name", self.name)
        _check_optional_text("label", self.label)
        try:
            format_number(0.0, self.format)
        except (ValueError, TypeError):
            raise _fail(f"not an INDI number format: {self.format!r}") from None
        _check_number("min", self.min)
        _check_number("max", self.max)
        _check_number("step", self.step)
        _check_number("value", self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class DefSwitch:
    """A ``<defSwitch>`` member."""

    name: str
    label: str | None = None
    value: SwitchState = SwitchState.OFF

    def __post_init__(self) -> None:
        _check_name("member name", self.name)
        _check_optional_text("label", self.label)
        _coerce(self, "value", _SWITCHES, "switch value")


@dataclass(frozen=True, slots=True, kw_only=True)
class DefLight:
    """A ``<defLight>`` member."""

    name: str
    label: str | None = None
    value: PropertyState = PropertyState.IDLE

    def __post_init__(self) -> None:
        _check_name("member name", self.name)
        _check_optional_text("label", self.label)
        _coerce(self, "value", _STATES, "light value")


@dataclass(frozen=True, slots=True, kw_only=True)
class DefBLOB:
    """A ``<defBLOB>`` member (BLOBs are defined without a value)."""

    name: str
    label: str | None = None

    def __post_init__(self) -> None:
        _check_name("member name", self.name)
        _check_optional_text("label", self.label)


def _check_def(obj: DefVector, member_type: type) -> None:
    _check_vector(obj)
    _check_optional_text("label", obj.label)
    _check_optional_text("group", obj.group)
    _check_optional_text("message", obj.message)
    _coerce(obj, "state", _STATES, "state")
    if not isinstance(obj.members, tuple):
        object.__setattr__(obj, "members", tuple(obj.members))
    if not obj.members:
        raise _fail(f"{type(obj).__name__} {obj.name!r} needs at least one member")
    seen = set()
    for member in obj.members:
        if type(member) is not member_type:
            raise _fail(f"{type(obj).__name__} members must be {member_type.__name__}")
        if member.name in seen:
            raise _fail(f"member {member.name!r} is defined twice")
        seen.add(member.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class DefTextVector:
    """``<defTextVector>``: define (or redefine) a text property."""

    device: str
    name: str
    label: str | None = None
    group: str | None = None
    state: PropertyState = PropertyState.IDLE
    perm: Permission = Permission.RW
    timeout: str | None = None
    timestamp: datetime | None = None
    message: str | None = None
    members: tuple[DefText, ...] = ()

    def __post_init__(self) -> None:
        _check_def(self, DefText)
        _coerce(self, "perm", _PERMS, "perm")
        if self.timeout is not None:
            _check_number("timeout", self.timeout)


@dataclass(frozen=True, slots=True, kw_only=True)
class DefNumberVector:
    """``<defNumberVector>``: define (or redefine) a number property."""

    device: str
    name: str
    label: str | None = None
    group: str | None = None
    state: PropertyState = PropertyState.IDLE
    perm: Permission = Permission.RW
    timeout: str | None = None
    timestamp: datetime | None = None
    message: str | None = None
    members: tuple[DefNumber, ...] = ()

    def __post_init__(self) -> None:
        _check_def(self, DefNumber)
        _coerce(self, "perm", _PERMS, "perm")
        if self.timeout is not None:
            _check_number("timeout", self.timeout)


@dataclass(frozen=True, slots=True, kw_only=True)
class DefSwitchVector:
    """``<defSwitchVector>``: define (or redefine) a switch property."""

    device: str
    name: str
    label: str | None = None
    group: str | None = None
    state: PropertyState = PropertyState.IDLE
    perm: Permission = Permission.RW
    rule: SwitchRule = SwitchRule.ANY_OF_MANY
    timeout: str | None = None
    timestamp: datetime | None = None
    message: str | None = None
    members: tuple[DefSwitch, ...] = ()

    def __post_init__(self) -> None:
        _check_def(self, DefSwitch)
        _coerce(self, "perm", _PERMS, "perm")
        _coerce(self, "rule", _RULES, "rule")
        if self.timeout is not None:
            _check_number("timeout", self.timeout)


@dataclass(frozen=True, slots=True, kw_only=True)
class DefLightVector:
    """``<defLightVector>``: define (or redefine) a light property (no perm, no timeout)."""

    device: str
    name: str
    label: str | None = None
    group: str | None = None
    state: PropertyState = PropertyState.IDLE
    timestamp: datetime | None = None
    message: str | None = None
    members: tuple[DefLight, ...] = ()

    def __post_init__(self) -> None:
        _check_def(self, DefLight)


@dataclass(frozen=True, slots=True, kw_only=True)
class DefBLOBVector:
    """``<defBLOBVector>``: define (or redefine) a BLOB property."""

    device: str
    name: str
    label: str | None = None
    group: str | None = None
    state: PropertyState = PropertyState.IDLE
    perm: Permission = Permission.RO
    timeout: str | None = None
    timestamp: datetime | None = None
    message: str | None = None
    members: tuple[DefBLOB, ...] = ()

    def __post_init__(self) -> None:
        _check_def(self, DefBLOB)
        _coerce(self, "perm", _PERMS, "perm")
        if self.timeout is not None:
            _check_number("timeout", self.timeout)


# -- Values ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OneBLOB:
    """One BLOB in a set or new BLOB vector.

    ``data`` is the bytes as sent (still compressed for a ``.z`` format);
    ``size`` is their length after inflating, as INDI defines it. A state-only
    update carries ``size=0`` and no data.
    """

    name: str
    size: int
    format: str
    data: bytes = b""

    def __post_init__(self) -> None:
        _check_name("member name", self.name)
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 0:
            raise _fail(f"BLOB size must be a non-negative int: {self.size!r}")
        if not isinstance(self.format, str):
            raise _fail(f"BLOB format must be a string: {self.format!r}")
        if not isinstance(self.data, bytes):
            raise _fail("BLOB data must be bytes")


def _freeze_values(obj: SetVector | NewVector) -> dict[str, Any]:
    values: dict[str, Any] = obj.values  # type: ignore[union-attr]
    if type(values) is not dict:
        values = dict(values)
        object.__setattr__(obj, "values", values)
    for key in values:
        if not (type(key) is str and key and key == key.strip()):
            _check_name("member name", key)
    return values


def _check_text_values(obj: SetTextVector | NewTextVector) -> None:
    for value in _freeze_values(obj).values():
        if not isinstance(value, str) or value != value.strip():
            raise _fail(f"text must be a string without surrounding blanks: {value!r}")


def _check_number_values(obj: SetNumberVector | NewNumberVector) -> None:
    for key, value in _freeze_values(obj).items():
        if not _plain_number(value):
            _check_number(f"value of {key!r}", value)


def _check_enum_values(obj: SetVector | NewVector, table: Mapping[str, object], what: str) -> None:
    values = _freeze_values(obj)
    for key, value in values.items():
        try:
            canon = table[value]
        except (KeyError, TypeError):
            raise _fail(f"{what} must be one of {', '.join(table)}: {value!r}") from None
        if canon is not value:
            values[key] = canon


def _check_blobs(obj: SetBLOBVector | NewBLOBVector) -> None:
    if not isinstance(obj.blobs, tuple):
        object.__setattr__(obj, "blobs", tuple(obj.blobs))
    for blob in obj.blobs:
        if type(blob) is not OneBLOB:
            raise _fail("BLOB vectors carry OneBLOB members")


def _check_set(obj: SetVector) -> None:
    _check_vector(obj)
    message = obj.message
    if message is not None and type(message) is not str:
        _check_optional_text("message", message)
    if obj.state is not None and type(obj.state) is not PropertyState:
        _coerce(obj, "state", _STATES, "state")
    timeout = getattr(obj, "timeout", None)
    if timeout is not None:
        _check_number("timeout", timeout)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetTextVector:
    """``<setTextVector>``: new text values and/or state from a device."""

    device: str
    name: str
    state: PropertyState | None = None
    timeout: str | None = None
    timestamp: datetime | None = None
    message: str | None = None
    values: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_set(self)
        _check_text_values(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetNumberVector:
    """``<setNumberVector>``: new number values and/or state from a device."""

    device: str
    name: str
    state: PropertyState | None = None
    timeout: str | None = None
    timestamp: datetime | None = None
    message: str | None = None
    values: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_set(self)
        _check_number_values(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSwitchVector:
    """``<setSwitchVector>``: new switch values and/or state from a device."""

    device: str
    name: str
    state: PropertyState | None = None
    timeout: str | None = None
    timestamp: datetime | None = None
    message: str | None = None
    values: dict[str, SwitchState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_set(self)
        _check_enum_values(self, _SWITCHES, "switch value")


@dataclass(frozen=True, slots=True, kw_only=True)
class SetLightVector:
    """``<setLightVector>``: new light values and/or state (no timeout)."""

    device: str
    name: str
    state: PropertyState | None = None
    timestamp: datetime | None = None
    message: str | None = None
    values: dict[str, PropertyState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_set(self)
        _check_enum_values(self, _STATES, "light value")


@dataclass(frozen=True, slots=True, kw_only=True)
class SetBLOBVector:
    """``<setBLOBVector>``: new BLOBs and/or state from a device."""

    device: str
    name: str
    state: PropertyState | None = None
    timeout: str | None = None
    timestamp: datetime | None = None
    message: str | None = None
    blobs: tuple[OneBLOB, ...] = ()

    def __post_init__(self) -> None:
        _check_set(self)
        _check_blobs(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTextVector:
    """``<newTextVector>``: a client asks for new text values."""

    device: str
    name: str
    timestamp: datetime | None = None
    values: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_vector(self)
        _check_text_values(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewNumberVector:
    """``<newNumberVector>``: a client asks for new number values."""

    device: str
    name: str
    timestamp: datetime | None = None
    values: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_vector(self)
        _check_number_values(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSwitchVector:
    """``<newSwitchVector>``: a client asks for new switch values."""

    device: str
    name: str
    timestamp: datetime | None = None
    values: dict[str, SwitchState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_vector(self)
        _check_enum_values(self, _SWITCHES, "switch value")


@dataclass(frozen=True, slots=True, kw_only=True)
class NewBLOBVector:
    """``<newBLOBVector>``: a client sends BLOBs."""

    device: str
    name: str
    timestamp: datetime | None = None
    blobs: tuple[OneBLOB, ...] = ()

    def __post_init__(self) -> None:
        _check_vector(self)
        _check_blobs(self)


DefVector: TypeAlias = (
    DefTextVector | DefNumberVector | DefSwitchVector | DefLightVector | DefBLOBVector
)
SetVector: TypeAlias = (
    SetTextVector | SetNumberVector | SetSwitchVector | SetLightVector | SetBLOBVector
)
NewVector: TypeAlias = NewTextVector | NewNumberVector | NewSwitchVector | NewBLOBVector
Event: TypeAlias = (
    GetProperties
    | EnableBLOB
    | Message
    | DelProperty
    | PingRequest
    | PingReply
    | DefVector
    | SetVector
    | NewVector
)
