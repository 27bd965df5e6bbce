"""Codec benchmark: pi_indi against indipydriver 3.1.2, side by side in one run.

Run with ``bash bench/run.sh`` (it makes a separate venv holding both, so
indipydriver never becomes a dependency of pi-indi). Prints messages per second
for each library and their ratio, for setNumberVector:

* encode: a driver's vector update turned into wire bytes, each library's own
  way (pi_indi: the SetNumberVector event and ``encode``; indipydriver: the
  ElementTree element its ``send_setVector`` builds, and ``ET.tostring``);
* decode: a stream of setNumberVector bytes, fed in 64 KiB reads, turned into
  events (pi_indi: ``Connection``; indipydriver: the XMLPullParser loop of its
  reader and its ``setNumberVector`` event class);
* driver send: what a driver author writes, ``vector["value"] = i`` and
  ``await vector.send_setVector()``, through each library's own driver
  classes down to the bytes it would write (the transport is a list).
"""

from __future__ import annotations

import asyncio
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import indipydriver
from indipydriver import events as ipd_events
from indipydriver.propertyvectors import timestamp_string

import pi_indi
from pi_indi.driver import DriverLink
from pi_indi.protocol import (
    NEED_DATA,
    Connection,
    Event,
    PropertyState,
    SetNumberVector,
    encode,
)

N = 20_000
REPEATS = 5
STAMP = datetime(2026, 11, 22, 1, 2, 3, 456789)


def pi_event(i: int) -> SetNumberVector:
    return SetNumberVector(
        device="bench",
        name="counter",
        state=PropertyState.OK,
        timeout="0",
        timestamp=STAMP,
        values={"value": str(i)},
    )


def pi_encode(n: int) -> None:
    for i in range(n):
        encode(pi_event(i))


def ipd_encode(n: int) -> None:
    # The element indipydriver's NumberVector.send_setVector builds, then the
    # serialisation its stdout writer does.
    for i in range(n):
        xmldata = ET.Element("setNumberVector")
        xmldata.set("device", "bench")
        xmldata.set("name", "counter")
        xmldata.set("state", "Ok")
        xmldata.set("timestamp", timestamp_string(STAMP.replace(tzinfo=UTC)))
        xmldata.set("timeout", "0")
        member = ET.Element("oneNumber")
        member.set("name", "value")
        member.text = str(i)
        xmldata.append(member)
        ET.tostring(xmldata) + b"\n"


def stream(n: int) -> bytes:
    return b"".join(encode(pi_event(i)) for i in range(n))


def chunks(data: bytes, size: int = 65536) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def pi_decode(parts: list[bytes]) -> int:
    conn = Connection()
    count = 0
    for part in parts:
        conn.receive_data(part)
        while conn.next_event() is not NEED_DATA:
            count += 1
    return count


def ipd_decode(parts: list[bytes]) -> int:
    # indipydriver 3.1.2's _run_rx: a pull parser under a synthetic root,
    # depth tracking, and the event class for each complete element.
    parser: Any = ET.XMLPullParser(events=("start", "end"))
    parser.feed(b"<root>")
    depth = 0
    root: Any = None
    count = 0
    for part in parts:
        parser.feed(part)
        for event, element in parser.read_events():
            if event == "start":
                if root is None:
                    root = element
                depth += 1
            else:
                depth -= 1
                if depth == 1:
                    assert root is not None
                    root.remove(element)
                    ipd_events.setNumberVector(element)
                    count += 1
    return count


class _ListLink(DriverLink):
    def __init__(self) -> None:
        self.out: list[bytes] = []

    async def send(self, event: Event) -> None:
        self.out.append(encode(event))

    async def run(self, driver: pi_indi.IPyDriver) -> None:
        raise NotImplementedError


def _vector(lib: Any) -> Any:
    member = lib.NumberMember("value", "Value", "%.0f", 0, 0, 0, 0)
    vector = lib.NumberVector("counter", "Counter", "Main", "ro", "Ok", [member])
    lib.IPyDriver(lib.Device("bench", [vector]))
    return vector


def pi_driver_send(n: int) -> None:
    vector = _vector(pi_indi)
    link = _ListLink()
    vector.driver.attach_link(link)

    async def run() -> None:
        for i in range(n):
            vector["value"] = i
            await vector.send_setVector(timestamp=STAMP)

    asyncio.run(run())
    assert len(link.out) == n


def ipd_driver_send(n: int) -> None:
    vector = _vector(indipydriver)
    out: list[bytes] = []

    class Comms:
        async def run_tx(self, xmldata: Any) -> None:
            out.append(ET.tostring(xmldata) + b"\n")

    vector.driver._commsobj = Comms()

    async def run() -> None:
        for i in range(n):
            vector["value"] = i
            await vector.send_setVector(timestamp=STAMP.replace(tzinfo=UTC))

    asyncio.run(run())
    assert len(out) == n


def best_rate(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return n / min(times)


def main() -> None:
    parts = chunks(stream(N))
    assert pi_decode(parts) == N == ipd_decode(parts)
    rows = [
        (
            "encode setNumberVector",
            best_rate(lambda: pi_encode(N), N),
            best_rate(lambda: ipd_encode(N), N),
        ),
        (
            "decode setNumberVector",
            best_rate(lambda: pi_decode(parts), N),
            best_rate(lambda: ipd_decode(parts), N),
        ),
    ]
    rows.append(
        (
            "driver send_setVector",
            best_rate(lambda: pi_driver_send(N), N),
            best_rate(lambda: ipd_driver_send(N), N),
        )
    )
    enc_pi, enc_ipd = rows[0][1], rows[0][2]
    dec_pi, dec_ipd = rows[1][1], rows[1][2]
    # Encode then decode one message each: the time per message adds up.
    both_pi = 1 / (1 / enc_pi + 1 / dec_pi)
    both_ipd = 1 / (1 / enc_ipd + 1 / dec_ipd)
    rows.append(("encode + decode", both_pi, both_ipd))
    print(f"Python {sys.version.split()[0]}, N={N}, best of {REPEATS}")
    print(f"{'':26}{'pi_indi msg/s':>16}{'indipydriver msg/s':>20}{'ratio':>8}")
    for name, ours, theirs in rows:
        print(f"{name:26}{ours:16,.0f}{theirs:20,.0f}{ours / theirs:8.2f}")


if __name__ == "__main__":
    main()
