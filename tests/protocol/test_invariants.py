from __future__ import annotations

from typing import Any, get_args

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pi_indi.protocol import (
    CLOSED,
    NEED_DATA,
    Connection,
    EnableBLOB,
    Event,
    RemoteProtocolError,
    encode,
    format_number,
    parse_number,
)
from tests.protocol.strategies import EVENTS_BY_TYPE, enable_blob

SETTINGS = settings(max_examples=250, deadline=None)

# -- (a) arbitrary input never breaks the decoder ---------------------------------

# Pieces of real INDI traffic, whole tags and partial ones, plus the markup the
# framer must refuse or skip. Joined at random with garbage between them.
FRAGMENTS = [
    b'<?xml version="1.0" encoding="UTF-8"?>',
    b"<!-- comment -->",
    b"<!--",
    b"-->",
    b'<!DOCTYPE indi [<!ENTITY x "boom">]>',
    b"<![CDATA[",
    b"]]>",
    b'<getProperties version="1.7"/>',
    b'<getProperties device="D" name="P"/>',
    b'<enableBLOB device="CCD">',
    b"Also",
    b"</enableBLOB>",
    b'<message device="D" timestamp="2026-11-22T01:02:03.5Z" message="a &amp; b"/>',
    b'<delProperty device="D" name="P"/>',
    b'<message timestamp="0001-01-01T00:00:00+01:00"/>',
    b'<pingRequest uid="1"/>',
    b'<pingReply uid="1"/>',
    b'<setNumberVector device="D" name="P" state="Ok" timeout="5">',
    b"</setNumberVector>",
    b'<oneNumber name="N">',
    b'<oneNumber name="M">',
    b"</oneNumber>",
    b"12:30:00",
    b"-1.5e3",
    b"nan",
    b'<newTextVector device="D" name="P">',
    b"</newTextVector>",
    b'<oneText name="T">',
    b"</oneText>",
    b"&lt;&#65;&#x110000;&bogus;&",
    b'<defSwitchVector device="D" name="S" state="Idle" perm="rw" rule="OneOfMany">',
    b"</defSwitchVector>",
    b'<defSwitch name="A" label="a">',
    b"</defSwitch>",
    b"On",
    b'<defNumberVector device="D" name="P" state="Busy" perm="ro">',
    b'<defNumber name="N" format="%9.6m" min="0" max="24" step="0">',
    b"</defNumber>",
    b"</defNumberVector>",
    b'<setBLOBVector device="CCD" name="CCD1">',
    b"</setBLOBVector>",
    b'<oneBLOB name="B" size="3" format=".fits">',
    b'<oneBLOB name="B" size="3" format=".fits.z" attached="true"/>',
    b'<oneBLOB name="B" size="99999999999999999999999" format="">',
    b"</oneBLOB>",
    b"YWJj",
    b"YW\nJj",
    b"<setTextVector",
    b' device="D"',
    b"<oneText",
    b"/>",
    b">",
    b"<",
    b"</",
    b"&",
    b"'",
    b'"',
    b"\n",
    b"  ",
    b"\xff\xfe",
    b"\xe2\x98",
]

ANY_BYTES = st.one_of(
    st.binary(max_size=400),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=8)), max_size=40).map(
        b"".join
    ),
)


def drain(conn: Connection, limit: int) -> int:
    """Read until NEED_DATA or CLOSED; return how many results were seen."""
    for seen in range(limit):
        try:
            event = conn.next_event()
        except RemoteProtocolError:
            continue
        if event is NEED_DATA or event is CLOSED:
            return seen
        assert isinstance(event, Event)
    raise AssertionError(f"next_event() did not reach NEED_DATA in {limit} calls")


