from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast, get_args

import pytest

from pi_indi.errors import ProtocolError
from pi_indi.protocol import (
    CLOSED,
    NEED_DATA,
    BLOBPolicy,
    BLOBPolicyTable,
    Connection,
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
    LocalProtocolError,
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
    RemoteProtocolError,
    SetBLOBVector,
    SetLightVector,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    SwitchRule,
    SwitchState,
    encode,
)

TS = datetime(2026, 11, 22, 1, 2, 3)
GOOD = b'<pingRequest uid="after"/>\n'
AFTER = PingRequest(uid="after")

# -- helpers ----------------------------------------------------------------------


def collect(
    conn: Connection, *, limit: int = 1000
) -> tuple[list[Event], list[RemoteProtocolError]]:
    """Read events until NEED_DATA or CLOSED; errors are collected, not raised."""
    events: list[Event] = []
    errors: list[RemoteProtocolError] = []
    for _ in range(limit):
        try:
            event = conn.next_event()
        except RemoteProtocolError as exc:
            errors.append(exc)
            continue
        if event is NEED_DATA or event is CLOSED:
            return events, errors
        events.append(cast(Event, event))
    raise AssertionError(f"next_event() made no progress in {limit} calls")


def decode_all(data: bytes, **limits: int) -> tuple[list[Event], list[RemoteProtocolError]]:
    conn = Connection(**limits)
    conn.receive_data(data)
    return collect(conn)


def decode_in_chunks(
    data: bytes, size: int, **limits: int
) -> tuple[list[Event], list[RemoteProtocolError]]:
    conn = Connection(**limits)
    events: list[Event] = []
    errors: list[RemoteProtocolError] = []
    for i in range(0, len(data), size):
        conn.receive_data(data[i : i + size])
        more, errs = collect(conn)
        events += more
        errors += errs
    return events, errors


def decode_one(data: bytes) -> Event:
    events, errors = decode_all(data)
    assert not errors
    assert len(events) == 1
    return events[0]


# -- the exact-bytes table --------------------------------------------------------

