"""Every limit of IPyServer, over real sockets on 127.0.0.1, and from the config to the server.

Element and BLOB sizes, the output cap, connections per minute per address,
clients at once, and executable drivers that flood or write garbage.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

import pi_indi as ipd
from pi_indi.appliance import Appliance
from pi_indi.config import parse_config
from pi_indi.errors import RemoteProtocolError
from pi_indi.protocol import (
    DefNumberVector,
    DefSwitchVector,
    DelProperty,
    ElementStream,
    GetProperties,
    NewBLOBVector,
    NewNumberVector,
    NewTextVector,
    OneBLOB,
    PingReply,
    PingRequest,
    SetBLOBVector,
    SetNumberVector,
    SetTextVector,
    encode,
)
from pi_indi.server._access import RateLimit
from pi_indi.server._drivers import ExDriver
from pi_indi_drivers._gpio import Gpio
from tests.helpers import (
    Client,
    Recorder,
    defined,
    free_port,
    is_,
    make_device,
    noisy_script,
    refusals,
    refused_with,
)

KiB = 1 << 10


async def served(client: Client, uid: str = "ok") -> None:
    await client.send(PingRequest(uid=uid))
    await client.expect(is_(PingReply, uid=uid))


def text_request(size: int) -> bytes:
    """A newTextVector of about *size* bytes."""
    return encode(NewTextVector(device="Dev", name="NOTE", values={"TEXT": "x" * size}))


# -- what a client may send ------------------------------------------------------------


async def test_an_element_over_max_element_closes_the_client_and_one_under_it_is_served(
    start, caplog
):
    server = await start(Recorder(make_device()), max_element=4 * KiB)
    good, bad = await server.connect(), await server.connect()
    await good.send(GetProperties(version="1.7", device="Dev"))
    await good.expect(is_(DefSwitchVector, name="MODE"))
    await good.send(text_request(3 * KiB))
    answer = await good.expect(is_(SetTextVector, name="NOTE"))
    assert answer.values == {"TEXT": "x" * 3 * KiB}
    await bad.send(text_request(5 * KiB))
    assert await bad.closed()
    assert any(
        "is larger than the 4096-byte limit" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )
    await served(good)


def blob_request(size: int) -> NewBLOBVector:
    data = bytes(range(256)) * (size // 256)
    return NewBLOBVector(
        device="Dev",
        name="DATA",
        blobs=(OneBLOB(name="FILE", size=len(data), format=".bin", data=data),),
    )


async def test_a_blob_over_max_blob_element_closes_the_client_and_one_under_it_arrives(start):
    driver = Recorder(make_device())
    server = await start(driver, max_element=4 * KiB, max_blob_element=64 * KiB)
    good, bad = await server.connect(), await server.connect()
    await good.send(GetProperties(version="1.7", device="Dev"))
    await good.expect(is_(DefSwitchVector, name="MODE"))
    # Over max_element but a BLOB vector, so under its own limit (base64: 4/3).
    await good.send(blob_request(32 * KiB))
    await good.expect(is_(SetBLOBVector, name="DATA"))
    (received,) = [e for e in driver.received if isinstance(e, ipd.newBLOBVector)]
    assert len(received["FILE"]) == 32 * KiB
    await bad.send(blob_request(64 * KiB))
    assert await bad.closed()
    await served(good)


# -- how far a client may fall behind ------------------------------------------------------


async def test_a_client_over_its_output_cap_is_dropped_and_a_bystander_kept(start, caplog):
    driver = Recorder(make_device())
    server = await start(driver, max_client_queue=32 * KiB)
    # Small socket buffers at both ends, so the kernel holds little of what
    # the slow client does not read and the cap is reached after ~100 KiB.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * KiB)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    slow = Client(reader, writer)
    fast = await server.connect()
    for client in (slow, fast):
        await client.send(GetProperties(version="1.7", device="Dev", name="LEVEL"))
        await client.expect(is_(DefNumberVector, name="LEVEL"))
    (peer,) = [c for c in server.router.clients if c.label.endswith(str(sock.getsockname()[1]))]
    assert peer.transport is not None
    peer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * KiB)
    reading: Any = slow.writer.transport
    reading.pause_reading()  # never reads again
    vector = driver["Dev"]["LEVEL"]
    sent = 0
    while server.client_count == 2:
        assert sent < 5000, "the slow client was never dropped"
        vector["PCT"] = sent % 100
        await vector.send_setVector(message="x" * 1000)
        sent += 1
        if sent % 20 == 0:
            await asyncio.sleep(0)  # let the fast client read
    assert any(
        "bytes behind (limit 32768); dropping it" in line.getMessage() for line in caplog.records
    )
    for i in range(sent):
        got = await fast.expect(is_(SetNumberVector, name="LEVEL"))
        assert got.values == {"PCT": str(i % 100)}
    reading.resume_reading()
    assert await slow.closed()
    slow.close()


# -- how many connect, and how often ---------------------------------------------------------


async def test_connections_per_minute_are_counted_per_address(start, caplog):
    server = await start(Recorder(make_device()), max_connections_per_minute=3)
    for i in range(3):
        client = await server.connect()
        await served(client, str(i))
        client.close()  # closing does not give a connection back: it is a rate
    await refused_with(
        await server.connect(), "more than 3 connections a minute from 127.0.0.1; try again later"
    )
    await refused_with(await server.connect(), "more than 3 connections a minute")
    # Another address has its own count.
    await served(await server.connect(source="127.0.0.2"))
    # Two refusals, one line: the second is counted, not logged, within 10 s.
    lines = [line for line in refusals(caplog) if "in a minute" in line]
    assert len(lines) == 1
    assert lines[0].endswith("refused: over 3 connections from 127.0.0.1 in a minute")


async def test_refusals_for_a_full_server_do_not_use_up_the_rate(start):
    server = await start(Recorder(make_device()), maxconnections=1, max_connections_per_minute=2)
    first = await server.connect()
    await served(first)
    for _ in range(3):
        await refused_with(await server.connect(), "takes at most 1 clients")
    first.close()
    async with asyncio.timeout(5):
        while server.client_count:
            await asyncio.sleep(0.01)
    second = await server.connect()
    await served(second)
    second.close()
    async with asyncio.timeout(5):
        while server.client_count:
            await asyncio.sleep(0.01)
    await refused_with(await server.connect(), "more than 2 connections a minute")


def test_the_rate_window_slides():
    rate = RateLimit()
    for t in (0.0, 10.0):
        assert rate.allows("a", 2, t)
        rate.record("a", t)
    assert not rate.allows("a", 2, 59.0)
    assert rate.allows("b", 2, 59.0)
    assert rate.allows("a", 2, 60.0)  # the first one has left the window
    for i in range(1100):  # many addresses: the old ones are forgotten
        rate.record(f"10.0.{i // 256}.{i % 256}", 200.0 + i / 1000)
    assert "a" not in rate.seen
    assert len(rate.seen) <= 1100


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("max_element", 0, "max_element must be positive, not 0"),
        ("max_blob_element", -1, "max_blob_element must be positive, not -1"),
        ("max_client_queue", 0, "max_client_queue must be positive, not 0"),
        ("max_connections_per_minute", 0, "must be at least 1 (or None for no limit), not 0"),
        ("exdriver_max_bad_xml", 0, "exdriver_max_bad_xml must be positive, not 0"),
        ("exdriver_max_garbage", 0, "exdriver_max_garbage must be positive, not 0"),
        ("exdriver_flood_seconds", 0.0, "exdriver_flood_seconds must be positive, not 0.0"),
        ("maxconnections", 0, "maxconnections must be at least 1, not 0"),
    ],
)
def test_limits_must_be_positive(option: str, value: Any, message: str):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ipd.IPyServer(**{option: value})


# -- from the config -----------------------------------------------------------------------

CONFIG = """\
[server]
host = "127.0.0.1"
maxconnections = 3
max_connections_per_minute = 7
max_client_queue_mb = 0.5
max_element_kb = 4
max_blob_mb = 0.0625
[gpio]
pin_factory = "mock"
[[device]]
driver = "relay"
name = "Relays"
pins = [17]
"""


def config_on_port(text: str, port: int) -> Any:
    config = parse_config(text)
    return dataclasses.replace(config, server=dataclasses.replace(config.server, port=port))


async def test_the_appliance_passes_its_limits_and_a_reload_changes_them():
    port = free_port()
    appliance = Appliance(config_on_port(CONFIG, port), hardware=Gpio("mock"))
    appliance.build()
    server = appliance.make_server()
    limits = (
        "maxconnections",
        "max_connections_per_minute",
        "max_client_queue",
        "flush_size",
        "max_element",
        "max_blob_element",
    )
    assert [getattr(server, name) for name in limits] == [
        3,
        7,
        512 * KiB,
        64 * KiB,
        4 * KiB,
        64 * KiB,
    ]
    task = asyncio.create_task(server.asyncrun())
    clients: list[Client] = []
    try:
        async with asyncio.timeout(5):
            await server.listening.wait()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        clients.append(Client(reader, writer))
        await clients[0].send(text_request(5 * KiB))
        assert await clients[0].closed()  # over 4 KiB
        new = (
            CONFIG.replace("maxconnections = 3", "maxconnections = 4")
            .replace("max_connections_per_minute = 7", "max_connections_per_minute = 0")
            .replace("max_client_queue_mb = 0.5", "max_client_queue_mb = 0.0625")
            .replace("max_element_kb = 4", "max_element_kb = 8")
            .replace("max_blob_mb = 0.0625", "max_blob_mb = 2")
        )
        await appliance.apply(config_on_port(new, port))
        assert [getattr(server, name) for name in limits] == [
            4,
            None,
            64 * KiB,
            16 * KiB,
            8 * KiB,
            2 << 20,
        ]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        clients.append(Client(reader, writer))
        await clients[1].send(GetProperties(version="1.7", device="Relays"))
        await clients[1].send(
            encode(NewTextVector(device="Relays", name="NONE", values={"T": "x" * 5 * KiB}))
        )
        await served(clients[1])  # 5 KiB is under the new limit: not closed
    finally:
        for client in clients:
            client.close()
        appliance.shutdown()
        async with asyncio.timeout(10):
            await task
        appliance.close()


# -- executable drivers that misbehave -----------------------------------------------------


def bad_script(tmp_path: Path) -> Path:
    script = tmp_path / "bad"
    script.write_text(
        f"#!{sys.executable}\n"
        f"exec(open({str(Path(__file__).with_name('bad_driver.py'))!r}).read())\n"
    )
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        pytest.param("flood", r"has written faster than the server takes it for \d+ s", id="flood"),
        pytest.param(
            "garbage", r"wrote \d{7} bytes of garbage since its last good element", id="garbage"
        ),
        pytest.param("badxml", "wrote 32 malformed elements in a row", id="bad-xml"),
    ],
)
async def test_a_misbehaving_exdriver_is_cut_off_and_restarted(
    start, tmp_path, caplog, mode, reason
):
    caplog.set_level(logging.INFO, logger="pi_indi.server")
    server = await start(
        Recorder(make_device()),
        exdrivers=[(str(bad_script(tmp_path)), mode, str(tmp_path / "ran-once"))],
        exdriver_flood_seconds=1.0,
    )
    bystander = await server.connect()
    await bystander.send(GetProperties(version="1.7", device="Dev"))
    await bystander.expect(is_(DefNumberVector, name="LEVEL"))
    watcher = await server.connect()
    await defined(watcher, "Bad")
    # Known to the server now, so this reaches the driver: its second answer,
    # after which it turns bad.
    await watcher.send(GetProperties(version="1.7", device="Bad"))

    await watcher.expect(is_(DelProperty, device="Bad"), timeout=20)
    (cut,) = [r for r in caplog.records if "cutting it off" in r.getMessage()]
    assert cut.levelno == logging.ERROR
    assert re.fullmatch(
        f"exdriver bad {reason}; cutting it off \\(its process group is killed\\)"
        " and restarting it",
        cut.getMessage(),
    )
    # The other drivers are served all along.
    await bystander.send(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "9"}))
    answer = await bystander.expect(is_(SetNumberVector, name="LEVEL"))
    assert answer.values == {"PCT": "9"}
    # Restarted (it behaves the second time): its device is back.
    await watcher.expect(is_(DefNumberVector, device="Bad"), timeout=20)
    assert any("exdriver bad: restart 1 of 10" in r.getMessage() for r in caplog.records)
    await served(bystander)


async def test_an_exdriver_with_occasional_bad_output_is_kept(start, tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="pi_indi.server")
    server = await start(exdrivers=[(str(noisy_script(tmp_path)),)], exdriver_max_bad_xml=4)
    client = await server.connect()
    await defined(client, "Noisy", SetNumberVector)
    # Each answer has malformed output in it, with good elements around it:
    # more bad elements than the limit in all, never that many in a row.
    for _ in range(12):
        await client.send(GetProperties(version="1.7", device="Noisy", name="N"))
        await client.expect(is_(SetNumberVector, device="Noisy"))
    assert not [r for r in caplog.records if "cutting it off" in r.getMessage()]


def test_the_stream_counts_garbage_but_not_the_rest_of_an_element_too_large():
    stream = ElementStream(max_element=1000)

    def read(data: bytes) -> tuple[int, int]:
        stream.feed(data)
        elements = errors = 0
        while True:
            try:
                element = stream.next_element()
            except RemoteProtocolError:
                errors += 1
                continue
            if element is None:
                return elements, errors
            elements += 1

    assert read(b"no xml here at all ") == (0, 1)
    assert stream.skipped == 19
    assert read(b"<<<" + b"x" * 100) == (0, 0)  # skipped quietly after an error
    assert stream.skipped == 19 + 103 - 32  # the last 32 are kept: "<setNumberVec..."
    assert read(b'<getProperties version="1.7"/>') == (1, 0)
    assert stream.skipped == 19 + 103
    # An element too large: refused, and its rest is not garbage...
    before = stream.skipped
    big = b'<setTextVector device="a" name="b"><oneText name="t">' + b"x" * 1500
    assert read(big) == (0, 1)
    assert read(b"x" * 500 + b"</oneText></setTextVector>") == (0, 0)
    assert stream.skipped == before
    # ... up to its limit again: then it is.
    assert read(b"x" * 2000 + b'<getProperties version="1.7"/>') == (1, 0)
    assert stream.skipped == before + 500 + 26 + 2000 - 1000


async def test_an_exdriver_flooding_an_in_process_driver_with_requests_is_paused(
    start, tmp_path, monkeypatch
):
    seen: list[str] = []

    class Slow(ipd.IPyDriver):
        async def rxevent(self, event: Any) -> None:
            seen.append(event["TEXT"])
            await asyncio.sleep(0)

    paused: list[str] = []
    pause = ExDriver.pause

    def spy(self: ExDriver) -> None:
        paused.append(self.label)
        pause(self)

    monkeypatch.setattr(ExDriver, "pause", spy)
    await start(
        Slow(make_device()),
        exdrivers=[(str(bad_script(tmp_path)), "requests", str(tmp_path / "ran-once"))],
    )
    async with asyncio.timeout(20):
        while len(seen) < 3000:
            await asyncio.sleep(0.01)
    assert seen == [str(i) for i in range(3000)]
    assert paused  # more than the driver's queue holds: the exdriver waited


async def test_an_exdriver_stderr_is_logged_up_to_a_cap(start, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="pi_indi.server")
    server = await start(exdrivers=[(str(bad_script(tmp_path)), "stderr", str(tmp_path / "x"))])
    client = await server.connect()
    await defined(client, "Bad")  # it has written its stderr by then
    server.shutdown()  # and every line of it has been read once the server has stopped
    async with asyncio.timeout(10):
        await server.stopped.wait()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("exdriver bad: ")]
    assert lines[:200] == [f"exdriver bad: line {i}" for i in range(200)]
    assert lines[200:] == ["exdriver bad: 100 more lines on stderr were not logged"]