@SETTINGS
@given(
    data=ANY_BYTES,
    chunks=st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20),
    attachments=st.lists(st.binary(max_size=16), max_size=3),
    max_element=st.sampled_from([64, 256, 1 << 20]),
    max_tag=st.sampled_from([32, 128, 64 << 10]),
)
@example(
    data=b'<setTextVector device="D" name="P"><oneText name="T">x</oneText></setTextVector>',
    chunks=[1],
    attachments=[],
    max_element=1 << 20,
    max_tag=64 << 10,
)
@example(
    data=b"<!DOCTYPE x><pingRequest/>garbage<</oneText><setBLOBVector device='D' name='P'>",
    chunks=[3, 1],
    attachments=[b"abc"],
    max_element=64,
    max_tag=32,
)
def test_any_bytes_give_only_events_or_remote_protocol_errors(
    data, chunks, attachments, max_element, max_tag
):
    conn = Connection(max_element=max_element, max_tag=max_tag, max_blob_element=max_element)
    for attachment in attachments:
        conn.receive_attachment(attachment)
    # Every call either consumes input or reports; a generous bound catches a loop.
    limit = 2 * len(data) + 10
    pos = 0
    i = 0
    while pos < len(data):
        size = chunks[i % len(chunks)]
        i += 1
        conn.receive_data(data[pos : pos + size])
        pos += size
        drain(conn, limit)
    conn.receive_data(b"")
    drain(conn, limit)
    assert conn.next_event() is CLOSED


# -- (b) parse(serialize(event)) == event -----------------------------------------


def test_round_trip_strategies_cover_every_event_type():
    covered = set(EVENTS_BY_TYPE) | {EnableBLOB}  # EnableBLOB: its own round trip below
    assert covered == set(get_args(Event))


def decode_split(wire: bytes, split: int) -> list[Any]:
    conn = Connection()
    out: list[Any] = []
    for part in (wire[:split], wire[split:]):
        if part:  # b"" would mean end of stream
            conn.receive_data(part)
        while (event := conn.next_event()) is not NEED_DATA:
            assert event is not CLOSED
            out.append(event)
    conn.receive_data(b"")
    assert conn.next_event() is CLOSED
    return out


@SETTINGS
@given(event=st.one_of(list(EVENTS_BY_TYPE.values())), split=st.integers(min_value=0))
def test_decode_of_encode_is_identity(event, split):
    wire = encode(event)
    assert decode_split(wire, split % (len(wire) + 1)) == [event]


@settings(max_examples=20, deadline=None)
@given(event=enable_blob())
def test_decode_of_encode_is_identity_for_enable_blob(event):
    wire = encode(event)
    assert decode_split(wire, len(wire)) == [event]


@SETTINGS
@given(events=st.lists(st.one_of(list(EVENTS_BY_TYPE.values())), max_size=6), data=st.data())
def test_a_stream_of_events_decodes_in_any_chunking(events, data):
    wire = b"".join(encode(e) for e in events)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    conn = Connection()
    out: list[Any] = []
    for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        if start == end:
            continue  # b"" would mean end of stream
        conn.receive_data(wire[start:end])
        while (event := conn.next_event()) is not NEED_DATA:
            assert event is not CLOSED
            out.append(event)
    assert out == events


# -- (c) %m formats and parses back to within half a unit -------------------------

FRACBASE = {3: 60, 5: 600, 6: 3600, 8: 36000, 9: 360000}


@SETTINGS
@given(
    value=st.floats(min_value=-1e5, max_value=1e5, allow_nan=False),
    frac=st.sampled_from(sorted(FRACBASE)),
)
@example(value=23.999999, frac=8)
@example(value=-0.5, frac=3)
@example(value=-1e-9, frac=9)
@example(value=359.99999, frac=6)
def test_sexagesimal_round_trip_is_within_half_a_unit(value, frac):
    text = format_number(value, f"%12.{frac}m")
    parsed = parse_number(text)
    resolution = 1 / FRACBASE[frac]
    assert abs(parsed - value) <= resolution / 2 + 1e-9 * max(1.0, abs(value)), text