CASES = [
    # Requests and notices
    pytest.param(GetProperties(), b'<getProperties version="1.7"/>\n', id="getProperties"),
    pytest.param(
        GetProperties(device="Mount"),
        b'<getProperties version="1.7" device="Mount"/>\n',
        id="getProperties-device",
    ),
    pytest.param(
        GetProperties(device="Mount", name="EQUATORIAL_EOD_COORD"),
        b'<getProperties version="1.7" device="Mount" name="EQUATORIAL_EOD_COORD"/>\n',
        id="getProperties-device-name",
    ),
    pytest.param(GetProperties(version=None), b"<getProperties/>\n", id="getProperties-bare"),
    pytest.param(
        EnableBLOB(policy=BLOBPolicy.ALSO), b"<enableBLOB>Also</enableBLOB>\n", id="enableBLOB"
    ),
    pytest.param(
        EnableBLOB(device="CCD", policy=BLOBPolicy.NEVER),
        b'<enableBLOB device="CCD">Never</enableBLOB>\n',
        id="enableBLOB-device",
    ),
    pytest.param(
        EnableBLOB(device="CCD", name="CCD1", policy=BLOBPolicy.ONLY),
        b'<enableBLOB device="CCD" name="CCD1">Only</enableBLOB>\n',
        id="enableBLOB-property",
    ),
    pytest.param(Message(message="hello"), b'<message message="hello"/>\n', id="message"),
    pytest.param(
        Message(device="Mount", timestamp=TS, message="Slewing"),
        b'<message device="Mount" timestamp="2026-11-22T01:02:03" message="Slewing"/>\n',
        id="message-device",
    ),
    pytest.param(
        Message(device="Mount", message="Temp\u00e9rature 20 \u00b0C \u2609"),
        b'<message device="Mount" message="Temp\xc3\xa9rature 20 \xc2\xb0C \xe2\x98\x89"/>\n',
        id="message-utf8",
    ),
    pytest.param(DelProperty(device="Mount"), b'<delProperty device="Mount"/>\n', id="delProperty"),
    pytest.param(
        DelProperty(device="Mount", name="P", timestamp=TS, message="gone"),
        b'<delProperty device="Mount" name="P" timestamp="2026-11-22T01:02:03" message="gone"/>\n',
        id="delProperty-name",
    ),
    pytest.param(PingRequest(uid="42"), b'<pingRequest uid="42"/>\n', id="pingRequest"),
    pytest.param(PingRequest(), b"<pingRequest/>\n", id="pingRequest-no-uid"),
    pytest.param(PingReply(uid="42"), b'<pingReply uid="42"/>\n', id="pingReply"),
    # Definitions
    pytest.param(
        DefTextVector(
            device="Mount",
            name="SITE",
            label="Site",
            group="Options",
            state=PropertyState.OK,
            perm=Permission.RO,
            timeout="5",
            timestamp=TS,
            message="defined",
            members=(DefText(name="NAME", label="Name", value="Home"), DefText(name="NOTE")),
        ),
        b'<defTextVector device="Mount" name="SITE" label="Site" group="Options" state="Ok"'
        b' perm="ro" timeout="5" timestamp="2026-11-22T01:02:03" message="defined">\n'
        b'<defText name="NAME" label="Name">Home</defText>\n'
        b'<defText name="NOTE"></defText>\n'
        b"</defTextVector>\n",
        id="defTextVector",
    ),
    pytest.param(
        DefNumberVector(
            device="Mount",
            name="EQUATORIAL_EOD_COORD",
            state=PropertyState.BUSY,
            members=(
                DefNumber(
                    name="RA", label="RA", format="%10.6m", min="0", max="24", step="0", value="5.5"
                ),
                DefNumber(name="DEC", format="%g", min="-90", max="90", step="1", value="-10:30"),
            ),
        ),
        b'<defNumberVector device="Mount" name="EQUATORIAL_EOD_COORD" state="Busy" perm="rw">\n'
        b'<defNumber name="RA" label="RA" format="%10.6m" min="0" max="24" step="0">5.5'
        b"</defNumber>\n"
        b'<defNumber name="DEC" format="%g" min="-90" max="90" step="1">-10:30</defNumber>\n'
        b"</defNumberVector>\n",
        id="defNumberVector",
    ),
    pytest.param(
        DefSwitchVector(
            device="Mount",
            name="CONNECTION",
            group="Main",
            rule=SwitchRule.ONE_OF_MANY,
            members=(
                DefSwitch(name="CONNECT", label="Connect", value=SwitchState.ON),
                DefSwitch(name="DISCONNECT"),
            ),
        ),
        b'<defSwitchVector device="Mount" name="CONNECTION" group="Main" state="Idle" perm="rw"'
        b' rule="OneOfMany">\n'
        b'<defSwitch name="CONNECT" label="Connect">On</defSwitch>\n'
        b'<defSwitch name="DISCONNECT">Off</defSwitch>\n'
        b"</defSwitchVector>\n",
        id="defSwitchVector",
    ),
    pytest.param(
        DefLightVector(
            device="Mount",
            name="STATUS",
            label="Status",
            state=PropertyState.ALERT,
            members=(DefLight(name="TRACKING", value=PropertyState.OK), DefLight(name="LIMIT")),
        ),
        b'<defLightVector device="Mount" name="STATUS" label="Status" state="Alert">\n'
        b'<defLight name="TRACKING">Ok</defLight>\n'
        b'<defLight name="LIMIT">Idle</defLight>\n'
        b"</defLightVector>\n",
        id="defLightVector",
    ),
    pytest.param(
        DefBLOBVector(
            device="CCD",
            name="CCD1",
            timeout="60",
            members=(DefBLOB(name="CCD1", label="Image"),),
        ),
        b'<defBLOBVector device="CCD" name="CCD1" state="Idle" perm="ro" timeout="60">\n'
        b'<defBLOB name="CCD1" label="Image"/>\n'
        b"</defBLOBVector>\n",
        id="defBLOBVector",
    ),
    # Values from a device
    pytest.param(
        SetTextVector(
            device="Mount",
            name="SITE",
            state=PropertyState.OK,
            timeout="3",
            timestamp=TS,
            message="set",
            values={"NAME": "Away", "NOTE": ""},
        ),
        b'<setTextVector device="Mount" name="SITE" state="Ok" timeout="3"'
        b' timestamp="2026-11-22T01:02:03" message="set">\n'
        b'<oneText name="NAME">Away</oneText>\n'
        b'<oneText name="NOTE"></oneText>\n'
        b"</setTextVector>\n",
        id="setTextVector",
    ),
    pytest.param(
        SetNumberVector(
            device="Mount",
            name="EQUATORIAL_EOD_COORD",
            state=PropertyState.BUSY,
            timeout="10",
            timestamp=TS,
            message="slewing",
            values={"RA": "5.5", "DEC": "-10:30:18"},
        ),
        b'<setNumberVector device="Mount" name="EQUATORIAL_EOD_COORD" state="Busy" timeout="10"'
        b' timestamp="2026-11-22T01:02:03" message="slewing">\n'
        b'<oneNumber name="RA">5.5</oneNumber>\n'
        b'<oneNumber name="DEC">-10:30:18</oneNumber>\n'
        b"</setNumberVector>\n",
        id="setNumberVector",
    ),
    pytest.param(
        SetNumberVector(device="Mount", name="FOCUS", values={"POS": "1e-06"}),
        b'<setNumberVector device="Mount" name="FOCUS">\n'
        b'<oneNumber name="POS">1e-06</oneNumber>\n'
        b"</setNumberVector>\n",
        id="setNumberVector-minimal",
    ),
    pytest.param(
        SetSwitchVector(
            device="Mount",
            name="CONNECTION",
            state=PropertyState.OK,
            values={"CONNECT": SwitchState.ON, "DISCONNECT": SwitchState.OFF},
        ),
        b'<setSwitchVector device="Mount" name="CONNECTION" state="Ok">\n'
        b'<oneSwitch name="CONNECT">On</oneSwitch>\n'
        b'<oneSwitch name="DISCONNECT">Off</oneSwitch>\n'
        b"</setSwitchVector>\n",
        id="setSwitchVector",
    ),
    pytest.param(
        SetLightVector(
            device="Mount", name="STATUS", timestamp=TS, values={"LIMIT": PropertyState.ALERT}
        ),
        b'<setLightVector device="Mount" name="STATUS" timestamp="2026-11-22T01:02:03">\n'
        b'<oneLight name="LIMIT">Alert</oneLight>\n'
        b"</setLightVector>\n",
        id="setLightVector",
    ),
    pytest.param(
        SetBLOBVector(
            device="CCD",
            name="CCD1",
            state=PropertyState.OK,
            blobs=(
                OneBLOB(name="CCD1", size=3, format=".fits", data=b"abc"),
                OneBLOB(name="CCD2", size=0, format=".fits"),
            ),
        ),
        b'<setBLOBVector device="CCD" name="CCD1" state="Ok">\n'
        b'<oneBLOB name="CCD1" size="3" format=".fits">YWJj</oneBLOB>\n'
        b'<oneBLOB name="CCD2" size="0" format=".fits"></oneBLOB>\n'
        b"</setBLOBVector>\n",
        id="setBLOBVector",
    ),
    pytest.param(
        SetBLOBVector(device="CCD", name="CCD1", state=PropertyState.BUSY),
        b'<setBLOBVector device="CCD" name="CCD1" state="Busy">\n</setBLOBVector>\n',
        id="setBLOBVector-state-only",
    ),
    # Values from a client
    pytest.param(
        NewTextVector(device="Mount", name="SITE", timestamp=TS, values={"NAME": "Home"}),
        b'<newTextVector device="Mount" name="SITE" timestamp="2026-11-22T01:02:03">\n'
        b'<oneText name="NAME">Home</oneText>\n'
        b"</newTextVector>\n",
        id="newTextVector",
    ),
    pytest.param(
        NewNumberVector(
            device="Mount", name="EQUATORIAL_EOD_COORD", values={"RA": "12:30", "DEC": "45"}
        ),
        b'<newNumberVector device="Mount" name="EQUATORIAL_EOD_COORD">\n'
        b'<oneNumber name="RA">12:30</oneNumber>\n'
        b'<oneNumber name="DEC">45</oneNumber>\n'
        b"</newNumberVector>\n",
        id="newNumberVector",
    ),
    pytest.param(
        NewSwitchVector(device="Mount", name="CONNECTION", values={"CONNECT": SwitchState.ON}),
        b'<newSwitchVector device="Mount" name="CONNECTION">\n'
        b'<oneSwitch name="CONNECT">On</oneSwitch>\n'
        b"</newSwitchVector>\n",
        id="newSwitchVector",
    ),
    pytest.param(
        NewBLOBVector(
            device="CCD",
            name="UPLOAD",
            timestamp=TS,
            blobs=(OneBLOB(name="FILE", size=5, format=".txt", data=b"\x00\xffab\n"),),
        ),
        b'<newBLOBVector device="CCD" name="UPLOAD" timestamp="2026-11-22T01:02:03">\n'
        b'<oneBLOB name="FILE" size="5" format=".txt">AP9hYgo=</oneBLOB>\n'
        b"</newBLOBVector>\n",
        id="newBLOBVector",
    ),
]


