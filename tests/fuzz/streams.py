"""INDI streams for fuzzing: a corpus of valid messages, mutations, hostile shapes, checks.

Shared by the Hypothesis suites (``test_codec_fuzz.py``, ``test_server_fuzz.py``)
and the atheris harness (``atheris_codec.py``).

The corpus is every message of the transcripts in ``corpus/`` (captured from
indiserver 1.9.9 and libindi's simulators, see ``corpus/capture.py``) plus
``encode()`` of generated events of every type. Mutations are those of
byte-level fuzzers (flips, truncation, splicing, duplication) and of the
attacks on XML parsers (huge tokens, deep nesting, entities, DOCTYPE, CDATA,
invalid UTF-8, NUL bytes).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from pi_indi.protocol import (
    CLOSED,
    NEED_DATA,
    Connection,
    Event,
    RemoteProtocolError,
    encode,
)
from pi_indi.protocol._xml import TOP_LEVEL_TAGS
from tests.protocol.strategies import EVENTS_BY_TYPE, enable_blob

CORPUS = Path(__file__).with_name("corpus")

# -- how long to fuzz --------------------------------------------------------------


def fuzz_settings(examples: int) -> settings:
    """Settings for one fuzz test: *examples* in CI, ``$FUZZ_EXAMPLES`` when set.

    ``pytest tests/fuzz --fuzz-long`` sets ``FUZZ_EXAMPLES`` (see conftest.py).
    Time is bounded by the checks themselves (:func:`time_limit`), not by
    Hypothesis' deadline, which a loaded machine would trip.
    """
    override = int(os.environ.get("FUZZ_EXAMPLES", "0") or 0)
    return settings(
        max_examples=override or examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
        print_blob=True,
    )


# -- the corpus --------------------------------------------------------------------

_MESSAGE_START = re.compile(
    rb"^<(?:" + "|".join(sorted(TOP_LEVEL_TAGS)).encode() + rb")[\s/>]", re.MULTILINE
)


def split_transcript(data: bytes) -> list[bytes]:
    """Cut a transcript into its messages (indiserver starts each at a line start)."""
    starts = [m.start() for m in _MESSAGE_START.finditer(data)]
    return [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=True)]


@cache
def real_messages() -> list[bytes]:
    """Every message of the captured transcripts, shortest first (Hypothesis shrinks to those)."""
    messages = {
        m for path in sorted(CORPUS.glob("*.xml")) for m in split_transcript(path.read_bytes())
    }
    return sorted(messages, key=lambda m: (len(m), m))


# Client requests, the other direction, as libindi clients write them.
CLIENT_MESSAGES = [
    b'<getProperties version="1.7"/>\n',
    b'<getProperties version="1.7" device="Telescope Simulator"/>\n',
    b'<getProperties version="1.7" device="CCD Simulator" name="CCD_EXPOSURE"/>\n',
    b'<enableBLOB device="CCD Simulator">Also</enableBLOB>\n',
    b'<enableBLOB device="CCD Simulator" name="CCD1">Only</enableBLOB>\n',
    b'<newSwitchVector device="Telescope Simulator" name="CONNECTION">\n'
    b'  <oneSwitch name="CONNECT">\nOn\n  </oneSwitch>\n</newSwitchVector>\n',
    b'<newNumberVector device="Telescope Simulator" name="EQUATORIAL_EOD_COORD">\n'
    b'  <oneNumber name="RA">\n3:30:00\n  </oneNumber>\n'
    b'  <oneNumber name="DEC">\n-20.5\n  </oneNumber>\n</newNumberVector>\n',
    b'<newTextVector device="Telescope Simulator" name="DEVICE_PORT">\n'
    b'  <oneText name="PORT">\n/dev/ttyUSB0 &amp; &lt;x&gt;\n  </oneText>\n</newTextVector>\n',
    b'<newBLOBVector device="CCD Simulator" name="CCD1">\n'
    b'  <oneBLOB name="CCD1" size="3" format=".fits">\nYWJj\n  </oneBLOB>\n</newBLOBVector>\n',
    b'<newBLOBVector device="CCD Simulator" name="CCD1">\n'
    b'  <oneBLOB name="CCD1" size="11" format=".fits.z">\n'
    + base64.b64encode(b"x\x9cKLJ\x06\x00\x02M\x01'")
    + b"\n  </oneBLOB>\n</newBLOBVector>\n",
    b'<pingRequest uid="1"/>\n',
    b'<pingReply uid="1"/>\n',
    b'<delProperty device="Telescope Simulator" name="X" message="gone"/>\n',
    b"<message message='single quotes &apos; &quot;'/>\n",
]


def generated_events() -> st.SearchStrategy[Event]:
    """Events of every type (the round-trip strategies of the protocol tests)."""
    return st.one_of(*EVENTS_BY_TYPE.values(), enable_blob())


def valid_messages() -> st.SearchStrategy[bytes]:
    """One valid INDI message: captured, a client request, or encode() of an event."""
    return st.one_of(
        st.sampled_from(real_messages()),
        st.sampled_from(CLIENT_MESSAGES),
        generated_events().map(encode),
    )


# -- hostile shapes ----------------------------------------------------------------

HOSTILE: dict[str, Callable[[int], bytes]] = {
    "huge attribute value": lambda n: b'<newTextVector device="D" name="' + b"v" * n + b'"/>',
    "huge attribute name": lambda n: b"<message " + b"a" * n + b'="x"/>',
    "huge tag name": lambda n: b"<" + b"t" * n + b"/>",
    "many attributes": lambda n: (
        b"<message" + b"".join(b' a%d="x"' % i for i in range(n // 8)) + b"/>"
    ),
    "duplicate attributes": lambda n: b"<message" + b' a="x"' * (n // 6) + b"/>",
    "spaces in a tag": lambda n: b"<message" + b" " * n + b'device="D"' + b" " * n + b"/>",
    "deep nesting": lambda n: (
        b'<defTextVector device="D" name="P">' + b"<a>" * (n // 7) + b"</a>" * (n // 7)
    ),
    "deep nesting closed": lambda n: (
        b'<defTextVector device="D" name="P">'
        + b"<a>" * (n // 7)
        + b"</a>" * (n // 7)
        + b"</defTextVector>"
    ),
    "many members": lambda n: (
        b'<setNumberVector device="D" name="P">'
        + b"".join(b'<oneNumber name="m%d">%d</oneNumber>' % (i, i) for i in range(n // 36))
        + b"</setNumberVector>"
    ),
    "many empty members": lambda n: (
        b'<newSwitchVector device="D" name="P">'
        + b'<oneSwitch name="a"/>' * (n // 21)
        + b"</newSwitchVector>"
    ),
    "duplicate members": lambda n: (
        b'<newSwitchVector device="D" name="P">'
        + b'<oneSwitch name="a">On</oneSwitch>' * (n // 34)
        + b"</newSwitchVector>"
    ),
    "huge member text": lambda n: (
        b'<newTextVector device="D" name="P"><oneText name="t">'
        + b"x" * n
        + b"</oneText></newTextVector>"
    ),
    "huge vector text": lambda n: b'<enableBLOB device="D">' + b" " * n + b"Also</enableBLOB>",
    "huge BLOB": lambda n: (
        b'<newBLOBVector device="D" name="B"><oneBLOB name="b" size="%d" format=".x">' % n
        + base64.encodebytes(b"\x00" * n)
        + b"</oneBLOB></newBLOBVector>"
    ),
    "bad base64": lambda n: (
        b'<setBLOBVector device="D" name="B"><oneBLOB name="b" size="1" format=".x">'
        + b"=*!" * (n // 3)
        + b"</oneBLOB></setBLOBVector>"
    ),
    "zlib bomb": lambda n: (
        b'<setBLOBVector device="D" name="B"><oneBLOB name="b" size="1" format=".z">'
        + base64.b64encode(zlib.compress(b"\x00" * (n * 64)))
        + b"</oneBLOB></setBLOBVector>"
    ),
    "many entities": lambda n: b'<message message="' + b"&amp;&lt;&#65;&#x42;" * (n // 20) + b'"/>',
    "bad character references": lambda n: (
        b'<message message="' + b"&#0;&#xD800;&#x110000;&#99999999999;&bogus;&" * (n // 45) + b'"/>'
    ),
    "entity bomb": lambda n: (
        b'<!DOCTYPE indi [<!ENTITY a "' + b"a" * n + b'">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><message message="&b;"/>'
    ),
    "external entity": lambda n: (
        b'<!DOCTYPE indi [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<newTextVector device="D" name="P"><oneText name="t">&x;</oneText></newTextVector>'
    ),
    "CDATA": lambda n: (
        b'<newTextVector device="D" name="P"><oneText name="t"><![CDATA['
        + b"<x>" * (n // 3)
        + b"]]></oneText></newTextVector>"
    ),
    "unterminated comment": lambda n: b"<!--" + b"- " * (n // 2),
    "long comment": lambda n: b"<!--" + b"-" * n + b"-->",
    "unterminated PI": lambda n: b'<?xml version="1.0"' + b" " * n,
    "NUL bytes": lambda n: b"\x00" * n,
    "NUL in a message": lambda n: b'<message message="a' + b"\x00" * n + b'b"/>',
    "invalid UTF-8": lambda n: b"\xc0\x80\xed\xa0\x80\xf8\x88\x80\x80\x80\xff\xfe" * (n // 12),
    "invalid UTF-8 in names": lambda n: (
        b'<newSwitchVector device="\xff\xfe" name="\xed\xa0\x80">'
        b'<oneSwitch name="\xc0\x80">On</oneSwitch></newSwitchVector>' * max(1, n // 100)
    ),
    "stray closing tags": lambda n: b"</setNumberVector>" * (n // 18),
    "many messages": lambda n: b'<pingRequest uid="x"/>' * (n // 22),
    "weird numbers": lambda n: (
        b'<setNumberVector device="D" name="P">'
        + b"".join(
            b'<oneNumber name="n%d">%s</oneNumber>' % (i, v)
            for i, v in enumerate(
                [b"1e999999", b"nan", b"-inf", b"12:", b"1:2:3:4", b"0x10", b"1_0", b"\xd9\xa3"]
                * max(1, n // 400)
            )
        )
        + b"</setNumberVector>"
    ),
    "weird timestamps": lambda n: b"".join(
        b'<message timestamp="%s" message="m"/>' % t
        for t in [b"9999-99-99T99:99:99", b"0000-01-01", b"2026-11-22T01:02:03.5Z+01:00", b"x"]
        * max(1, n // 200)
    ),
}

HOSTILE_SIZES = st.sampled_from([1, 10, 100, 1_000, 10_000, 70_000])

# Short pieces of markup to insert anywhere.
INJECTIONS = [
    b"<!DOCTYPE x>",
    b'<!ENTITY e "boom">',
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?",
    b"?>",
    b"<!",
    b"&",
    b"&lt;",
    b"&#",
    b"<",
    b">",
    b"</",
    b"/>",
    b'"',
    b"'",
    b"=",
    b"\x00",
    b"\xff",
    b"\xe2\x98",
    b"\xed\xa0\x80",
    b"\r\n",
    b" ",
    b"<oneText",
    b"</oneNumber>",
    b'<oneSwitch name="x">',
]

# Byte values a flip should favour: the ones markup is made of.
SPECIAL_BYTES = st.sampled_from(
    [0, 0x20, 0x22, 0x26, 0x27, 0x2F, 0x3C, 0x3D, 0x3E, 0x3F, 0x80, 0xFF]
)


@st.composite
def hostile_shapes(draw: st.DrawFn) -> bytes:
    """One of the shapes in HOSTILE, at some size."""
    return HOSTILE[draw(st.sampled_from(sorted(HOSTILE)))](draw(HOSTILE_SIZES))


def _index(draw: st.DrawFn, data: bytearray) -> int:
    return draw(st.integers(0, len(data)))


def _flip(draw: st.DrawFn, data: bytearray) -> bytearray:
    if data:
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.one_of(SPECIAL_BYTES, st.integers(0, 255)))
    return data


def _bit(draw: st.DrawFn, data: bytearray) -> bytearray:
    if data:
        i = draw(st.integers(0, len(data) - 1))
        data[i] ^= 1 << draw(st.integers(0, 7))
    return data


def _truncate(draw: st.DrawFn, data: bytearray) -> bytearray:
    return data[: _index(draw, data)]


def _delete(draw: st.DrawFn, data: bytearray) -> bytearray:
    i = _index(draw, data)
    j = draw(st.integers(i, min(len(data), i + 64)))
    del data[i:j]
    return data


def _duplicate(draw: st.DrawFn, data: bytearray) -> bytearray:
    i = _index(draw, data)
    j = draw(st.integers(i, len(data)))
    k = _index(draw, data)
    data[k:k] = data[i:j] * draw(st.integers(1, 3))
    return data


def _splice(draw: st.DrawFn, data: bytearray) -> bytearray:
    other = draw(valid_messages())
    return data[: _index(draw, data)] + other[draw(st.integers(0, len(other))) :]


def _inject(draw: st.DrawFn, data: bytearray) -> bytearray:
    i = _index(draw, data)
    data[i:i] = draw(st.one_of(st.sampled_from(INJECTIONS), st.binary(min_size=1, max_size=16)))
    return data


def _hostile(draw: st.DrawFn, data: bytearray) -> bytearray:
    i = _index(draw, data)
    data[i:i] = draw(hostile_shapes())
    return data


MUTATIONS = [_flip, _bit, _truncate, _delete, _duplicate, _splice, _inject, _hostile]


@st.composite
def mutated_streams(
    draw: st.DrawFn, messages: st.SearchStrategy[bytes] | None = None, max_messages: int = 6
) -> bytes:
    """Valid messages, joined, then mutated a few times."""
    source = valid_messages() if messages is None else messages
    pieces = draw(st.lists(source, min_size=1, max_size=max_messages))
    data = bytearray(b"".join(pieces))
    for _ in range(draw(st.integers(0, 5))):
        data = draw(st.sampled_from(MUTATIONS))(draw, data)
    return bytes(data)


def any_streams(messages: st.SearchStrategy[bytes] | None = None) -> st.SearchStrategy[bytes]:
    """Mutated streams, hostile shapes, or plain random bytes."""
    return st.one_of(
        mutated_streams(messages),
        hostile_shapes(),
        st.binary(max_size=512),
    )


# How to cut a stream into chunks: a steady trickle of n-byte chunks, or cuts
# at a few places (given as numbers taken modulo the stream's length).
CUTS: st.SearchStrategy[tuple[str, Any]] = st.one_of(
    st.tuples(st.just("step"), st.integers(1, 64)),
    st.tuples(st.just("at"), st.lists(st.integers(0, 1 << 30), max_size=16)),
)


def cuts_for(size: int, spec: tuple[str, Any]) -> list[int]:
    """The cut positions *spec* (drawn from CUTS) means for *size* bytes.

    A trickle is at most 10,000 chunks (a hostile shape of 70 kB in 8-byte
    chunks is the case that found the quadratic rescanning of tags).
    """
    kind, arg = spec
    if kind == "step":
        step = max(arg, size // 10_000)
        return list(range(step, size, step))
    return sorted({1 + n % max(1, size - 1) for n in arg})


def chunks(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    """The non-empty pieces of *data* cut at *cuts* (b"" would mean end of stream)."""
    inner = sorted({c for c in cuts if 0 < c < len(data)})
    for start, end in zip([0, *inner], [*inner, len(data)], strict=True):
        if end > start:
            yield data[start:end]


# -- checks ------------------------------------------------------------------------


class Hang(Exception):
    """The code under test did not return in time."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread after *seconds* (a backstop for loops)."""

    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no result after {seconds:.1f} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def time_budget(size: int, pieces: int) -> float:
    """Seconds a decode of *size* bytes in *pieces* chunks may take.

    Some 20 times what it takes here (under 0.3 us per byte and 5 us per
    chunk), far below what a pass over everything held per chunk costs
    (quadratic: 60 kB of one tag in 8-byte chunks took 13 s).
    """
    return 0.5 + 5e-6 * size + 50e-6 * pieces


