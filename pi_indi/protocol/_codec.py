"""Events to bytes and elements to events.

Only this module writes XML. It escapes the five characters XML reserves using
the five named entities and nothing else, because lilxml understands no other
reference (a ``&#65;`` reaches libindi peers literally).
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pi_indi.errors import LocalProtocolError, RemoteProtocolError
from pi_indi.protocol._enums import BLOBPolicy, Permission, PropertyState, SwitchRule, SwitchState
from pi_indi.protocol._events import (
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
    EnableBLOB,
    Event,
    GetProperties,
    Message,
    NewBLOBVector,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    OneBLOB,
    PingReply,
    PingRequest,
    SetBLOBVector,
    SetLightVector,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
)
from pi_indi.protocol._format import (
    decode_base64,
    encode_base64,
    format_timestamp,
    parse_number,
    parse_timestamp,
)
from pi_indi.protocol._xml import Element, PlainVector, unescape

__all__ = ["check_plain", "decode_element", "encode"]

# -- Encoding ------------------------------------------------------------------------

_SPECIAL = re.compile("[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# What XML 1.0 cannot carry at all, not even as a character reference: a
# string holding one (a device's reply with an ESC in it, say) would make the
# whole stream ill-formed for every client, so it is sent as U+FFFD instead.
# (A lone surrogate cannot even be encoded: that stays a LocalProtocolError.)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _esc(text: str) -> str:
    if _SPECIAL.search(text) is None:
        return text
    text = _NOT_XML.sub("\ufffd", text)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


# Device, vector and member names repeat endlessly; escape each one once.
_NAMES: dict[str, str] = {}


def _name(text: str) -> str:
    try:
        return _NAMES[text]
    except KeyError:
        pass
    out = _esc(text)
    if len(_NAMES) >= 4096:  # bounded: names from a hostile peer cannot grow it
        _NAMES.clear()
    _NAMES[text] = out
    return out


def _attr(name: str, value: str | None) -> str:
    if value is None:
        return ""
    return f' {name}="{_esc(value)}"'


def _ts(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        return f' timestamp="{value.isoformat()}"'
    return f' timestamp="{format_timestamp(value)}"'


def _head(event: Any) -> str:
    return f'device="{_name(event.device)}" name="{_name(event.name)}"'


def _def_head(tag: str, e: Any, extra: str) -> str:
    return (
        f"<{tag} {_head(e)}{_attr('label', e.label)}{_attr('group', e.group)}"
        f' state="{e.state.value}"{extra}{_attr("timeout", getattr(e, "timeout", None))}'
        f"{_ts(e.timestamp)}{_attr('message', e.message)}>\n"
    )


def _set_head(tag: str, e: Any) -> str:
    state = "" if e.state is None else f' state="{e.state.value}"'
    timeout = getattr(e, "timeout", None)
    timeout = "" if timeout is None else f' timeout="{timeout}"'
    message = "" if e.message is None else f' message="{_esc(e.message)}"'
    return f"<{tag} {_head(e)}{state}{timeout}{_ts(e.timestamp)}{message}>\n"


def _new_head(tag: str, e: Any) -> str:
    return f"<{tag} {_head(e)}{_ts(e.timestamp)}>\n"


def _values(tag: str, values: dict[str, str]) -> str:
    return "".join([f'<{tag} name="{_name(k)}">{_esc(v)}</{tag}>\n' for k, v in values.items()])


def _numbers(tag: str, values: dict[str, str]) -> str:
    # Number text was checked when the event was made: no character to escape.
    return "".join([f'<{tag} name="{_name(k)}">{v}</{tag}>\n' for k, v in values.items()])


def _enum_values(tag: str, values: dict[str, Any]) -> str:
    return "".join([f'<{tag} name="{_name(k)}">{v.value}</{tag}>\n' for k, v in values.items()])


def _blobs(blobs: tuple[OneBLOB, ...]) -> bytes:
    # No enclen: a chained indiserver 1.9.9 corrupts relayed BLOBs that carry it.
    return b"".join(
        b'<oneBLOB name="%s" size="%d" format="%s">%s</oneBLOB>\n'
        % (_esc(b.name).encode(), b.size, _esc(b.format).encode(), encode_base64(b.data))
        for b in blobs
    )


def _enc_def_text(e: DefTextVector) -> str:
    head = _def_head("defTextVector", e, f' perm="{e.perm.value}"')
    body = "".join(
        f'<defText name="{_esc(m.name)}"{_attr("label", m.label)}>{_esc(m.value)}</defText>\n'
        for m in e.members
    )
    return f"{head}{body}</defTextVector>\n"


def _enc_def_number(e: DefNumberVector) -> str:
    head = _def_head("defNumberVector", e, f' perm="{e.perm.value}"')
    body = "".join(
        f'<defNumber name="{_esc(m.name)}"{_attr("label", m.label)} format="{_esc(m.format)}"'
        f' min="{m.min}" max="{m.max}" step="{m.step}">{m.value}</defNumber>\n'
        for m in e.members
    )
    return f"{head}{body}</defNumberVector>\n"


def _enc_def_switch(e: DefSwitchVector) -> str:
    head = _def_head("defSwitchVector", e, f' perm="{e.perm.value}" rule="{e.rule.value}"')
    body = "".join(
        f'<defSwitch name="{_esc(m.name)}"{_attr("label", m.label)}>{m.value.value}</defSwitch>\n'
        for m in e.members
    )
    return f"{head}{body}</defSwitchVector>\n"


def _enc_def_light(e: DefLightVector) -> str:
    head = _def_head("defLightVector", e, "")
    body = "".join(
        f'<defLight name="{_esc(m.name)}"{_attr("label", m.label)}>{m.value.value}</defLight>\n'
        for m in e.members
    )
    return f"{head}{body}</defLightVector>\n"


def _enc_def_blob(e: DefBLOBVector) -> str:
    head = _def_head("defBLOBVector", e, f' perm="{e.perm.value}"')
    body = "".join(
        f'<defBLOB name="{_esc(m.name)}"{_attr("label", m.label)}/>\n' for m in e.members
    )
    return f"{head}{body}</defBLOBVector>\n"


_ENCODERS: dict[type, Callable[[Any], str | bytes]] = {
    SetNumberVector: lambda e: (
        f"{_set_head('setNumberVector', e)}{_numbers('oneNumber', e.values)}</setNumberVector>\n"
    ),
    SetTextVector: lambda e: (
        f"{_set_head('setTextVector', e)}{_values('oneText', e.values)}</setTextVector>\n"
    ),
    SetSwitchVector: lambda e: (
        f"{_set_head('setSwitchVector', e)}{_enum_values('oneSwitch', e.values)}"
        "</setSwitchVector>\n"
    ),
    SetLightVector: lambda e: (
        f"{_set_head('setLightVector', e)}{_enum_values('oneLight', e.values)}</setLightVector>\n"
    ),
    SetBLOBVector: lambda e: (
        _set_head("setBLOBVector", e).encode() + _blobs(e.blobs) + b"</setBLOBVector>\n"
    ),
    NewNumberVector: lambda e: (
        f"{_new_head('newNumberVector', e)}{_numbers('oneNumber', e.values)}</newNumberVector>\n"
    ),
    NewTextVector: lambda e: (
        f"{_new_head('newTextVector', e)}{_values('oneText', e.values)}</newTextVector>\n"
    ),
    NewSwitchVector: lambda e: (
        f"{_new_head('newSwitchVector', e)}{_enum_values('oneSwitch', e.values)}"
        "</newSwitchVector>\n"
    ),
    NewBLOBVector: lambda e: (
        _new_head("newBLOBVector", e).encode() + _blobs(e.blobs) + b"</newBLOBVector>\n"
    ),
    DefTextVector: _enc_def_text,
    DefNumberVector: _enc_def_number,
    DefSwitchVector: _enc_def_switch,
    DefLightVector: _enc_def_light,
    DefBLOBVector: _enc_def_blob,
    GetProperties: lambda e: (
        f"<getProperties{_attr('version', e.version)}{_attr('device', e.device)}"
        f"{_attr('name', e.name)}/>\n"
    ),
    EnableBLOB: lambda e: (
        f"<enableBLOB{_attr('device', e.device)}{_attr('name', e.name)}>"
        f"{e.policy.value}</enableBLOB>\n"
    ),
    Message: lambda e: (
        f"<message{_attr('device', e.device)}{_ts(e.timestamp)}{_attr('message', e.message)}/>\n"
    ),
    DelProperty: lambda e: (
        f'<delProperty device="{_esc(e.device)}"{_attr("name", e.name)}{_ts(e.timestamp)}'
        f"{_attr('message', e.message)}/>\n"
    ),
    PingRequest: lambda e: f"<pingRequest{_attr('uid', e.uid)}/>\n",
    PingReply: lambda e: f"<pingReply{_attr('uid', e.uid)}/>\n",
}


def encode(event: Event) -> bytes:
    """Serialise one event to the bytes of one top-level INDI element.

    Raises:
        LocalProtocolError: *event* is not an INDI event.
    """
    try:
        encoder = _ENCODERS[type(event)]
    except KeyError:
        raise LocalProtocolError(f"not an INDI event: {event!r}") from None
    try:
        out = encoder(event)
        return out if isinstance(out, bytes) else out.encode()
    except UnicodeEncodeError as exc:
        # Only a lone surrogate gets here; the decoder never produces one.
        raise LocalProtocolError(f"text that cannot be sent as UTF-8: {exc}") from None


# -- Decoding ------------------------------------------------------------------------

_STATES = {s.value: s for s in PropertyState}
_SWITCHES = {s.value: s for s in SwitchState}
_PERMS = {p.value: p for p in Permission}
_RULES = {r.value: r for r in SwitchRule}
_POLICIES = {p.value: p for p in BLOBPolicy}

TakeAttachment = Callable[[], bytes | None]


class _Invalid(Exception):
    """A well-formed element with bad INDI content; becomes RemoteProtocolError."""


def _req(elem: Element, attr: str) -> str:
    try:
        return elem.attrs[attr]
    except KeyError:
        raise _Invalid(f"<{elem.tag}> needs a {attr!r} attribute") from None


def _lookup(table: dict[str, Any], elem: Element, attr: str, *, required: bool = True) -> Any:
    value = elem.attrs.get(attr)
    if value is None:
        if required:
            raise _Invalid(f"<{elem.tag}> needs a {attr!r} attribute")
        return None
    try:
        return table[value]
    except KeyError:
        raise _Invalid(f"<{elem.tag}> has an invalid {attr} {value!r}") from None


def _text(elem: Element) -> str:
    # Entities first, then strip: "&#32;x" is " x" in XML, and "x" in INDI.
    text = elem.text
    if "&" in text:
        return unescape(text).strip()
    return text.strip()


def _timestamp(elem: Element) -> datetime | None:
    raw = elem.attrs.get("timestamp")
    return parse_timestamp(raw) if raw else None


def _number(text: str, what: str) -> str:
    try:
        parse_number(text)
    except ValueError:
        raise _Invalid(f"{what} {text!r} is not a number") from None
    return text


def _members(elem: Element, tag: str) -> list[Element]:
    for child in elem.children:
        if child.tag != tag:
            raise _Invalid(f"<{elem.tag}> may hold only <{tag}>, not <{child.tag}>")
    return elem.children


def _named_values(elem: Element, tag: str) -> list[tuple[str, str]]:
    out = []
    seen = set()
    for child in _members(elem, tag):
        name = _req(child, "name")
        if name in seen:
            raise _Invalid(f"member {name!r} appears twice")
        seen.add(name)
        out.append((name, _text(child)))
    return out


def _number_values(elem: Element, tag: str) -> dict[str, str]:
    return {name: _number(v, f"value of {name!r}") for name, v in _named_values(elem, tag)}


def _enum_map(elem: Element, tag: str, table: dict[str, Any], what: str) -> dict[str, Any]:
    out = {}
    for name, value in _named_values(elem, tag):
        try:
            out[name] = table[value]
        except KeyError:
            raise _Invalid(f"{what} of {name!r} is {value!r}") from None
    return out


def _trim_zlib(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        chunk = inflater.decompress(data, 1 << 20)
        while chunk and not inflater.eof:
            chunk = inflater.decompress(inflater.unconsumed_tail, 1 << 20)
    except zlib.error:
        return data
    if not inflater.eof:
        return data
    return data[: len(data) - len(inflater.unused_data)]


def _blob_list(elem: Element, take_attachment: TakeAttachment) -> tuple[OneBLOB, ...]:
    blobs = []
    for child in _members(elem, "oneBLOB"):
        name = _req(child, "name")
        size_text = _req(child, "size")
        try:
            size = int(size_text)
        except ValueError:
            raise _Invalid(f"BLOB size {size_text!r} is not an integer") from None
        if size < 0:
            raise _Invalid(f"BLOB size {size} is negative")
        fmt = child.attrs.get("format", "")
        if child.attrs.get("attached") == "true":
            # indiserver's shared-buffer extension: the bytes came beside the
            # XML as a file descriptor, which the transport has already read.
            data = take_attachment()
            if data is None:
                raise _Invalid(f"BLOB {name!r} is attached but no attachment arrived")
            # indiserver rounds the shared buffer up (a 10 KiB BLOB came in a
            # 1 MiB memfd), so the data is only the start of it: `size` bytes,
            # or for zlib data, however long the zlib stream is.
            data = _trim_zlib(data) if fmt.endswith(".z") else data[:size]
        else:
            try:
                data = decode_base64(child.text)
            except ValueError as exc:
                raise _Invalid(f"BLOB {name!r}: {exc}") from None
        blobs.append(OneBLOB(name=name, size=size, format=fmt, data=data))
    return tuple(blobs)


def _dec_def_common(elem: Element) -> dict[str, Any]:
    return {
        "device": _req(elem, "device"),
        "name": _req(elem, "name"),
        "label": elem.attrs.get("label"),
        "group": elem.attrs.get("group"),
        "state": _lookup(_STATES, elem, "state"),
        "timestamp": _timestamp(elem),
        "message": elem.attrs.get("message"),
    }


def _timeout(elem: Element) -> str | None:
    raw = elem.attrs.get("timeout")
    if raw is None:
        return None
    return _number(raw.strip(), "timeout")


def _dec_def_text(elem: Element, _: TakeAttachment) -> Event:
    return DefTextVector(
        **_dec_def_common(elem),
        perm=_lookup(_PERMS, elem, "perm"),
        timeout=_timeout(elem),
        members=tuple(
            DefText(name=_req(c, "name"), label=c.attrs.get("label"), value=_text(c))
            for c in _members(elem, "defText")
        ),
    )


def _dec_def_number(elem: Element, _: TakeAttachment) -> Event:
    members = []
    for c in _members(elem, "defNumber"):
        name = _req(c, "name")
        members.append(
            DefNumber(
                name=name,
                label=c.attrs.get("label"),
                format=c.attrs.get("format", "%g"),
                min=_number(c.attrs.get("min", "0").strip(), "min"),
                max=_number(c.attrs.get("max", "0").strip(), "max"),
                step=_number(c.attrs.get("step", "0").strip(), "step"),
                value=_number(_text(c), f"value of {name!r}"),
            )
        )
    return DefNumberVector(
        **_dec_def_common(elem),
        perm=_lookup(_PERMS, elem, "perm"),
        timeout=_timeout(elem),
        members=tuple(members),
    )


def _dec_def_switch(elem: Element, _: TakeAttachment) -> Event:
    members = []
    for c in _members(elem, "defSwitch"):
        value = _text(c)
        if value not in _SWITCHES:
            raise _Invalid(f"switch value {value!r}")
        members.append(
            DefSwitch(name=_req(c, "name"), label=c.attrs.get("label"), value=_SWITCHES[value])
        )
    return DefSwitchVector(
        **_dec_def_common(elem),
        perm=_lookup(_PERMS, elem, "perm"),
        rule=_lookup(_RULES, elem, "rule"),
        timeout=_timeout(elem),
        members=tuple(members),
    )


def _dec_def_light(elem: Element, _: TakeAttachment) -> Event:
    members = []
    for c in _members(elem, "defLight"):
        value = _text(c)
        if value not in _STATES:
            raise _Invalid(f"light value {value!r}")
        members.append(
            DefLight(name=_req(c, "name"), label=c.attrs.get("label"), value=_STATES[value])
        )
    return DefLightVector(**_dec_def_common(elem), members=tuple(members))


def _dec_def_blob(elem: Element, _: TakeAttachment) -> Event:
    return DefBLOBVector(
        **_dec_def_common(elem),
        perm=_lookup(_PERMS, elem, "perm"),
        timeout=_timeout(elem),
        members=tuple(
            DefBLOB(name=_req(c, "name"), label=c.attrs.get("label"))
            for c in _members(elem, "defBLOB")
        ),
    )


_setattr = object.__setattr__


def _set_common(elem: Element) -> dict[str, Any]:
    return {
        "device": _req(elem, "device"),
        "name": _req(elem, "name"),
        "state": _lookup(_STATES, elem, "state", required=False),
        "timestamp": _timestamp(elem),
        "message": elem.attrs.get("message"),
    }


def _dec_set_number(elem: Element, _: TakeAttachment) -> Event:
    return SetNumberVector(
        **_set_common(elem), timeout=_timeout(elem), values=_number_values(elem, "oneNumber")
    )


def _dec_set_text(elem: Element, _: TakeAttachment) -> Event:
    return SetTextVector(
        **_set_common(elem), timeout=_timeout(elem), values=dict(_named_values(elem, "oneText"))
    )


def _dec_set_switch(elem: Element, _: TakeAttachment) -> Event:
    return SetSwitchVector(
        **_set_common(elem),
        timeout=_timeout(elem),
        values=_enum_map(elem, "oneSwitch", _SWITCHES, "switch value"),
    )


def _dec_set_light(elem: Element, _: TakeAttachment) -> Event:
    return SetLightVector(
        **_set_common(elem), values=_enum_map(elem, "oneLight", _STATES, "light value")
    )


def _dec_set_blob(elem: Element, take: TakeAttachment) -> Event:
    return SetBLOBVector(**_set_common(elem), timeout=_timeout(elem), blobs=_blob_list(elem, take))


def _new_common(elem: Element) -> dict[str, Any]:
    return {
        "device": _req(elem, "device"),
        "name": _req(elem, "name"),
        "timestamp": _timestamp(elem),
    }


def _dec_new_number(elem: Element, _: TakeAttachment) -> Event:
    return NewNumberVector(**_new_common(elem), values=_number_values(elem, "oneNumber"))


def _dec_new_text(elem: Element, _: TakeAttachment) -> Event:
    return NewTextVector(**_new_common(elem), values=dict(_named_values(elem, "oneText")))


def _dec_new_switch(elem: Element, _: TakeAttachment) -> Event:
    return NewSwitchVector(
        **_new_common(elem), values=_enum_map(elem, "oneSwitch", _SWITCHES, "switch value")
    )


def _dec_new_blob(elem: Element, take: TakeAttachment) -> Event:
    return NewBLOBVector(**_new_common(elem), blobs=_blob_list(elem, take))


def _dec_get_properties(elem: Element, _: TakeAttachment) -> Event:
    a = elem.attrs
    return GetProperties(version=a.get("version"), device=a.get("device"), name=a.get("name"))


def _dec_enable_blob(elem: Element, _: TakeAttachment) -> Event:
    value = _text(elem)
    try:
        policy = _POLICIES[value]
    except KeyError:
        raise _Invalid(f"enableBLOB value {value!r} is not Never, Also or Only") from None
    return EnableBLOB(device=elem.attrs.get("device"), name=elem.attrs.get("name"), policy=policy)


def _dec_message(elem: Element, _: TakeAttachment) -> Event:
    a = elem.attrs
    return Message(device=a.get("device"), timestamp=_timestamp(elem), message=a.get("message"))


def _dec_del_property(elem: Element, _: TakeAttachment) -> Event:
    a = elem.attrs
    return DelProperty(
        device=_req(elem, "device"),
        name=a.get("name"),
        timestamp=_timestamp(elem),
        message=a.get("message"),
    )


def _plain_number(text: str) -> bool:
    try:
        return math.isfinite(float(text)) and "_" not in text and text.isascii()
    except ValueError:
        return False


def _check_plain(item: PlainVector) -> dict[str, Any]:
    # The fast path's twin of the decoders above: the same checks, written
    # out for the commonest messages. Returns the event's fields but the
    # timestamp. Tests compare both paths.
    attrs = item.attrs
    tag = item.tag
    device = attrs.get("device")
    name = attrs.get("name")
    if not device or not name or device != device.strip() or name != name.strip():
        raise _Invalid(f"<{tag}> needs non-empty device and name attributes")
    kind = tag[3:-6]  # "Number", "Switch", "Text" or "Light"
    values: dict[str, Any] = {}
    for member, raw in item.members:
        if not member or member != member.strip():
            raise _Invalid(f"<one{kind}> needs a non-empty name attribute")
        if member in values:
            raise _Invalid(f"member {member!r} appears twice")
        text = raw.strip()
        if kind == "Number":
            try:
                plain = math.isfinite(float(text)) and "_" not in text and text.isascii()
            except ValueError:
                plain = False
            if not plain:  # sexagesimal, or not a number at all
                _number(text, f"value of {member!r}")
            values[member] = text
        elif kind == "Switch":
            try:
                values[member] = _SWITCHES[text]
            except KeyError:
                raise _Invalid(f"switch value of {member!r} is {text!r}") from None
        elif kind == "Light":
            try:
                values[member] = _STATES[text]
            except KeyError:
                raise _Invalid(f"light value of {member!r} is {text!r}") from None
        else:
            values[member] = text
    fields: dict[str, Any] = {"device": device, "name": name, "values": values}
    if tag[0] == "s":
        state = attrs.get("state")
        if state is not None:
            try:
                state = _STATES[state]
            except KeyError:
                raise _Invalid(f"<{tag}> has an invalid state {state!r}") from None
        fields["state"] = state
        fields["message"] = attrs.get("message")
        if kind != "Light":
            timeout = attrs.get("timeout")
            if timeout is not None:
                timeout = timeout.strip()
                if not _plain_number(timeout):
                    _number(timeout, "timeout")
            fields["timeout"] = timeout
    return fields


def _decode_plain(item: PlainVector) -> Event:
    fields = _check_plain(item)
    raw_ts = item.attrs.get("timestamp")
    event = object.__new__(_PLAIN_CLASSES[item.tag])
    _setattr(event, "timestamp", parse_timestamp(raw_ts) if raw_ts else None)
    for key, value in fields.items():
        _setattr(event, key, value)
    return event  # type: ignore[no-any-return]


def check_plain(item: PlainVector) -> None:
    """Check a fast-path vector as decoding it would, without making the event.

    For relays, which forward the element's own text once it is known good.

    Raises:
        RemoteProtocolError: with ``well_formed=True``, as :func:`decode_element` would.
    """
    try:
        _check_plain(item)
    except (_Invalid, LocalProtocolError) as exc:
        raise _remote_error(str(exc), item) from None


def _remote_error(msg: str, elem: Element | PlainVector) -> RemoteProtocolError:
    return RemoteProtocolError(
        msg,
        well_formed=True,
        tag=elem.tag,
        device=elem.attrs.get("device"),
        name=elem.attrs.get("name"),
    )


_PLAIN_CLASSES: dict[str, type[Any]] = {
    "setNumberVector": SetNumberVector,
    "setSwitchVector": SetSwitchVector,
    "setTextVector": SetTextVector,
    "setLightVector": SetLightVector,
    "newNumberVector": NewNumberVector,
    "newSwitchVector": NewSwitchVector,
    "newTextVector": NewTextVector,
}


_DECODERS: dict[str, Callable[[Element, TakeAttachment], Event]] = {
    "setNumberVector": _dec_set_number,
    "setTextVector": _dec_set_text,
    "setSwitchVector": _dec_set_switch,
    "setLightVector": _dec_set_light,
    "setBLOBVector": _dec_set_blob,
    "newNumberVector": _dec_new_number,
    "newTextVector": _dec_new_text,
    "newSwitchVector": _dec_new_switch,
    "newBLOBVector": _dec_new_blob,
    "defTextVector": _dec_def_text,
    "defNumberVector": _dec_def_number,
    "defSwitchVector": _dec_def_switch,
    "defLightVector": _dec_def_light,
    "defBLOBVector": _dec_def_blob,
    "getProperties": _dec_get_properties,
    "enableBLOB": _dec_enable_blob,
    "message": _dec_message,
    "delProperty": _dec_del_property,
    "pingRequest": lambda e, _: PingRequest(uid=e.attrs.get("uid")),
    "pingReply": lambda e, _: PingReply(uid=e.attrs.get("uid")),
}


def _no_attachment() -> bytes | None:
    return None


def decode_element(
    elem: Element | PlainVector, take_attachment: TakeAttachment = _no_attachment
) -> Event:
    """Turn one parsed top-level element into its event.

    Raises:
        RemoteProtocolError: with ``well_formed=True``: the element is not valid
            INDI (unknown tag, missing attribute, bad value).
    """
    if type(elem) is PlainVector:
        try:
            return _decode_plain(elem)
        except (_Invalid, LocalProtocolError) as exc:
            raise _remote_error(str(exc), elem) from None
    assert type(elem) is Element  # noqa: S101 - for the type checker
    try:
        decoder = _DECODERS[elem.tag]
    except KeyError:
        raise _remote_error(f"unknown element <{elem.tag}>", elem) from None
    try:
        return decoder(elem, take_attachment)
    except (_Invalid, LocalProtocolError) as exc:
        raise _remote_error(str(exc), elem) from None