def decode_cases() -> list[Any]:
    out = []
    for case in CASES:
        event, wire = case.values
        out.append(pytest.param(event, wire, id=case.id))
    return out


def stream_cases() -> list[tuple[Event, bytes]]:
    out = []
    for case in CASES:
        event, wire = case.values
        out.append((cast(Event, event), cast(bytes, wire)))
    return out


@pytest.mark.parametrize(("event", "wire"), CASES)
def test_encode_gives_exact_bytes(event, wire):
    assert encode(event) == wire
    assert Connection().send(event) == wire


@pytest.mark.parametrize(("event", "wire"), decode_cases())
def test_decode_gives_the_event(event, wire):
    conn = Connection()
    conn.receive_data(wire)
    decoded = conn.next_event()
    assert type(decoded) is type(event)
    assert decoded == event
    assert conn.next_event() is NEED_DATA
    assert conn.buffered == 0


def test_every_event_type_is_in_the_table():
    assert {type(case.values[0]) for case in CASES} == set(get_args(Event))


def test_encode_refuses_non_events():
    bogus: Any = object()
    with pytest.raises(LocalProtocolError, match="not an INDI event"):
        encode(bogus)


# -- escaping ---------------------------------------------------------------------

NASTY = "a&b<c>d\"e'f"
NASTY_WIRE = b"a&amp;b&lt;c&gt;d&quot;e&apos;f"


def test_attributes_are_escaped():
    event = Message(device="D&<>\"'", message=NASTY)
    assert encode(event) == (
        b'<message device="D&amp;&lt;&gt;&quot;&apos;" message="' + NASTY_WIRE + b'"/>\n'
    )


def test_text_is_escaped():
    event = SetTextVector(device="D", name="P", values={NASTY: NASTY})
    assert encode(event) == (
        b'<setTextVector device="D" name="P">\n'
        b'<oneText name="' + NASTY_WIRE + b'">' + NASTY_WIRE + b"</oneText>\n"
        b"</setTextVector>\n"
    )


def test_labels_and_blob_formats_are_escaped():
    vector = DefTextVector(
        device="D",
        name="P",
        label="<L>",
        group="&G",
        message="'m'",
        members=(DefText(name="T", label='"t"', value="v"),),
    )
    assert encode(vector) == (
        b'<defTextVector device="D" name="P" label="&lt;L&gt;" group="&amp;G" state="Idle"'
        b' perm="rw" message="&apos;m&apos;">\n'
        b'<defText name="T" label="&quot;t&quot;">v</defText>\n'
        b"</defTextVector>\n"
    )
    blobs = NewBLOBVector(device="D", name="P", blobs=(OneBLOB(name="B", size=0, format="<&>"),))
    assert b'format="&lt;&amp;&gt;"' in encode(blobs)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(Message(device="D&<>\"'", message=NASTY), id="attributes"),
        pytest.param(SetTextVector(device="D", name="P", values={NASTY: NASTY}), id="text"),
        pytest.param(
            DefTextVector(
                device="D", name=NASTY, label=NASTY, members=(DefText(name=NASTY, value=NASTY),)
            ),
            id="def",
        ),
    ],
)
def test_escaped_values_decode_back(event):
    assert decode_one(encode(event)) == event


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        pytest.param(
            b'<message device="D&amp;&lt;&gt;&quot;&apos;" message="' + NASTY_WIRE + b'"/>',
            Message(device="D&<>\"'", message=NASTY),
            id="entities-in-double-quoted-attribute",
        ),
        pytest.param(
            b"<message message='say \"hi\" > &apos;bye&apos;'/>",
            Message(message="say \"hi\" > 'bye'"),
            id="single-quoted-attribute",
        ),
        pytest.param(
            b'<message message="&#60;&#x3E;&#X26;&#233;"/>',
            Message(message="<>&\u00e9"),
            id="character-references",
        ),
        pytest.param(
            b'<message message="a &amp b &foo; &#0;"/>',
            Message(message="a &amp b &foo; &#0;"),
            id="unknown-references-kept",
        ),
        pytest.param(
            b'<setTextVector device="D" name="P"><oneText name="T">'
            b"&lt;&amp;&gt;&quot;&apos; &#65; > \"'</oneText></setTextVector>",
            SetTextVector(device="D", name="P", values={"T": "<&>\"' A > \"'"}),
            id="entities-in-text",
        ),
        pytest.param(
            '<message message="caf\u00e9 \u2609"/>'.encode(),
            Message(message="caf\u00e9 \u2609"),
            id="utf8",
        ),
    ],
)
def test_escapes_are_decoded(wire, expected):
    assert decode_one(wire) == expected


def test_invalid_utf8_is_replaced_not_refused():
    data = b'<message message="a\xffb"/><setTextVector device="D" name="P">'
    data += b'<oneText name="T">\xc3(</oneText></setTextVector>'
    expected = [
        Message(message="a\ufffdb"),
        SetTextVector(device="D", name="P", values={"T": "\ufffd("}),
    ]
    assert decode_all(data) == (expected, [])
    assert decode_in_chunks(data, 1) == (expected, [])


def test_unencodable_text_is_a_local_protocol_error():
    with pytest.raises(LocalProtocolError):
        encode(Message(message="a\ud800b"))


# -- framing ----------------------------------------------------------------------


def framed_stream() -> tuple[bytes, list[Event]]:
    cases = stream_cases()
    parts = [b'<?xml version="1.0" encoding="UTF-8"?>\n', b"<!-- start <of> stream -->\n"]
    for i, (_, wire) in enumerate(cases):
        parts.append(wire)
        if i % 3 == 0:
            parts.append(b"<!-- between -->\r\n\t ")
    return b"".join(parts), [event for event, _ in cases]


def test_a_stream_of_every_event_decodes_in_one_chunk():
    data, expected = framed_stream()
    assert decode_all(data) == (expected, [])


def test_decoding_is_the_same_across_every_split_point():
    data, expected = framed_stream()
    for split in range(len(data) + 1):
        conn = Connection()
        if split:  # b"" would mean end of stream
            conn.receive_data(data[:split])
        first, errors1 = collect(conn)
        if split < len(data):
            conn.receive_data(data[split:])
        second, errors2 = collect(conn)
        assert (first + second, errors1 + errors2) == (expected, []), f"split at {split}"
        assert conn.buffered == 0


