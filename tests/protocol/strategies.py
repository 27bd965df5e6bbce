"""Hypothesis strategies of INDI events: every event type, with valid contents."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from pi_indi.protocol import (
    BLOBPolicy,
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
    GetProperties,
    Message,
    NewBLOBVector,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    OneBLOB,
    Permission,
    PingReply,
    PingRequest,
    PropertyState,
    SetBLOBVector,
    SetLightVector,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    SwitchRule,
    SwitchState,
    number_to_wire,
)

PRINTABLE = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn"))
WITH_LAYOUT = st.one_of(PRINTABLE, st.sampled_from(" \t\n"))

NAMES = st.text(PRINTABLE, min_size=1, max_size=12).filter(lambda s: s == s.strip())
TEXT = st.text(WITH_LAYOUT, max_size=24).map(str.strip)
OPTIONAL_TEXT = st.none() | st.text(WITH_LAYOUT, max_size=24)
NUMBERS = st.floats(allow_nan=False, allow_infinity=False).map(number_to_wire)
OPTIONAL_NUMBER = st.none() | NUMBERS
TIMESTAMPS = st.none() | st.datetimes()
STATES = st.sampled_from(PropertyState)
OPTIONAL_STATES = st.none() | STATES
SWITCHES = st.sampled_from(SwitchState)
PERMS = st.sampled_from(Permission)
FORMATS = st.sampled_from(["%g", "%.3f", "%8.2f", "%e", "%5d", "%7.3m", "%9.6m", "%12.9m"])


def unique_members(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(strategy, min_size=1, max_size=4, unique_by=lambda m: m.name).map(tuple)


def values(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(NAMES, strategy, max_size=4)


@st.composite
def blobs(draw: st.DrawFn) -> OneBLOB:
    data = draw(st.binary(max_size=64))
    return OneBLOB(name=draw(NAMES), size=len(data), format=draw(TEXT), data=data)


BLOB_TUPLES = st.lists(blobs(), max_size=3, unique_by=lambda b: b.name).map(tuple)


@st.composite
def get_properties(draw: st.DrawFn) -> GetProperties:
    device = draw(st.none() | NAMES)
    name = None if device is None else draw(st.none() | NAMES)
    return GetProperties(version=draw(st.none() | TEXT), device=device, name=name)


@st.composite
def enable_blob(draw: st.DrawFn) -> EnableBLOB:
    device = draw(st.none() | NAMES)
    name = None if device is None else draw(st.none() | NAMES)
    return EnableBLOB(device=device, name=name, policy=draw(st.sampled_from(BLOBPolicy)))


DEF_COMMON = {
    "device": NAMES,
    "name": NAMES,
    "label": OPTIONAL_TEXT,
    "group": OPTIONAL_TEXT,
    "state": STATES,
    "timestamp": TIMESTAMPS,
    "message": OPTIONAL_TEXT,
}
SET_COMMON = {
    "device": NAMES,
    "name": NAMES,
    "state": OPTIONAL_STATES,
    "timestamp": TIMESTAMPS,
    "message": OPTIONAL_TEXT,
}
NEW_COMMON = {"device": NAMES, "name": NAMES, "timestamp": TIMESTAMPS}

EVENTS_BY_TYPE: dict[type, st.SearchStrategy[Any]] = {
    GetProperties: get_properties(),
    Message: st.builds(
        Message, device=st.none() | NAMES, timestamp=TIMESTAMPS, message=OPTIONAL_TEXT
    ),
    DelProperty: st.builds(
        DelProperty,
        device=NAMES,
        name=st.none() | NAMES,
        timestamp=TIMESTAMPS,
        message=OPTIONAL_TEXT,
    ),
    PingRequest: st.builds(PingRequest, uid=OPTIONAL_TEXT),
    PingReply: st.builds(PingReply, uid=OPTIONAL_TEXT),
    DefTextVector: st.builds(
        DefTextVector,
        **DEF_COMMON,
        perm=PERMS,
        timeout=OPTIONAL_NUMBER,
        members=unique_members(st.builds(DefText, name=NAMES, label=OPTIONAL_TEXT, value=TEXT)),
    ),
    DefNumberVector: st.builds(
        DefNumberVector,
        **DEF_COMMON,
        perm=PERMS,
        timeout=OPTIONAL_NUMBER,
        members=unique_members(
            st.builds(
                DefNumber,
                name=NAMES,
                label=OPTIONAL_TEXT,
                format=FORMATS,
                min=NUMBERS,
                max=NUMBERS,
                step=NUMBERS,
                value=NUMBERS,
            )
        ),
    ),
    DefSwitchVector: st.builds(
        DefSwitchVector,
        **DEF_COMMON,
        perm=PERMS,
        rule=st.sampled_from(SwitchRule),
        timeout=OPTIONAL_NUMBER,
        members=unique_members(
            st.builds(DefSwitch, name=NAMES, label=OPTIONAL_TEXT, value=SWITCHES)
        ),
    ),
    DefLightVector: st.builds(
        DefLightVector,
        **DEF_COMMON,
        members=unique_members(st.builds(DefLight, name=NAMES, label=OPTIONAL_TEXT, value=STATES)),
    ),
    DefBLOBVector: st.builds(
        DefBLOBVector,
        **DEF_COMMON,
        perm=PERMS,
        timeout=OPTIONAL_NUMBER,
        members=unique_members(st.builds(DefBLOB, name=NAMES, label=OPTIONAL_TEXT)),
    ),
    SetTextVector: st.builds(
        SetTextVector, **SET_COMMON, timeout=OPTIONAL_NUMBER, values=values(TEXT)
    ),
    SetNumberVector: st.builds(
        SetNumberVector, **SET_COMMON, timeout=OPTIONAL_NUMBER, values=values(NUMBERS)
    ),
    SetSwitchVector: st.builds(
        SetSwitchVector, **SET_COMMON, timeout=OPTIONAL_NUMBER, values=values(SWITCHES)
    ),
    SetLightVector: st.builds(SetLightVector, **SET_COMMON, values=values(STATES)),
    SetBLOBVector: st.builds(
        SetBLOBVector, **SET_COMMON, timeout=OPTIONAL_NUMBER, blobs=BLOB_TUPLES
    ),
    NewTextVector: st.builds(NewTextVector, **NEW_COMMON, values=values(TEXT)),
    NewNumberVector: st.builds(NewNumberVector, **NEW_COMMON, values=values(NUMBERS)),
    NewSwitchVector: st.builds(NewSwitchVector, **NEW_COMMON, values=values(SWITCHES)),
    NewBLOBVector: st.builds(NewBLOBVector, **NEW_COMMON, blobs=BLOB_TUPLES),
}