def held(conn: Connection) -> int:
    """Characters the decoder holds, counted from its parts (not its own ``buffered``)."""
    stream: Any = conn._stream
    total: int = len(stream._buf) - stream._pos
    total += sum(map(len, stream._text_parts)) + sum(map(len, stream._top_text))
    top = stream._top
    if top is not None:
        for child in top.children:
            total += len(child.text) + sum(len(k) + len(v) for k, v in child.attrs.items())
    return total


def decode_all(
    data: bytes,
    cuts: list[int] | None = None,
    *,
    attachments: Sequence[bytes] = (),
    timed: bool = True,
    limits: Mapping[str, int] | None = None,
) -> tuple[list[Event], int]:
    """Decode *data* cut at *cuts*, checking the codec's invariants all along.

    Returns the events and the number of RemoteProtocolErrors. Checked: only
    events, NEED_DATA, CLOSED or RemoteProtocolError come out (anything else
    propagates); every call returns within a bounded number of calls; what
    the decoder holds between chunks stays within its limits; the stream ends
    CLOSED; and the whole takes bounded time (unless not *timed*: under
    atheris, libFuzzer's ``-timeout`` does that).
    """
    limits = limits or {}
    conn = Connection(**limits)
    for attachment in attachments:
        conn.receive_attachment(attachment)
    bound = max(
        limits.get("max_element", 1 << 20),
        limits.get("max_blob_element", 64 << 20),
        limits.get("max_tag", 64 << 10),
    )
    events: list[Event] = []
    errors = 0
    pieces = list(chunks(data, cuts or []))
    budget = time_budget(len(data), len(pieces))

    def drain() -> bool:
        nonlocal errors
        # Each call consumes input or reports; more calls than bytes means a loop.
        for _ in range(2 * len(data) + 10):
            try:
                event = conn.next_event()
            except RemoteProtocolError:
                errors += 1
                continue
            if event is NEED_DATA:
                return False
            if event is CLOSED:
                return True
            assert isinstance(event, Event), f"next_event() returned {event!r}"
            events.append(event)
        raise AssertionError("next_event() neither ended nor asked for data")

    # Time only the codec's calls; held() walks what is held, so check it at
    # up to 256 points, not after every one of 10,000 chunks.
    spent = 0.0
    every = max(1, len(pieces) // 256)
    with time_limit(max(10.0, budget * 3)) if timed else contextlib.nullcontext():
        for i, piece in enumerate(pieces):
            start = time.perf_counter()
            conn.receive_data(piece)
            closed = drain()
            spent += time.perf_counter() - start
            assert not closed, "CLOSED before the end of the input"
            assert conn.buffered <= bound, f"{conn.buffered} buffered, limit {bound}"
            if i % every == 0:
                assert held(conn) <= bound, f"{held(conn)} characters held, limit {bound}"
        start = time.perf_counter()
        conn.receive_data(b"")
        closed = drain()
        spent += time.perf_counter() - start
        assert closed, "not CLOSED after the end of the input"
        assert conn.next_event() is CLOSED
    assert spent < budget or not timed, (
        f"{spent:.2f} s for {len(data)} bytes in {len(pieces)} chunks"
    )
    return events, errors


def events_of(message: bytes) -> list[Event]:
    """The events of a message decoded on its own, in one piece."""
    return decode_all(message)[0]


# Whatever state garbage leaves the decoder in (inside a tag, a quoted value,
# an element, a comment, a processing instruction, half a UTF-8 sequence),
# these bytes end it or break it: "-->" ends a comment, "?>" a PI, and "<"
# followed by NUL is a broken tag everywhere else. The decoder then skips to
# the next top-level INDI element, as indiserver's lilxml does.
BARRIER = b"\x00-->?><\x00>"