def test_decoding_byte_by_byte():
    data, expected = framed_stream()
    assert decode_in_chunks(data, 1) == (expected, [])


def test_member_text_is_stripped():
    data = (
        b'<setTextVector device="D" name="P">\n'
        b'  <oneText name="T">\n   hello  world \t\r\n</oneText>\n'
        b"</setTextVector>\n"
        b'<newNumberVector device="D" name="P"><oneNumber name="N"> 1.5\n</oneNumber>'
        b"</newNumberVector>"
        b'<setNumberVector device="D" name="P"><oneNumber name="N">\n-1:30 </oneNumber>'
        b"</setNumberVector>"
        b'<setSwitchVector device="D" name="P"><oneSwitch name="S">\n On \n</oneSwitch>'
        b"</setSwitchVector>"
        b'<defLightVector device="D" name="P" state="Ok"><defLight name="L"> Busy </defLight>'
        b"</defLightVector>"
    )
    expected = [
        SetTextVector(device="D", name="P", values={"T": "hello  world"}),
        NewNumberVector(device="D", name="P", values={"N": "1.5"}),
        SetNumberVector(device="D", name="P", values={"N": "-1:30"}),
        SetSwitchVector(device="D", name="P", values={"S": SwitchState.ON}),
        DefLightVector(
            device="D",
            name="P",
            state=PropertyState.OK,
            members=(DefLight(name="L", value=PropertyState.BUSY),),
        ),
    ]
    assert decode_all(data) == (expected, [])
    assert decode_in_chunks(data, 3) == (expected, [])


def test_declaration_and_comments_are_skipped_anywhere():
    data = (
        b'<?xml version="1.0"?>\n<!-- a <comment> with -- dashes -->'
        b'<setTextVector device="D" name="P"><!-- inside the vector -->'
        b'<oneText name="T">ab<!-- inside the text -->cd</oneText><?pi inside?>'
        b"</setTextVector>"
        b'<?xml version="1.0"?>' + GOOD
    )
    expected = [SetTextVector(device="D", name="P", values={"T": "abcd"}), AFTER]
    assert decode_all(data) == (expected, [])
    assert decode_in_chunks(data, 1) == (expected, [])


def test_input_may_arrive_before_the_first_read():
    conn = Connection()
    assert conn.next_event() is NEED_DATA
    conn.receive_data(GOOD[:5])
    assert conn.next_event() is NEED_DATA
    assert conn.buffered == 5
    conn.receive_data(GOOD[5:])
    assert conn.next_event() == AFTER
    assert conn.next_event() is NEED_DATA


# -- malformed input and resynchronisation ----------------------------------------

SYNTAX_ERRORS = [
    pytest.param(b'<!DOCTYPE indi [<!ENTITY x "boom">]>', id="doctype"),
    pytest.param(b'<!ENTITY x "boom">', id="entity"),
    pytest.param(b"<![CDATA[x < y]]>", id="cdata"),
    pytest.param(
        b'<setTextVector device="D" name="P"><oneText name="T"><![CDATA[x]]></oneText>'
        b"</setTextVector>",
        id="cdata-in-member",
    ),
    pytest.param(b"<1abc/>", id="tag-starts-with-digit"),
    pytest.param(b"< pingRequest/>", id="blank-after-lt"),
    pytest.param(b'<setTextVector device=D name="P"></setTextVector>', id="unquoted-attribute"),
    pytest.param(b'<setTextVector device="D" name="P" <oneText', id="unclosed-start-tag"),
    pytest.param(
        b'<setTextVector device="D" name="P"><oneText name="T">x</oneNumber></setTextVector>',
        id="mismatched-member-end",
    ),
    pytest.param(
        b'<setTextVector device="D" name="P"><oneText name="T">x</oneText></setNumberVector>',
        id="mismatched-vector-end",
    ),
    pytest.param(b"</setTextVector>", id="end-tag-closes-nothing"),
    pytest.param(b"hello", id="text-outside-elements"),
    pytest.param(b"x<", id="text-then-lt"),
    pytest.param(
        b'<setTextVector device="D" name="P"><oneText name="T"><b>x</b></oneText></setTextVector>',
        id="element-inside-member",
    ),
]


@pytest.mark.parametrize("bad", SYNTAX_ERRORS)
@pytest.mark.parametrize("chunk", [pytest.param(None, id="whole"), pytest.param(1, id="bytes")])
def test_syntax_errors_are_refused_and_the_stream_goes_on(bad, chunk):
    data = bad + GOOD
    events, errors = decode_all(data) if chunk is None else decode_in_chunks(data, chunk)
    assert events == [AFTER]
    assert len(errors) == 1
    assert not errors[0].well_formed


