"""IPyServer conversations over real sockets on 127.0.0.1, with in-process drivers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

import pi_indi as ipd
from pi_indi.protocol import (
    BLOBPolicy,
    DefNumberVector,
    DefSwitchVector,
    DelProperty,
    EnableBLOB,
    GetProperties,
    Message,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    OneBLOB,
    PingReply,
    PingRequest,
    PropertyState,
    SetBLOBVector,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    SwitchState,
    encode,
)
from tests.helpers import Client, Recorder, is_, make_device, noisy_script

MiB = 1 << 20


class Memory:
    """Python memory allocated since the measure began (tracemalloc, whole process)."""

    def __init__(self) -> None:
        self.base = 0

    def growth(self) -> int:
        """What is still held now, after a collection."""
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - self.base

    def peak(self) -> int:
        """The most held at any moment."""
        return tracemalloc.get_traced_memory()[1] - self.base


@contextlib.contextmanager
def measure_memory() -> Iterator[Memory]:
    # No collection first: what was allocated before the start is not traced.
    tracemalloc.start()
    memory = Memory()
    memory.base = tracemalloc.get_traced_memory()[0]
    try:
        yield memory
    finally:
        tracemalloc.stop()


async def everyone_forgotten(server: ipd.IPyServer) -> None:
    """Wait (bounded) until the server has let go of every client, then check its tables."""
    async with asyncio.timeout(5):
        while server.router.clients:
            await asyncio.sleep(0.01)
    watch = server.router.client_watch
    assert not watch.all
    assert not watch.devices
    assert not watch.props


async def test_get_properties_is_answered_and_not_echoed_to_other_clients(start):
    server = await start(Recorder(make_device()))
    a = await server.connect()
    b = await server.connect()
    await b.send(GetProperties())
    await b.expect(is_(DefSwitchVector, name="RELAY"))
    await a.send(GetProperties(device="Dev", name="LEVEL"))
    defined = await a.expect(is_(DefNumberVector, name="LEVEL"))
    assert defined.members[0].format == "%.1f"
    assert await b.silent(lambda e: isinstance(e, GetProperties))


async def test_request_reaches_driver_answer_reaches_watchers_and_only_them(start):
    server = await start(Recorder(make_device()))
    sender, watcher, stranger = [await server.connect() for _ in range(3)]
    await sender.send(GetProperties(device="Dev"))
    await watcher.send(GetProperties(device="Dev", name="LEVEL"))
    await stranger.send(GetProperties(device="Other"))
    await watcher.expect(is_(DefNumberVector, name="LEVEL"))
    await sender.send(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "42"}))
    reply = await sender.expect(is_(SetNumberVector, name="LEVEL"))
    assert reply.values == {"PCT": "42"}
    # indiserver echoes a client's request to the other clients watching it.
    echo = await watcher.expect(is_(NewNumberVector, name="LEVEL"))
    assert echo.values == {"PCT": "42"}
    await watcher.expect(is_(SetNumberVector, name="LEVEL"))
    assert await stranger.silent(lambda e: getattr(e, "device", None) == "Dev")


async def test_bad_requests_get_answers_and_the_client_stays(start):
    server = await start(Recorder(make_device()))
    client = await server.connect()
    await client.send(GetProperties(device="Dev"))
    await client.send(NewNumberVector(device="Dev", name="MODE", values={"A": "1"}))
    alert = await client.expect(is_(SetSwitchVector, name="MODE"))
    assert alert.state is PropertyState.ALERT
    await client.send(
        b'<newNumberVector device="Dev" name="LEVEL"><oneNumber name="PCT">ten</oneNumber>'
        b"</newNumberVector>"
    )
    refused = await client.expect(is_(Message, device="Dev"))
    assert "not a number" in (refused.message or "")
    await client.send(PingRequest(uid="still-here"))
    assert await client.expect(is_(PingReply, uid="still-here"))


async def test_malformed_xml_closes_only_that_client(start):
    server = await start(Recorder(make_device()))
    bad = await server.connect()
    good = await server.connect()
    await good.send(GetProperties(device="Dev"))
    await bad.send(b"<newSwitchVector device='Dev' name='MODE'><oneSwitch name='A'>On</nope>")
    assert await bad.closed()
    await good.send(NewSwitchVector(device="Dev", name="MODE", values={"B": SwitchState.ON}))
    await good.expect(is_(SetSwitchVector, name="MODE"))


async def test_doctype_is_refused_and_closes_the_client(start):
    server = await start(Recorder(make_device()))
    client = await server.connect()
    await client.send(b'<!DOCTYPE x [<!ENTITY a "aaaaaaaa">]><getProperties version="1.7"/>')
    assert await client.closed()


async def test_connection_over_maxconnections_is_told_and_closed(start):
    server = await start(Recorder(make_device()), maxconnections=2)
    await server.connect()
    await server.connect()
    third = await server.connect()
    told = await third.expect(lambda e: isinstance(e, Message))
    assert "at most 2" in (told.message or "")
    assert await third.closed()


async def test_blobs_go_only_to_clients_that_enabled_them(start):
    driver = Recorder(make_device())
    server = await start(driver)
    wants, never = [await server.connect() for _ in range(2)]
    for client in (wants, never):
        await client.send(GetProperties(device="Dev"))
        await client.expect(is_(DefSwitchVector, name="MODE"))
    await wants.send(EnableBLOB(device="Dev", policy=BLOBPolicy.ALSO))
    await asyncio.sleep(0.1)
    vector = driver["Dev"]["DATA"]
    vector["FILE"] = b"\x00\x01binary"
    await vector.send_setVectorMembers(members=["FILE"])
    got = await wants.expect(is_(SetBLOBVector, name="DATA"))
    assert got.blobs == (OneBLOB(name="FILE", size=8, format=".bin", data=b"\x00\x01binary"),)
    assert await never.silent(is_(SetBLOBVector, name="DATA"))
    # Everything else still reaches the client that wants no BLOBs.
    await driver["Dev"]["NOTE"].send_setVector()
    await never.expect(is_(SetTextVector, name="NOTE"))


async def test_slow_client_is_dropped_and_a_bystander_gets_every_update(start):
    driver = Recorder(make_device())
    server = await start(driver, max_client_queue=64 << 10)
    slow = await server.connect()
    fast = await server.connect()
    for client in (slow, fast):
        await client.send(GetProperties(device="Dev", name="LEVEL"))
    await fast.expect(is_(DefNumberVector, name="LEVEL"))
    slow.writer.transport.pause_reading()  # never reads again
    vector = driver["Dev"]["LEVEL"]
    count = 20000  # about 20 MB, well past what the kernel's socket buffers hold
    received = 0

    async def read_all() -> None:
        nonlocal received
        while received < count:
            event = await fast.expect(is_(SetNumberVector, name="LEVEL"), timeout=10)
            assert event.values == {"PCT": str(received % 100)}
            received += 1

    with measure_memory() as memory:
        reader = asyncio.create_task(read_all())
        for i in range(count):
            vector["PCT"] = i % 100
            await vector.send_setVector(message="x" * 1000)
            if i % 100 == 0:
                await asyncio.sleep(0)
        await reader
        # Queued for the client that never reads, the flood would be ~20 MiB.
        assert memory.peak() < 6 * MiB, f"peak {memory.peak() / MiB:.1f} MiB during the flood"
    assert received == count
    slow.writer.transport.resume_reading()
    assert await slow.closed(timeout=10)  # the server dropped it
    fast.close()
    await everyone_forgotten(server)


async def test_snooping_between_two_drivers(start):
    class Snooper(ipd.IPyDriver):
        def __init__(self) -> None:
            super().__init__(
                ipd.Device(
                    "Watcher", [ipd.TextVector("T", "T", "", "ro", "Ok", [ipd.TextMember("t")])]
                )
            )
            self.seen: asyncio.Queue[Any] = asyncio.Queue()

        async def hardware(self) -> None:
            await self.send_getProperties("Dev", "LEVEL")

        async def snoopevent(self, event: Any) -> None:
            await self.seen.put(event)

    snooper = Snooper()
    server = await start(Recorder(make_device()), snooper)
    client = await server.connect()
    await client.send(GetProperties(device="Dev"))
    await client.send(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "7"}))
    async with asyncio.timeout(3):
        while True:
            event = await snooper.seen.get()
            if isinstance(event, ipd.setNumberVector):
                break
    assert event["PCT"] == "7"


async def test_duplicate_device_names_are_refused_at_start():
    with pytest.raises(ValueError, match="'Dev' is served by both"):
        ipd.IPyServer(Recorder(make_device()), Recorder(make_device()))


async def test_device_less_message_reaches_every_client(start):
    server = await start(Recorder(make_device()))
    a, b = [await server.connect() for _ in range(2)]
    await a.send(PingRequest(uid="1"))
    await a.expect(is_(PingReply))
    await b.send(PingRequest(uid="1"))
    await b.expect(is_(PingReply))
    await server.send_message("hello all")
    for client in (a, b):
        got = await client.expect(is_(Message))
        assert got.message == "hello all"


async def test_whole_device_deletion_reaches_watchers(start):
    driver = Recorder(make_device())
    server = await start(driver)
    client = await server.connect()
    await client.send(GetProperties(device="Dev"))
    await client.expect(is_(DefSwitchVector, name="MODE"))
    await driver["Dev"].send_delProperty()
    await client.expect(is_(DelProperty, device="Dev", name=None))


async def test_invalid_output_from_an_exdriver_is_dropped_and_the_rest_relayed(start, tmp_path):
    server = await start(exdrivers=[(str(noisy_script(tmp_path)),)])
    client = await server.connect()
    await client.send(GetProperties(device="Noisy"))
    good = await client.expect(is_(SetNumberVector, device="Noisy"))
    assert isinstance(good, SetNumberVector)
    assert good.values == {"x": "2"}
    assert good.state is PropertyState.BUSY


def xml_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if " RX:: " in r.getMessage() or " TX:: " in r.getMessage()]


async def test_debug_enable_logs_an_in_process_driver_traffic_both_ways(start, caplog):
    caplog.set_level(logging.DEBUG)

    class Quiet(Recorder):
        pass

    loud = Recorder(make_device())
    loud.debug_enable = True
    server = await start(loud, Quiet(make_device("Other")))
    client = await server.connect()
    for device in ("Dev", "Other"):
        await client.send(GetProperties(device=device, name="LEVEL"))
        await client.expect(is_(DefNumberVector, device=device, name="LEVEL"))
        await client.send(NewNumberVector(device=device, name="LEVEL", values={"PCT": "5"}))
        await client.expect(is_(SetNumberVector, device=device, name="LEVEL"))
    logged = xml_logged(caplog)
    assert {(r.name, r.levelno) for r in logged} == {("pi_indi.driver", logging.DEBUG)}
    text = [r.getMessage() for r in logged]
    for prefix in (
        'driver Recorder RX:: <getProperties version="1.7" device="Dev" name="LEVEL"/>',
        'driver Recorder TX:: <defNumberVector device="Dev" name="LEVEL"',
        'driver Recorder RX:: <newNumberVector device="Dev" name="LEVEL"',
        'driver Recorder TX:: <setNumberVector device="Dev" name="LEVEL"',
    ):
        assert any(line.startswith(prefix) for line in text), prefix
    # The driver without debug_enable logs no XML.
    assert not [line for line in text if "Other" in line or "Quiet" in line]


async def test_debug_enable_logs_an_exdriver_traffic_both_ways(start, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)

    def add_exdrivers(server: ipd.IPyServer) -> None:
        server.add_exdriver(str(noisy_script(tmp_path, "loud")), "Loud", debug_enable=True)
        server.add_exdriver(str(noisy_script(tmp_path, "hush")), "Hush")

    server = await start(setup=add_exdrivers)
    client = await server.connect()
    for device in ("Loud", "Hush"):
        await client.send(GetProperties(device=device))
        await client.expect(is_(SetNumberVector, device=device))
        await client.send(NewNumberVector(device=device, name="N", values={"x": "3"}))
        # Answered after the request above: it has reached the driver by then.
        await client.send(GetProperties(device=device, name="N"))
        await client.expect(is_(SetNumberVector, device=device))
    server.shutdown()  # every line of the drivers' output has been read once it has stopped
    async with asyncio.timeout(10):
        await server.stopped.wait()
    logged = xml_logged(caplog)
    assert {(r.name, r.levelno) for r in logged} == {("pi_indi.server", logging.DEBUG)}
    text = [r.getMessage() for r in logged]
    for prefix in (
        'exdriver loud RX:: <getProperties version="1.7"/>',
        'exdriver loud RX:: <getProperties version="1.7" device="Loud" name="N"/>',
        'exdriver loud RX:: <newNumberVector device="Loud" name="N"',
        'exdriver loud TX:: <defNumberVector device="Loud" name="N"',
        'exdriver loud TX:: <setNumberVector device="Loud" name="N" state="Busy"',
    ):
        assert any(line.startswith(prefix) for line in text), prefix
    assert not [line for line in text if "hush" in line or "Hush" in line]


async def _bystander_still_served(server: Any, bystander: Client) -> None:
    await bystander.send(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "9"}))
    got = await bystander.expect(is_(SetNumberVector, name="LEVEL"))
    assert isinstance(got, SetNumberVector)
    assert got.values == {"PCT": "9"}


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(bytes(range(256)) * 64, id="binary-garbage"),
        pytest.param(b"<getProperties " + b"a" * (10 << 20), id="10MB-tag"),
        pytest.param(
            b'<newTextVector device="Dev" name="NOTE"><oneText name="TEXT">'
            + b"x" * (2 << 20)
            + b"</oneText></newTextVector>",
            id="2MB-element",
        ),
        pytest.param(
            b'<!DOCTYPE lolz [<!ENTITY lol "lol">]><message message="&lol;"/>', id="entity"
        ),
    ],
)
async def test_hostile_client_is_closed_and_a_bystander_is_unaffected(start, attack, caplog):
    # Log records kept by pytest would keep the refused input alive.
    caplog.set_level(logging.ERROR, logger="pi_indi")
    server = await start(Recorder(make_device()))
    bystander = await server.connect()
    await bystander.send(GetProperties(device="Dev"))
    await bystander.expect(is_(DefNumberVector, name="LEVEL"))
    assert await asyncio.to_thread(_attack, server.port, b"<a></b>")  # warm up, unmeasured
    with measure_memory() as memory:
        # A blocking socket in a thread: it sends the attack without copying it,
        # so what is measured is what the server holds.
        assert await asyncio.to_thread(_attack, server.port, attack)
        async with asyncio.timeout(5):
            while len(server.router.clients) > 1:
                await asyncio.sleep(0.01)
        assert memory.peak() < 3 * MiB, f"peak {memory.peak() / MiB:.1f} MiB during the attack"
        assert memory.growth() < 64 << 10, f"{memory.growth() >> 10} KiB left behind"
    await _bystander_still_served(server, bystander)
    bystander.close()
    await everyone_forgotten(server)


def _attack(port: int, payload: bytes) -> bool:
    """Send *payload*; True once the server has closed the connection."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(10)
        with contextlib.suppress(ConnectionError):  # closed while still sending: fine
            sock.sendall(payload)
        try:
            while sock.recv(1 << 16):
                pass
        except ConnectionError:
            pass
        except TimeoutError:
            return False
    return True


