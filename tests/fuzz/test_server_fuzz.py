"""Fuzzing a live IPyServer on 127.0.0.1 with hostile clients.

One server with an in-process driver runs for the whole module, in a thread of
its own with its own event loop, so that each example is a few socket calls
from this thread. Each example connects a hostile client that sends a
generated or mutated stream (cut into chunks, sent with TCP_NODELAY) while the
driver sends a burst of numbered updates, and then leaves: by closing, by a
half close, by a reset, or by waiting for the server to close it.

After each example:

- the server is still running;
- a bystander client, connected throughout, has received every numbered
  update since the start, in order, and can still set a switch;
- the server holds nothing for the hostile client: it is gone from the
  client table and from every watch table;
- nothing was logged at ERROR (asyncio logs an exception escaping a
  protocol callback there, and closes only that connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pi_indi as ipd
from pi_indi.protocol import (
    NEED_DATA,
    Connection,
    Event,
    GetProperties,
    SetNumberVector,
    SetSwitchVector,
    encode,
)
from tests.fuzz.streams import CUTS, any_streams, chunks, cuts_for, fuzz_settings, valid_messages
from tests.helpers import serving

pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

T = TypeVar("T")
BURST = 20


class FuzzDriver(ipd.IPyDriver):
    """Device "Dev": a numbered stream (SEQ) and a vector of every kind to write to."""

    def __init__(self) -> None:
        super().__init__(
            ipd.Device(
                "Dev",
                [
                    ipd.NumberVector(
                        "SEQ", "Seq", "Main", "ro", "Ok", [ipd.NumberMember("N", "N", "%.0f")]
                    ),
                    ipd.SwitchVector(
                        "TOGGLE",
                        "Toggle",
                        "Main",
                        "rw",
                        "AnyOfMany",
                        "Ok",
                        [ipd.SwitchMember("T", "T", "Off"), ipd.SwitchMember("U", "U", "Off")],
                    ),
                    ipd.SwitchVector(
                        "MODE",
                        "Mode",
                        "Main",
                        "rw",
                        "OneOfMany",
                        "Ok",
                        [ipd.SwitchMember("A", "A", "On"), ipd.SwitchMember("B", "B", "Off")],
                    ),
                    ipd.NumberVector(
                        "LEVEL",
                        "Level",
                        "Main",
                        "rw",
                        "Ok",
                        [ipd.NumberMember("PCT", "Pct", "%.1f", 0, 100, 1, 0)],
                    ),
                    ipd.TextVector(
                        "NOTE", "Note", "Main", "rw", "Ok", [ipd.TextMember("TEXT", "Text", "")]
                    ),
                    ipd.LightVector(
                        "LAMP", "Lamp", "Main", "Idle", [ipd.LightMember("L", "L", "Idle")]
                    ),
                    ipd.BLOBVector("DATA", "Data", "Main", "rw", "Ok", [ipd.BLOBMember("FILE")]),
                ],
            )
        )
        self.seq = 0

    async def rxevent(self, event: Any) -> None:
        if event.vectorname == "DATA":
            await event.vector.send_setVectorMembers(state="Ok")
            return
        for name, value in event.items():
            event.vector[name] = value
        await event.vector.send_setVector(state="Ok")

    async def burst(self, count: int) -> int:
        vector = self["Dev"]["SEQ"]
        for _ in range(count):
            self.seq += 1
            vector["N"] = self.seq
            await vector.send_setVector(state="Busy")
            await asyncio.sleep(0)
        return self.seq


class LiveServer:
    """An IPyServer serving FuzzDriver from an event loop in another thread."""

    def __init__(self) -> None:
        self.driver = FuzzDriver()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-server")
        self.thread.start()
        self.server = self.call(self._start())
        self.port = self.server.port

    async def _start(self) -> ipd.IPyServer:
        self.running = contextlib.AsyncExitStack()
        server: ipd.IPyServer = await self.running.enter_async_context(
            serving(self.driver, maxconnections=20)
        )
        return server

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def alive(self) -> bool:
        return not self.server.stopped.is_set()

    async def _forgotten(self, keep: int) -> str | None:
        # Poll (bounded) until only *keep* clients are left, then check the watch tables.
        server: Any = self.server
        for _ in range(500):
            if len(server.router.clients) <= keep:
                break
            await asyncio.sleep(0.01)
        else:
            return f"{len(server.router.clients)} clients still held, {keep} connected"
        watch = server.router.client_watch
        held = set(watch.all)
        for peers in (*watch.devices.values(), *watch.props.values()):
            held |= peers
        if not held <= server.router.clients:
            return f"{len(held - server.router.clients)} closed clients still in the watch tables"
        return None

    def forgotten(self, keep: int) -> str | None:
        """None once the server holds only *keep* clients and no trace of others."""
        return self.call(self._forgotten(keep))

    def stop(self) -> None:
        try:
            self.call(self.running.aclose(), timeout=15)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


class Bystander:
    """A well-behaved client on a blocking socket that checks SEQ as it reads."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.conn = Connection()
        self.events: list[Event] = []
        self.seq = 0
        self.toggle = "Off"

    def send(self, event: Event) -> None:
        self.sock.sendall(encode(event))

    def _read(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the server closed the bystander's connection")
        self.conn.receive_data(chunk)
        while (event := self.conn.next_event()) is not NEED_DATA:
            if type(event) is SetNumberVector and event.name == "SEQ" and "N" in event.values:
                n = int(event.values["N"])
                assert n == self.seq + 1, f"update {n} after {self.seq}"
                self.seq = n
            else:
                self.events.append(event)  # type: ignore[arg-type]

    def expect(self, match: Callable[[Event], bool], timeout: float = 10) -> Event:
        end = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if match(event):
                    del self.events[: i + 1]
                    return event
            self.events.clear()
            if time.monotonic() > end:
                raise TimeoutError("the bystander did not get what it waited for")
            self._read()

    def wait_seq(self, n: int, timeout: float = 10) -> None:
        end = time.monotonic() + timeout
        while self.seq < n:
            if time.monotonic() > end:
                raise TimeoutError(f"the bystander has update {self.seq}, not {n}")
            self._read()
        self.events.clear()

    def set_switch(self) -> None:
        self.toggle = "On" if self.toggle == "Off" else "Off"
        self.sock.sendall(
            b'<newSwitchVector device="Dev" name="TOGGLE"><oneSwitch name="T">%s</oneSwitch>'
            b"</newSwitchVector>" % self.toggle.encode()
        )
        self.expect(
            lambda e: (
                type(e) is SetSwitchVector
                and e.name == "TOGGLE"
                and str(e.values.get("T")) == self.toggle
            )
        )

    def close(self) -> None:
        self.sock.close()


class Errors(logging.Handler):
    """Keeps the errors logged: asyncio's "data_received() call failed", the server's own."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[LiveServer, Bystander, Errors]]:
    # The log would hold a line per hostile client; only errors matter here.
    logger = logging.getLogger("pi_indi")
    level = logger.level
    logger.setLevel(logging.ERROR)
    errors = Errors()
    logging.getLogger().addHandler(errors)
    server = LiveServer()
    bystander = Bystander(server.port)
    try:
        bystander.send(GetProperties(version="1.7"))
        bystander.set_switch()
        yield server, bystander, errors
    finally:
        bystander.close()
        server.stop()
        logging.getLogger().removeHandler(errors)
        logger.setLevel(level)


# Requests a client would send this server, then everything else.
DEV_REQUESTS = [
    b'<getProperties version="1.7" device="Dev"/>',
    b'<getProperties version="1.7" device="Dev" name="LEVEL"/>',
    b'<enableBLOB device="Dev">Also</enableBLOB>',
    b'<newSwitchVector device="Dev" name="MODE"><oneSwitch name="B">On</oneSwitch>'
    b"</newSwitchVector>",
    b'<newSwitchVector device="Dev" name="TOGGLE"><oneSwitch name="U">On</oneSwitch>'
    b"</newSwitchVector>",
    b'<newNumberVector device="Dev" name="LEVEL"><oneNumber name="PCT">42</oneNumber>'
    b"</newNumberVector>",
    b'<newNumberVector device="Dev" name="LEVEL"><oneNumber name="PCT">1:30:00</oneNumber>'
    b"</newNumberVector>",
    b'<newNumberVector device="Dev" name="SEQ"><oneNumber name="N">0</oneNumber></newNumberVector>',
    b'<newTextVector device="Dev" name="NOTE"><oneText name="TEXT">hi &amp; bye</oneText>'
    b"</newTextVector>",
    b'<newBLOBVector device="Dev" name="DATA"><oneBLOB name="FILE" size="3" format=".bin">'
    b"YWJj</oneBLOB></newBLOBVector>",
    b'<newSwitchVector device="Dev" name="LAMP"><oneSwitch name="L">On</oneSwitch>'
    b"</newSwitchVector>",
    b'<pingRequest uid="x"/>',
    b'<setNumberVector device="Dev" name="SEQ"><oneNumber name="N">1000000</oneNumber>'
    b"</setNumberVector>",
]
REQUESTS = st.one_of(st.sampled_from(DEV_REQUESTS), valid_messages())
LEAVE = st.sampled_from(["close", "half close", "reset", "wait"])


def attack(port: int, pieces: list[bytes], leave: str) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with contextlib.suppress(OSError):  # closed by the server while sending: fine
            for piece in pieces:
                sock.sendall(piece)
            if leave == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if leave == "half close":
                sock.shutdown(socket.SHUT_WR)
            if leave in ("half close", "wait"):
                sock.settimeout(0.05 if leave == "wait" else 5)
                while sock.recv(1 << 16):
                    pass


@fuzz_settings(400)
@given(stream=any_streams(REQUESTS), cuts=CUTS, leave=LEAVE)
def test_hostile_clients_leave_the_server_serving_and_holding_nothing_for_them(
    live, stream, cuts, leave
):
    server, bystander, errors = live
    errors.records.clear()
    burst = asyncio.run_coroutine_threadsafe(server.driver.burst(BURST), server.loop)
    pieces = list(chunks(stream, cuts_for(len(stream), cuts)))
    if len(pieces) > 2000:  # a trickle of a big stream: the last part in one piece
        pieces[1999:] = [b"".join(pieces[1999:])]
    with contextlib.suppress(TimeoutError):
        attack(server.port, pieces, leave)
    last = burst.result(10)
    assert server.alive()
    bystander.wait_seq(last)
    bystander.set_switch()
    problem = server.forgotten(keep=1)
    assert problem is None, problem
    assert not errors.records, errors.records