WELL_FORMED_ERRORS = [
    pytest.param(b'<foo device="D" name="P"/>', "foo", id="unknown-top-level"),
    pytest.param(b"<bar>x</bar>", "bar", id="unknown-top-level-with-body"),
    pytest.param(b'<oneText name="T">x</oneText>', "oneText", id="member-at-top-level"),
    pytest.param(
        b'<setTextVector name="P"><oneText name="T">x</oneText></setTextVector>',
        "setTextVector",
        id="missing-device",
    ),
    pytest.param(
        b'<setNumberVector device="D"><oneNumber name="N">1</oneNumber></setNumberVector>',
        "setNumberVector",
        id="missing-name",
    ),
    pytest.param(
        b'<defTextVector device="D" name="P" state="Ok"><defText name="T">x</defText>'
        b"</defTextVector>",
        "defTextVector",
        id="missing-perm",
    ),
    pytest.param(
        b'<defSwitchVector device="D" name="P" state="Ok" perm="rw">'
        b'<defSwitch name="S">On</defSwitch></defSwitchVector>',
        "defSwitchVector",
        id="missing-rule",
    ),
    pytest.param(b'<delProperty name="P"/>', "delProperty", id="delProperty-without-device"),
    pytest.param(
        b'<setTextVector device="D" name="P"><oneText>x</oneText></setTextVector>',
        "setTextVector",
        id="member-without-name",
    ),
    pytest.param(
        b'<setNumberVector device="D" name="P"><oneNumber name="N">abc</oneNumber>'
        b"</setNumberVector>",
        "setNumberVector",
        id="bad-number",
    ),
    pytest.param(
        b'<setNumberVector device="D" name="P"><oneNumber name="N">nan</oneNumber>'
        b"</setNumberVector>",
        "setNumberVector",
        id="nan",
    ),
    pytest.param(
        b'<newNumberVector device="D" name="P"><oneNumber name="N">1e999</oneNumber>'
        b"</newNumberVector>",
        "newNumberVector",
        id="overflowing-number",
    ),
    pytest.param(
        b'<setNumberVector device="D" name="P"><oneNumber name="N"></oneNumber></setNumberVector>',
        "setNumberVector",
        id="empty-number",
    ),
    pytest.param(
        b'<defNumberVector device="D" name="P" state="Ok" perm="rw">'
        b'<defNumber name="N" min="low">1</defNumber></defNumberVector>',
        "defNumberVector",
        id="bad-min",
    ),
    pytest.param(
        b'<defNumberVector device="D" name="P" state="Ok" perm="rw">'
        b'<defNumber name="N" format="%s">1</defNumber></defNumberVector>',
        "defNumberVector",
        id="bad-format",
    ),
    pytest.param(
        b'<setTextVector device="D" name="P" timeout="soon"></setTextVector>',
        "setTextVector",
        id="bad-timeout",
    ),
    pytest.param(
        b'<setSwitchVector device="D" name="P"><oneSwitch name="S">on</oneSwitch>'
        b"</setSwitchVector>",
        "setSwitchVector",
        id="bad-switch-value",
    ),
    pytest.param(
        b'<newSwitchVector device="D" name="P"><oneSwitch name="S">1</oneSwitch></newSwitchVector>',
        "newSwitchVector",
        id="bad-new-switch-value",
    ),
    pytest.param(
        b'<defSwitchVector device="D" name="P" state="Ok" perm="rw" rule="OneOfMany">'
        b'<defSwitch name="S">Maybe</defSwitch></defSwitchVector>',
        "defSwitchVector",
        id="bad-def-switch-value",
    ),
    pytest.param(
        b'<setLightVector device="D" name="P"><oneLight name="L">Red</oneLight></setLightVector>',
        "setLightVector",
        id="bad-light-value",
    ),
    pytest.param(
        b'<enableBLOB device="D">Sometimes</enableBLOB>', "enableBLOB", id="bad-enableBLOB"
    ),
    pytest.param(b'<enableBLOB device="D"/>', "enableBLOB", id="empty-enableBLOB"),
    pytest.param(
        b'<enableBLOB name="P">Also</enableBLOB>', "enableBLOB", id="enableBLOB-name-no-device"
    ),
    pytest.param(
        b'<setTextVector device="D" name="P" state="Fine"></setTextVector>',
        "setTextVector",
        id="bad-state",
    ),
    pytest.param(
        b'<defTextVector device="D" name="P" state="Ok" perm="rx"><defText name="T"/>'
        b"</defTextVector>",
        "defTextVector",
        id="bad-perm",
    ),
    pytest.param(
        b'<setTextVector device="D" name="P"><oneNumber name="T">1</oneNumber></setTextVector>',
        "setTextVector",
        id="wrong-member-tag",
    ),
    pytest.param(
        b'<setTextVector device="D" name="P"><oneText name="T">x</oneText>'
        b'<oneText name="T">y</oneText></setTextVector>',
        "setTextVector",
        id="duplicate-member",
    ),
    pytest.param(
        b'<setNumberVector device="D" name="P"><oneNumber name="N">1</oneNumber>'
        b'<oneNumber name="N">2</oneNumber></setNumberVector>',
        "setNumberVector",
        id="duplicate-number-member",
    ),
    pytest.param(
        b'<defTextVector device="D" name="P" state="Ok" perm="rw"></defTextVector>',
        "defTextVector",
        id="definition-without-members",
    ),
    pytest.param(b'<getProperties name="P"/>', "getProperties", id="getProperties-name-only"),
    pytest.param(
        b'<setTextVector device="" name="P"></setTextVector>', "setTextVector", id="empty-device"
    ),
    pytest.param(
        b'<setNumberVector device="D" name=""></setNumberVector>',
        "setNumberVector",
        id="empty-name",
    ),
    pytest.param(
        b'<setBLOBVector device="D" name="P"><oneBLOB name="B" size="x" format="">YWJj'
        b"</oneBLOB></setBLOBVector>",
        "setBLOBVector",
        id="bad-blob-size",
    ),
    pytest.param(
        b'<setBLOBVector device="D" name="P"><oneBLOB name="B" size="-1" format="">YWJj'
        b"</oneBLOB></setBLOBVector>",
        "setBLOBVector",
        id="negative-blob-size",
    ),
    pytest.param(
        b'<newBLOBVector device="D" name="P"><oneBLOB name="B" format="">YWJj'
        b"</oneBLOB></newBLOBVector>",
        "newBLOBVector",
        id="missing-blob-size",
    ),
    pytest.param(
        b'<setBLOBVector device="D" name="P"><oneBLOB name="B" size="3" format="">Y'
        b"</oneBLOB></setBLOBVector>",
        "setBLOBVector",
        id="bad-base64",
    ),
    pytest.param(
        b'<setBLOBVector device="D" name="P">'
        b'<oneBLOB name="B" size="3" format="" attached="true"/></setBLOBVector>',
        "setBLOBVector",
        id="attached-without-attachment",
    ),
]


@pytest.mark.parametrize(("bad", "tag"), WELL_FORMED_ERRORS)
@pytest.mark.parametrize("chunk", [pytest.param(None, id="whole"), pytest.param(1, id="bytes")])
def test_invalid_indi_is_refused_and_the_stream_goes_on(bad, tag, chunk):
    data = bad + b"\n" + GOOD
    events, errors = decode_all(data) if chunk is None else decode_in_chunks(data, chunk)
    assert events == [AFTER]
    assert len(errors) == 1
    assert errors[0].well_formed
    assert errors[0].tag == tag


def test_well_formed_errors_name_the_element():
    _, errors = decode_all(b'<setNumberVector device="Mount" name="FOCUS" state="Bad"/>')
    (error,) = errors
    assert (error.tag, error.device, error.name) == ("setNumberVector", "Mount", "FOCUS")
    assert isinstance(error, ProtocolError)


def test_errors_in_a_row_each_resynchronise():
    bad = [b"junk", b"<1/>", b"<foo/>", b"</message>", b"<!DOCTYPE x>"]
    data = b"".join(b + GOOD for b in bad)
    for chunk in (None, 1):
        events, errors = decode_all(data) if chunk is None else decode_in_chunks(data, chunk)
        assert events == [AFTER] * len(bad)
        assert [e.well_formed for e in errors] == [False, False, True, False, False]


def test_after_a_syntax_error_everything_up_to_the_next_indi_element_is_skipped():
    data = b"junk <foo/><bar>x</bar></message><!-- c -->" + GOOD
    events, errors = decode_all(data)
    assert events == [AFTER]
    assert len(errors) == 1