async def test_two_hundred_connect_disconnect_cycles_leave_nothing_behind(start, caplog):
    # Records of 400 connections and disconnections, kept by pytest, are not the server's.
    caplog.set_level(logging.WARNING, logger="pi_indi")
    server = await start(Recorder(make_device()), maxconnections=3)
    bystander = await server.connect()
    await bystander.send(GetProperties(device="Dev"))
    await bystander.expect(is_(DefNumberVector, name="LEVEL"))
    with measure_memory() as memory:
        for i in range(200):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(encode(GetProperties(device="Dev", name=f"P{i}")))
            writer.close()
            await writer.wait_closed()
        async with asyncio.timeout(5):
            while len(server.router.clients) > 1:
                await asyncio.sleep(0.01)
        # Each client the server kept would hold some KiB (connection, parser, transport).
        assert memory.growth() < 64 << 10, f"{memory.growth() >> 10} KiB left behind"
    # Slots came back: two more clients fit under maxconnections=3.
    extra = [await server.connect() for _ in range(2)]
    for client in extra:
        await client.send(PingRequest(uid="ok"))
        await client.expect(is_(PingReply, uid="ok"))
    await _bystander_still_served(server, bystander)
    for client in (bystander, *extra):
        client.close()
    await everyone_forgotten(server)


async def test_a_flood_of_requests_reaches_rxevent_complete_and_in_order(start):
    seen: list[str] = []

    class Slow(ipd.IPyDriver):
        async def rxevent(self, event: Any) -> None:
            seen.append(event["TEXT"])
            await asyncio.sleep(0)

    server = await start(Slow(make_device()))
    client = await server.connect()
    count = 3000  # more than the driver's queue and the server's own pause mark
    await client.send(
        b"".join(
            encode(NewTextVector(device="Dev", name="NOTE", values={"TEXT": str(i)}))
            for i in range(count)
        )
    )
    async with asyncio.timeout(20):
        while len(seen) < count:
            await asyncio.sleep(0.01)
    assert seen == [str(i) for i in range(count)]
