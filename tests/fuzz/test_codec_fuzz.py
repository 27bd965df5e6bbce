"""Fuzzing the sans-IO codec with generated and mutated INDI streams.

Invariants, for any input and any way of cutting it into chunks:

- only events or RemoteProtocolError come out, never another exception;
- every input is dealt with in bounded time and in a bounded number of calls;
- what the decoder holds stays within its limits;
- after garbage, the stream resynchronises: the next valid message is decoded;
- how the input is cut into chunks does not change the events.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pi_indi.protocol import NEED_DATA, Connection, PingRequest, RemoteProtocolError, encode
from tests.fuzz.streams import (
    BARRIER,
    CUTS,
    HOSTILE,
    any_streams,
    cuts_for,
    decode_all,
    events_of,
    fuzz_settings,
    generated_events,
    hostile_shapes,
    mutated_streams,
    real_messages,
    valid_messages,
)

# Failing examples can be large; print them anyway.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

LIMITS = st.sampled_from(
    [
        {},
        {"max_element": 256, "max_blob_element": 512, "max_tag": 64},
        {"max_element": 4096, "max_blob_element": 4096, "max_tag": 1024},
        {"max_element": 64 << 10, "max_blob_element": 1 << 20, "max_tag": 8 << 10},
    ]
)


def test_the_corpus_is_every_kind_of_message_and_decodes_cleanly():
    kinds: set[str] = set()
    for message in real_messages():
        events, errors = decode_all(message)
        assert errors == 0, message[:200]
        assert len(events) == 1, message[:200]
        kinds.add(type(events[0]).__name__)
    # What a server sends a client; requests come from CLIENT_MESSAGES and generated events.
    assert {"DefNumberVector", "DefSwitchVector", "DefTextVector", "DefBLOBVector"} <= kinds
    assert {"DefLightVector", "SetNumberVector", "SetSwitchVector", "SetTextVector"} <= kinds
    assert {"SetLightVector", "SetBLOBVector", "Message", "PingReply"} <= kinds


@fuzz_settings(700)
@given(
    stream=any_streams(),
    cuts=CUTS,
    limits=LIMITS,
    attachments=st.lists(st.binary(max_size=64), max_size=2),
)
@example(
    stream=HOSTILE["huge attribute value"](15_000), cuts=("step", 8), limits={}, attachments=[]
)
def test_any_stream_gives_events_or_remote_protocol_errors_in_bounded_time_and_memory(
    stream, cuts, limits, attachments
):
    decode_all(stream, cuts_for(len(stream), cuts), attachments=attachments, limits=limits)


@fuzz_settings(500)
@given(
    first=valid_messages(),
    garbage=any_streams(),
    then=st.lists(valid_messages(), min_size=1, max_size=3),
    cuts=CUTS,
)
def test_a_valid_message_after_garbage_is_decoded(first, garbage, then, cuts):
    stream = first + garbage + BARRIER + b"".join(then)
    events, _ = decode_all(stream, cuts_for(len(stream), cuts))
    expected_tail = [e for message in then for e in events_of(message)]
    assert events[: len(events_of(first))] == events_of(first)
    assert events[len(events) - len(expected_tail) :] == expected_tail


@fuzz_settings(500)
@given(stream=st.one_of(mutated_streams(), hostile_shapes()), cuts=CUTS)
def test_how_the_stream_is_cut_does_not_change_the_events(stream, cuts):
    # Whole, the commonest messages take the decoder's fast paths; cut, they
    # take the scanner token by token. Both must agree.
    whole, _ = decode_all(stream)
    cut, _ = decode_all(stream, cuts_for(len(stream), cuts))
    assert cut == whole


@fuzz_settings(250)
@given(events=st.lists(generated_events(), min_size=1, max_size=5), cuts=CUTS)
def test_valid_streams_decode_to_their_events_in_any_chunking(events, cuts):
    stream = b"".join(encode(e) for e in events)
    decoded, errors = decode_all(stream, cuts_for(len(stream), cuts))
    assert errors == 0
    assert decoded == events


def test_the_captured_transcripts_decode_alike_in_one_piece_and_byte_by_byte():
    stream = b"".join(real_messages())
    whole, errors = decode_all(stream)
    assert errors == 0
    assert len(whole) == len(real_messages())
    assert decode_all(stream, list(range(1, len(stream))))[0] == whole


def _decode_seconds(data: bytes, step: int) -> float:
    conn = Connection()
    start = time.perf_counter()
    for i in range(0, len(data), step):
        conn.receive_data(data[i : i + step])
        conn.next_event()
    return time.perf_counter() - start


def test_a_tag_trickling_in_costs_no_more_than_a_body_trickling_in():
    # Found by the fuzzer: the scanner looked at an incomplete tag whole again
    # for every chunk, so 60 KB of one tag in 8-byte chunks took 13 s of CPU
    # (quadratic), all of it inside the server's event loop. A BLOB body of
    # the same size in the same chunks is the linear reference.
    size = 60_000
    body = (
        b'<newBLOBVector device="D" name="B"><oneBLOB name="b" size="1" format=".x">'
        + b"QUJD" * (size // 4)
    )
    tags = [
        b'<newTextVector device="D" name="N" ' + b"a" * size,
        b'<newTextVector device="D" name="' + b"v>" * (size // 2),
        b"<newTextVector" + b' a="b"' * (size // 6),
        b"<!--" + b"-" * size,
        b"<?xml " + b"?" * size,
    ]
    reference = min(_decode_seconds(body, 8) for _ in range(3))
    for tag in tags:
        seconds = min(_decode_seconds(tag, 8) for _ in range(3))
        # Quadratic was 1000x; allow a wide margin for a busy machine.
        assert seconds < 20 * reference + 0.05, (tag[:30], seconds, reference)


def _peak_while_decoding(
    data: bytes, step: int, **options: int
) -> tuple[int, list[str], list[object]]:
    conn = Connection(**options)
    errors: list[str] = []
    events: list[object] = []
    tracemalloc.start()
    try:
        for i in range(0, len(data), step):
            conn.receive_data(data[i : i + step])
            while True:
                try:
                    event = conn.next_event()
                except RemoteProtocolError as exc:
                    errors.append(str(exc))
                    continue
                if event is NEED_DATA:
                    break
                events.append(event)
        return tracemalloc.get_traced_memory()[1], errors, events
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("tag", "member"),
    [
        pytest.param(b"newBLOBVector", b'<oneBLOB name="a"/>', id="empty-BLOB-members"),
        pytest.param(b"setNumberVector", b'<oneNumber name="a">1</oneNumber>', id="plain-members"),
    ],
)
def test_a_vector_of_countless_members_is_refused_in_bounded_memory(tag, member):
    # Found by the fuzzer: the limits count characters, and each member held
    # costs some 400 bytes of objects, so 8 MB of empty members held 177 MB
    # (a 64 MiB BLOB vector, the default limit, would have held 1.4 GB).
    data = b"<%s device='D' name='P'>" % tag + member * ((8 << 20) // len(member))
    data += b"</%s><pingRequest uid='next'/>" % tag
    peak, errors, events = _peak_while_decoding(data, 64 << 10, max_element=16 << 20)
    assert errors == [f"<{tag.decode()}> has more than 10000 members"]
    assert events == [PingRequest(uid="next")]
    assert peak < 16 << 20, f"peak {peak >> 20} MiB"


def test_the_fast_paths_keep_no_state_per_member():
    # Found by the fuzzer: the regular expressions that match a whole element
    # kept backtracking state for every member, 20 MB for one 256 KiB read
    # of an element still incomplete.
    data = b'<newSwitchVector device="D" name="P">' + b'<oneSwitch name="a"/>' * 12_000
    peak, errors, _ = _peak_while_decoding(data, len(data))
    assert errors == ["<newSwitchVector> has more than 10000 members"]
    assert peak < 8 << 20, f"peak {peak >> 20} MiB"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            b'<setNumberVector device="D" name="P"><oneNumber name="a">1</oneNumber>'
            b'<oneNumber name="b">2</oneNumber><oneNumber name="c">3</oneNumber></setNumberVector>',
            id="plain",
        ),
        pytest.param(
            b'<newSwitchVector device="D" name="P"><oneSwitch name="a">On</oneSwitch>'
            b'<oneSwitch name="b">On</oneSwitch><oneSwitch name="c"/></newSwitchVector>',
            id="fast-counted",
        ),
        pytest.param(
            b'<newSwitchVector device="D" name="P"><oneSwitch name="a"/><oneSwitch name="b"/>'
            b'<oneSwitch name="c"/></newSwitchVector>',
            id="fast-built",
        ),
    ],
)
@pytest.mark.parametrize("step", [1, 1 << 16])
def test_max_members_is_kept_on_every_path(data, step):
    ok = data.replace(b'<oneNumber name="c">3</oneNumber>', b"").replace(
        b'<oneSwitch name="c"/>', b""
    )
    _, errors, events = _peak_while_decoding(data + b"<pingRequest/>", step, max_members=2)
    assert errors == [f"<{data[1:16].decode()}> has more than 2 members"]
    assert events == [PingRequest()]
    _, errors, events = _peak_while_decoding(ok, step, max_members=2)
    assert not [e for e in errors if "members" in e]
    assert len(events) + len(errors) == 1