def test_duplicate_attribute_in_a_whole_element_is_refused():
    data = b'<setTextVector device="D" name="P" device="E"></setTextVector>' + GOOD
    events, errors = decode_all(data)
    assert events == [AFTER]
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("first", "rest"),
    [
        pytest.param(
            b'<setTextVector device="D" name="P">',
            b'<oneText name="T" name="U">x</oneText></setTextVector>\n',
            id="in-a-member",
        ),
        pytest.param(
            b'<setTextVector device="D" name="P" device="E">',
            b'<oneText name="T">x</oneText></setTextVector>\n',
            id="in-the-vector",
        ),
    ],
)
def test_duplicate_attribute_in_a_split_element_does_not_wedge_the_stream(first, rest):
    conn = Connection()
    conn.receive_data(first)
    events, errors = collect(conn, limit=50)
    conn.receive_data(rest + GOOD)
    more, errs = collect(conn, limit=50)
    assert events + more == [AFTER]
    assert len(errors + errs) == 1


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(
            f'<{tag} device="{device}" name="{name}"><{member} name="{member_name}">{value}'
            f"</{member}></{tag}>".encode(),
            id=f"{tag}-{problem}",
        )
        for tag, member, value in [
            ("setNumberVector", "oneNumber", "1"),
            ("newNumberVector", "oneNumber", "1"),
            ("setTextVector", "oneText", "x"),
            ("newTextVector", "oneText", "x"),
            ("setSwitchVector", "oneSwitch", "On"),
            ("setLightVector", "oneLight", "Ok"),
        ]
        for problem, device, name, member_name in [
            ("blank-padded-device", " D ", "P", "N"),
            ("blank-padded-name", "D", "P ", "N"),
            ("empty-member-name", "D", "P", ""),
        ]
    ],
)
def test_decoders_check_names(bad):
    events, errors = decode_all(bad + GOOD)
    assert events == [AFTER]
    assert len(errors) == 1
    assert errors[0].well_formed


def test_out_of_range_timestamp_decodes_as_none():
    data = b'<message message="m" timestamp="0001-01-01T00:00:00+01:00"/>\n' + GOOD
    assert decode_all(data) == ([Message(message="m"), AFTER], [])


# -- limits -----------------------------------------------------------------------

BIG_TEXT = (
    b'<setTextVector device="D" name="P"><oneText name="T">' + b"x" * 500 + b"</oneText>"
    b"</setTextVector>\n"
)
BIG_TAG = b'<message device="D" message="' + b"y" * 200 + b'"/>\n'


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_oversized_element_is_refused_and_the_stream_goes_on(chunk):
    events, errors = decode_in_chunks(BIG_TEXT + GOOD, chunk, max_element=200)
    assert events == [AFTER]
    assert len(errors) == 1
    assert "limit" in str(errors[0])


def test_oversized_element_in_one_chunk_is_refused():
    events, errors = decode_all(BIG_TEXT + GOOD, max_element=200)
    assert events == [AFTER]
    assert len(errors) == 1


def test_oversized_element_in_one_chunk_is_refused_when_longer_than_max_tag():
    events, errors = decode_all(BIG_TEXT + GOOD, max_element=200, max_tag=100)
    assert events == [AFTER]
    assert len(errors) == 1


def test_blob_vectors_have_their_own_limit():
    blob = OneBLOB(name="B", size=300, format=".bin", data=bytes(300))
    wire = encode(SetBLOBVector(device="D", name="P", blobs=(blob,)))
    assert len(wire) > 400
    events, errors = decode_in_chunks(wire + GOOD, 16, max_element=100, max_tag=100)
    assert errors == []
    assert len(events) == 2
    events, errors = decode_in_chunks(wire + GOOD, 16, max_blob_element=300)
    assert events == [AFTER]
    assert len(errors) == 1


@pytest.mark.parametrize("chunk", [None, 1, 7, 64])
def test_oversized_tag_is_refused_and_the_stream_goes_on(chunk):
    data = BIG_TAG + GOOD
    events, errors = (
        decode_all(data, max_tag=64) if chunk is None else decode_in_chunks(data, chunk, max_tag=64)
    )
    assert events == [AFTER]
    assert len(errors) == 1


def test_tags_within_the_limit_are_accepted():
    events, errors = decode_in_chunks(BIG_TAG, 5, max_tag=len(BIG_TAG))
    assert errors == []
    assert events == [Message(device="D", message="y" * 200)]


# -- end of stream ----------------------------------------------------------------


def test_eof_inside_an_element_raises_then_closes():
    conn = Connection()
    conn.receive_data(b'<setTextVector device="D" name="P"><oneText name="T">x')
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="ended inside an element"):
        conn.next_event()
    assert conn.next_event() is CLOSED
    assert conn.next_event() is CLOSED


def test_eof_after_complete_elements_closes():
    conn = Connection()
    conn.receive_data(GOOD + b"\n  ")
    conn.receive_data(b"")
    assert conn.next_event() == AFTER
    assert conn.next_event() is CLOSED
    assert conn.next_event() is CLOSED


def test_eof_on_an_empty_stream_closes():
    conn = Connection()
    conn.receive_data(b"")
    assert conn.next_event() is CLOSED


# -- BLOBs ------------------------------------------------------------------------


def attached(*members: bytes, tag: str = "setBLOBVector") -> bytes:
    return f'<{tag} device="CCD" name="CCD1">'.encode() + b"".join(members) + f"</{tag}>".encode()


def test_attached_blob_takes_the_attachment_truncated_to_size():
    conn = Connection()
    conn.receive_attachment(b"abcdefgh" + bytes(1000))
    conn.receive_data(attached(b'<oneBLOB name="B" size="3" format=".fits" attached="true"/>'))
    events, errors = collect(conn)
    assert errors == []
    assert events == [
        SetBLOBVector(
            device="CCD",
            name="CCD1",
            blobs=(OneBLOB(name="B", size=3, format=".fits", data=b"abc"),),
        )
    ]


def test_attached_zlib_blob_is_cut_at_the_end_of_the_zlib_stream():
    payload = zlib.compress(b"hello world" * 10)
    conn = Connection()
    conn.receive_attachment(payload + bytes(4096))
    conn.receive_data(attached(b'<oneBLOB name="B" size="110" format=".fits.z" attached="true"/>'))
    events, errors = collect(conn)
    assert errors == []
    assert events == [
        SetBLOBVector(
            device="CCD",
            name="CCD1",
            blobs=(OneBLOB(name="B", size=110, format=".fits.z", data=payload),),
        )
    ]


def test_attachments_are_taken_in_order():
    conn = Connection()
    conn.receive_attachment(b"first")
    conn.receive_attachment(b"second")
    conn.receive_attachment(b"third")
    conn.receive_data(
        attached(
            b'<oneBLOB name="A" size="5" format=".a" attached="true"/>',
            b'<oneBLOB name="B" size="6" format=".b" attached="true"/>',
        )
        + attached(b'<oneBLOB name="C" size="5" format=".c" attached="true"/>', tag="newBLOBVector")
    )
    events, errors = collect(conn)
    assert errors == []
    assert events == [
        SetBLOBVector(
            device="CCD",
            name="CCD1",
            blobs=(
                OneBLOB(name="A", size=5, format=".a", data=b"first"),
                OneBLOB(name="B", size=6, format=".b", data=b"second"),
            ),
        ),
        NewBLOBVector(
            device="CCD",
            name="CCD1",
            blobs=(OneBLOB(name="C", size=5, format=".c", data=b"third"),),
        ),
    ]


def test_enclen_is_accepted_on_input():
    wire = attached(b'<oneBLOB name="B" size="3" format=".fits" enclen="4">YWJj</oneBLOB>')
    assert decode_one(wire) == SetBLOBVector(
        device="CCD", name="CCD1", blobs=(OneBLOB(name="B", size=3, format=".fits", data=b"abc"),)
    )


def test_enclen_is_never_emitted():
    blob = OneBLOB(name="B", size=1000, format=".bin", data=bytes(range(250)) * 4)
    for event in (
        SetBLOBVector(device="D", name="P", blobs=(blob,)),
        NewBLOBVector(device="D", name="P", blobs=(blob,)),
    ):
        assert b"enclen" not in encode(event)


def test_base64_with_line_breaks_is_accepted():
    wire = attached(b'<oneBLOB name="B" size="6" format=".txt">\nYWJj\r\nZGVm\n</oneBLOB>')
    assert decode_one(wire) == SetBLOBVector(
        device="CCD", name="CCD1", blobs=(OneBLOB(name="B", size=6, format=".txt", data=b"abcdef"),)
    )


def test_large_blob_survives_small_chunks():
    data = bytes(range(256)) * 200
    event = SetBLOBVector(
        device="CCD",
        name="CCD1",
        blobs=(OneBLOB(name="B", size=len(data), format=".raw", data=data),),
    )
    assert decode_in_chunks(encode(event) + GOOD, 997) == ([event, AFTER], [])


# -- event constructors -----------------------------------------------------------

BAD: Any = "Bogus"
NOT_TEXT: Any = 5
A_BOOL: Any = True


def _bad_members() -> tuple[Any, ...]:
    return (DefSwitch(name="A"), DefSwitch(name="A"))


INVALID_EVENTS: list[Any] = [
    pytest.param(lambda: GetProperties(device=""), id="empty-device"),
    pytest.param(lambda: GetProperties(device=" D"), id="device-leading-blank"),
    pytest.param(lambda: GetProperties(name="P"), id="getProperties-name-without-device"),
    pytest.param(lambda: GetProperties(device="D", name="P "), id="name-trailing-blank"),
    pytest.param(lambda: EnableBLOB(name="P", policy=BLOBPolicy.ALSO), id="enableBLOB-no-device"),
    pytest.param(lambda: EnableBLOB(device="D", policy=BAD), id="bad-policy"),
    pytest.param(lambda: Message(device="", message="x"), id="message-empty-device"),
    pytest.param(lambda: DelProperty(device="D", name=" P"), id="delProperty-blank-name"),
    pytest.param(lambda: DelProperty(device="D", timestamp=BAD), id="timestamp-not-datetime"),
    pytest.param(lambda: PingRequest(uid=NOT_TEXT), id="uid-not-text"),
    pytest.param(lambda: SetTextVector(device="D", name="P", state=BAD), id="bad-state-string"),
    pytest.param(
        lambda: SetTextVector(device="D", name="P", values={"T": " x"}), id="text-not-stripped"
    ),
    pytest.param(
        lambda: SetTextVector(device="D", name="P", values={" T": "x"}), id="member-blank-name"
    ),
    pytest.param(
        lambda: SetNumberVector(device="D", name="P", values={"N": "abc"}), id="non-number-text"
    ),
    pytest.param(
        lambda: SetNumberVector(device="D", name="P", values={"N": " 1"}), id="number-not-stripped"
    ),
    pytest.param(
        lambda: NewNumberVector(device="D", name="P", values={"N": "inf"}), id="infinite-number"
    ),
    pytest.param(lambda: SetNumberVector(device="D", name="P", timeout="soon"), id="bad-timeout"),
    pytest.param(
        lambda: SetSwitchVector(device="D", name="P", values={"S": BAD}), id="bad-switch-value"
    ),
    pytest.param(
        lambda: SetLightVector(device="D", name="P", values={"L": BAD}), id="bad-light-value"
    ),
    pytest.param(
        lambda: DefSwitchVector(device="D", name="P", members=_bad_members()),
        id="duplicate-members",
    ),
    pytest.param(lambda: DefTextVector(device="D", name="P"), id="no-members"),
    pytest.param(
        lambda: DefTextVector(device="D", name="P", members=(cast(Any, DefSwitch(name="S")),)),
        id="wrong-member-type",
    ),
    pytest.param(
        lambda: DefSwitchVector(device="D", name="P", rule=BAD, members=(DefSwitch(name="S"),)),
        id="bad-rule",
    ),
    pytest.param(
        lambda: DefTextVector(device="D", name="P", perm=BAD, members=(DefText(name="T"),)),
        id="bad-perm",
    ),
    pytest.param(lambda: DefNumber(name="N", format="%s"), id="bad-number-format"),
    pytest.param(lambda: DefNumber(name="N", min="low"), id="bad-min"),
    pytest.param(lambda: DefLight(name="L", value=BAD), id="bad-def-light"),
    pytest.param(lambda: DefText(name="", value="x"), id="empty-member-name"),
    pytest.param(lambda: OneBLOB(name="B", size=-1, format=""), id="negative-blob-size"),
    pytest.param(lambda: OneBLOB(name="B", size=A_BOOL, format=""), id="bool-blob-size"),
    pytest.param(lambda: OneBLOB(name="B", size=0, format="", data=BAD), id="blob-data-not-bytes"),
    pytest.param(lambda: SetBLOBVector(device="D", name="P", blobs=(BAD,)), id="blob-not-OneBLOB"),
]


@pytest.mark.parametrize("build", INVALID_EVENTS)
def test_invalid_events_raise_local_protocol_error(build: Callable[[], object]):
    with pytest.raises(LocalProtocolError):
        build()


def test_local_protocol_error_is_a_value_error():
    with pytest.raises(ValueError):  # noqa: PT011 - the base class is the point
        GetProperties(device="")


def test_protocol_error_is_abstract():
    with pytest.raises(TypeError):
        ProtocolError("x")


def test_constructors_coerce_wire_strings_to_enums():
    on: Any = "On"
    ok: Any = "Ok"
    switches = SetSwitchVector(device="D", name="P", state=ok, values={"S": on})
    assert switches.state is PropertyState.OK
    assert switches.values["S"] is SwitchState.ON
    members: Any = [DefText(name="T")]
    vector = DefTextVector(device="D", name="P", members=members)
    assert vector.members == (DefText(name="T"),)


# -- BLOB policy ------------------------------------------------------------------


def blob_event(device: str = "CCD", name: str = "CCD1") -> SetBLOBVector:
    return SetBLOBVector(
        device=device, name=name, blobs=(OneBLOB(name="B", size=1, format=".b", data=b"x"),)
    )


def number_event(device: str = "CCD") -> SetNumberVector:
    return SetNumberVector(device=device, name="TEMP", values={"T": "1"})


def table_after(*requests: EnableBLOB) -> BLOBPolicyTable:
    table = BLOBPolicyTable()
    for request in requests:
        table.update(request)
    return table


def test_blob_policy_defaults_to_never():
    table = BLOBPolicyTable()
    assert table.policy("CCD") is BLOBPolicy.NEVER
    assert table.policy("CCD", "CCD1") is BLOBPolicy.NEVER
    assert not table.wants(blob_event())
    assert table.wants(number_event())
    assert table.wants(Message(message="hi"))


@pytest.mark.parametrize("policy", [BLOBPolicy.ALSO, BLOBPolicy.ONLY])
def test_device_level_policy_enables_blobs_for_that_device(policy):
    table = table_after(EnableBLOB(device="CCD", policy=policy))
    assert table.policy("CCD") is policy
    assert table.policy("CCD", "CCD1") is policy
    assert table.wants(blob_event("CCD"))
    assert not table.wants(blob_event("Other"))
    assert table.wants(number_event("Other"))


def test_property_level_also_overrides_device_level_never():
    table = table_after(
        EnableBLOB(device="CCD", policy=BLOBPolicy.NEVER),
        EnableBLOB(device="CCD", name="CCD1", policy=BLOBPolicy.ALSO),
    )
    assert table.policy("CCD", "CCD1") is BLOBPolicy.ALSO
    assert table.policy("CCD", "CCD2") is BLOBPolicy.NEVER
    assert table.wants(blob_event("CCD", "CCD1"))
    assert not table.wants(blob_event("CCD", "CCD2"))


def test_property_level_never_overrides_device_level_also():
    table = table_after(
        EnableBLOB(device="CCD", policy=BLOBPolicy.ALSO),
        EnableBLOB(device="CCD", name="CCD1", policy=BLOBPolicy.NEVER),
    )
    assert not table.wants(blob_event("CCD", "CCD1"))
    assert table.wants(blob_event("CCD", "CCD2"))


def test_device_level_request_resets_earlier_property_level_ones():
    table = table_after(
        EnableBLOB(device="CCD", name="CCD1", policy=BLOBPolicy.ALSO),
        EnableBLOB(device="Other", name="CCD1", policy=BLOBPolicy.ALSO),
        EnableBLOB(device="CCD", policy=BLOBPolicy.NEVER),
    )
    assert table.policy("CCD", "CCD1") is BLOBPolicy.NEVER
    assert not table.wants(blob_event("CCD", "CCD1"))
    # Only that device's property-level choices are forgotten.
    assert table.wants(blob_event("Other", "CCD1"))


def test_property_level_request_made_later_wins_again():
    table = table_after(
        EnableBLOB(device="CCD", policy=BLOBPolicy.ALSO),
        EnableBLOB(device="CCD", name="CCD1", policy=BLOBPolicy.NEVER),
        EnableBLOB(device="CCD", policy=BLOBPolicy.ALSO),
    )
    assert table.wants(blob_event("CCD", "CCD1"))


def test_only_at_device_level_suppresses_non_blob_events_for_that_device():
    table = table_after(EnableBLOB(device="CCD", policy=BLOBPolicy.ONLY))
    assert table.wants(blob_event("CCD"))
    for event in (
        number_event("CCD"),
        Message(device="CCD", message="hi"),
        DelProperty(device="CCD"),
        DefBLOBVector(device="CCD", name="CCD1", members=(DefBLOB(name="B"),)),
    ):
        assert not table.wants(event), event
    assert table.wants(number_event("Other"))
    assert table.wants(Message(message="site-wide"))


def test_only_at_property_level_keeps_non_blob_events():
    table = table_after(EnableBLOB(device="CCD", name="CCD1", policy=BLOBPolicy.ONLY))
    assert table.wants(blob_event("CCD", "CCD1"))
    assert not table.wants(blob_event("CCD", "CCD2"))
    assert table.wants(number_event("CCD"))


def test_connection_level_request_sets_the_default_and_resets_everything():
    table = table_after(
        EnableBLOB(device="CCD", policy=BLOBPolicy.NEVER),
        EnableBLOB(device="CCD", name="CCD1", policy=BLOBPolicy.NEVER),
        EnableBLOB(policy=BLOBPolicy.ONLY),
    )
    assert table.policy("CCD", "CCD1") is BLOBPolicy.ONLY
    assert table.wants(blob_event("CCD", "CCD1"))
    assert table.wants(blob_event("Any", "Thing"))
    assert not table.wants(number_event("Any"))
    assert not table.wants(Message(message="site-wide"))


@pytest.mark.parametrize("policy", list(BLOBPolicy))
def test_state_only_set_blob_vector_is_always_wanted(policy):
    table = table_after(
        EnableBLOB(device="CCD", policy=policy),
        EnableBLOB(device="CCD", name="CCD1", policy=policy),
    )
    assert table.wants(SetBLOBVector(device="CCD", name="CCD1", state=PropertyState.OK))


def test_connection_records_enable_blob_requests():
    conn = Connection()
    conn.receive_data(b'<enableBLOB device="CCD">Also</enableBLOB>\n')
    assert conn.next_event() == EnableBLOB(device="CCD", policy=BLOBPolicy.ALSO)
    assert conn.blob_policy.wants(blob_event("CCD"))
