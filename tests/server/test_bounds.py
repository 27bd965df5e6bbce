"""What one peer can cost the server, over real sockets on 127.0.0.1: all of it bounded.

Each test here is a way a client or a driver could make IPyServer grow, lock
others out, flood the log or slip past a refusal; each asserts the bound, and
that a bystander is still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from pi_indi.protocol import (
    BLOBPolicy,
    DefSwitchVector,
    DefTextVector,
    DelProperty,
    EnableBLOB,
    Event,
    GetProperties,
    NewSwitchVector,
    NewTextVector,
    PingReply,
    PingRequest,
    SetTextVector,
    SwitchState,
    encode,
)
from tests.helpers import Client, Recorder, defined, is_, make_device

KiB = 1 << 10
MiB = 1 << 20
LOGGER = "pi_indi.server"


# -- helpers ---------------------------------------------------------------------------


def clients_of(server: Any) -> set[Any]:
    """The server's clients."""
    return set(server.router.clients)


def interest_held(client: Any) -> int:
    return len(client.interest)


def blob_choices_held(client: Any) -> int:
    return len(client.blobs)


async def served(client: Client, uid: str = "ok") -> None:
    await client.send(PingRequest(uid=uid))
    await client.expect(is_(PingReply, uid=uid))


async def dev_defined(client: Client) -> None:
    await client.send(GetProperties(version="1.7", device="Dev"))
    await client.expect(is_(DefSwitchVector, device="Dev", name="MODE"))


def told(text: str, start: bool = False) -> Any:
    def match(event: Event) -> bool:
        # A <message>, or a refused request's vector in Alert with its message.
        message = getattr(event, "message", None) or ""
        return message.startswith(text) if start else text in message

    return match


async def read_to_eof(reader: asyncio.StreamReader, timeout: float) -> bytes:
    data = b""
    async with asyncio.timeout(timeout):
        with contextlib.suppress(ConnectionResetError):
            while chunk := await reader.read(1 << 16):
                data += chunk
    return data


async def wait_for(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def records(caplog: pytest.LogCaptureFixture, text: str = "", level: int = 0) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno >= level and text in r.getMessage()
    ]


def script(tmp_path: Path, name: str, body: str) -> Path:
    """An executable driver: *body* run by this Python."""
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


# -- 1: what one client can make the server remember -------------------------------------


async def test_getproperties_for_thousands_of_unknown_devices_are_bounded(start):
    server = await start(Recorder(make_device()))
    attacker, bystander = await server.connect(), await server.connect()
    await attacker.send(
        b"".join(encode(GetProperties(version="1.7", device=f"Nope{i}")) for i in range(3000))
    )
    await attacker.expect(told("[ERROR] refused <getProperties>", start=True), timeout=10)
    await dev_defined(bystander)
    await served(attacker)  # kept, and every request has been read
    for client in clients_of(server):
        assert interest_held(client) <= 1024
        assert blob_choices_held(client) <= 1024


async def test_enableblob_for_thousands_of_unknown_devices_is_bounded(start):
    server = await start(Recorder(make_device()))
    attacker, bystander = await server.connect(), await server.connect()
    await attacker.send(
        b"".join(encode(EnableBLOB(device=f"Nope{i}", policy=BLOBPolicy.ALSO)) for i in range(3000))
    )
    await attacker.expect(told("[ERROR] refused <enableBLOB>", start=True), timeout=10)
    await dev_defined(bystander)
    await served(attacker)
    for client in clients_of(server):
        assert interest_held(client) <= 1024
        assert blob_choices_held(client) <= 1024


# -- 2: a client that sends but never reads ------------------------------------------------


async def test_a_client_that_never_reads_is_not_read_while_its_output_waits(start):
    server = await start(Recorder(make_device()))
    loop = asyncio.get_running_loop()
    # Small socket buffers for what the server sends it, so the server's
    # output backs up at once; and for what it sends, so it blocks soon
    # after the server stops reading it.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * KiB)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * KiB)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", server.port))
        port = sock.getsockname()[1]
        await wait_for(lambda: any(c.label.endswith(f":{port}") for c in clients_of(server)))
        (peer,) = [c for c in clients_of(server) if c.label.endswith(f":{port}")]
        server_side = peer.transport.get_extra_info("socket")
        server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * KiB)
        bystander = await server.connect()
        await dev_defined(bystander)
        burst = encode(GetProperties(version="1.7")) * 100  # each answered with every def
        pending = b""
        most = 0
        started = pinged = loop.time()
        blocked_since: float | None = None
        while loop.time() - started < 5.0:
            try:
                pending = pending or burst
                pending = pending[sock.send(pending) :]
                blocked_since = None
            except BlockingIOError:
                if blocked_since is None:
                    blocked_since = loop.time()
                elif loop.time() - blocked_since >= 1.0:
                    break  # the server has stopped reading it
            except OSError:
                break  # dropped (at max_client_queue)
            await asyncio.sleep(0.001)
            if peer.transport is not None:
                most = max(most, peer.transport.get_write_buffer_size())
            assert most < 4 * MiB, f"{most} bytes queued for a client that reads nothing"
            if loop.time() - pinged >= 0.5:
                await served(bystander, str(loop.time()))
                pinged = loop.time()
        assert blocked_since is not None, "the server kept reading a client that reads nothing"
        assert loop.time() - blocked_since >= 1.0
        await served(bystander, "after")
    finally:
        sock.close()


# -- 3: sockets that connect and say nothing -----------------------------------------------


async def test_silent_sockets_do_not_lock_everyone_out(start):
    server = await start(Recorder(make_device()))  # maxconnections=5
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(5)]
    try:
        await wait_for(lambda: len(clients_of(server)) == 5)
        await asyncio.sleep(2.2)
        bystander = await server.connect()
        await dev_defined(bystander)
        await served(bystander)
        # The one that made room (the oldest) was told why, and closed.
        evicted = await read_to_eof(idle[0][0], timeout=3)
        assert b"sent no request" in evicted
    finally:
        for _, writer in idle:
            writer.close()


async def test_a_silent_socket_is_told_and_closed_after_the_handshake_timeout(start):
    # The default handshake_timeout (10 s): slow, but runs on any version.
    server = await start(Recorder(make_device()))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        data = await read_to_eof(reader, timeout=10.0 + 2.0)
        assert b"<message" in data
        assert b"nothing received" in data
    finally:
        writer.close()


# -- 4: requests for devices nobody serves ---------------------------------------------------


async def test_getproperties_for_a_device_nobody_serves_is_answered(start):
    server = await start(Recorder(make_device()))
    client = await server.connect()
    await client.send(GetProperties(version="1.7", device="Ghost"))
    await client.expect(told("no device 'Ghost' on this server"))
    await served(client)


async def test_a_change_for_a_device_nobody_serves_is_answered(start):
    server = await start(Recorder(make_device()))
    client = await server.connect()
    await client.send(NewSwitchVector(device="Ghost", name="MODE", values={"A": SwitchState.ON}))
    await client.expect(told("no device"))
    await served(client)


# -- 5: malformed XML -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [b'<getProperties version="1.7"><<<', b"<a><b></a>"],
    ids=["angle-brackets", "mismatched-tag"],
)
async def test_malformed_xml_is_answered_before_the_close(start, payload):
    server = await start(Recorder(make_device()))
    client, bystander = await server.connect(), await server.connect()
    await client.send(payload)
    await client.expect(told("malformed"))
    assert await client.closed()
    await served(bystander)


# -- 6, 7: the log --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b'<newSwitchVector device="Dev" name="MODE&#10;FORGED">'
        b'<oneSwitch name="A">On</oneSwitch></newSwitchVector>\n',
        b'<newSwitchVector device="Dev" name="MODE&#13;&#10;FORGED&#x2028;x">'
        b'<oneSwitch name="A">On</oneSwitch></newSwitchVector>\n',
        b'<newSwitchVector device="Ghost&#10;FORGED" name="MODE">'
        b'<oneSwitch name="A">On</oneSwitch></newSwitchVector>\n',
    ],
    ids=["read-only-name", "read-only-crlf", "unknown-device"],
)
async def test_client_given_names_cannot_forge_log_lines(start, caplog, payload):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    server = await start(Recorder(make_device()), readonly_devices=["Dev"])
    client = await server.connect()
    await client.send(payload)
    await client.expect(lambda e: bool(getattr(e, "message", None)))
    await served(client)
    logged = records(caplog)
    assert logged
    for line in logged:
        assert not any(c in line for c in "\n\r\u2028"), line


def readonly_change(i: int) -> bytes:
    return (
        b'<newSwitchVector device="Dev" name="MODE"><oneSwitch name="B">On</oneSwitch>'
        b"</newSwitchVector>\n"
        if i % 2
        else b'<newSwitchVector device="Dev" name="RELAY"><oneSwitch name="ON">On</oneSwitch>'
        b"</newSwitchVector>\n"
    )


def unknown_change(i: int) -> bytes:
    return encode(NewSwitchVector(device=f"Ghost{i % 7}", name="M", values={"A": SwitchState.ON}))


@pytest.mark.parametrize(
    ("request_", "answer"),
    [(readonly_change, "is read-only on this server"), (unknown_change, "no device")],
    ids=["read-only", "unknown-device"],
)
async def test_a_burst_of_refused_requests_logs_a_few_lines(start, caplog, request_, answer):
    caplog.set_level(logging.INFO, logger=LOGGER)
    driver = Recorder(make_device())
    server = await start(driver, readonly_devices=["Dev"])
    client, bystander = await server.connect(), await server.connect()
    count = 20_000
    client.writer.write(b"".join(request_(i) for i in range(count)))
    async with asyncio.timeout(60):
        for _ in range(count):
            await client.expect(told(answer), timeout=10)
    await served(client)
    await dev_defined(bystander)
    assert len(records(caplog, level=logging.WARNING)) <= 3
    assert not [e for e in driver.received if type(e).__name__.startswith("new")]


# -- 8: executable drivers ------------------------------------------------------------------

DEAF = """\
import os, time
definition = (
    b'<defTextVector device="Deaf" name="T" state="Ok" perm="rw">'
    b'<defText name="x">1</defText></defTextVector>\\n'
)
while True:  # never reads its stdin
    os.write(1, definition)
    time.sleep(0.2)
"""


async def test_a_driver_not_reading_its_input_is_logged_once_per_run(start, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    server = await start(
        Recorder(make_device()),
        exdrivers=[(str(script(tmp_path, "deaf", DEAF)),)],
        max_client_queue=64 * KiB,
    )
    client = await server.connect()
    await defined(client, "Deaf", DefTextVector)
    text = "x" * 1000
    await client.send(
        b"".join(
            b'<newTextVector device="Deaf" name="T"><oneText name="x">%d%s</oneText>'
            b"</newTextVector>\n" % (i, text.encode())
            for i in range(3000)
        )
    )
    await wait_for(lambda: records(caplog, "is not reading its input"), timeout=10)
    await served(client)
    await asyncio.sleep(1.0)  # whatever else it logs for that run, logged by now
    not_reading = records(caplog, "is not reading its input")
    runs = records(caplog, "exdriver deaf started")
    assert len(not_reading) <= len(runs), not_reading[:5]


BIG = """\
import sys
out = sys.stdout.buffer
definition = (
    b'<defTextVector device="Big" name="T" state="Ok" perm="ro">'
    b'<defText name="x">1</defText></defTextVector>\\n'
)
big = (
    b'<setTextVector device="Big" name="T"><oneText name="x">'
    + b"y" * (1100 * 1024)
    + b"</oneText></setTextVector>\\n"
)
good = b'<setTextVector device="Big" name="T"><oneText name="x">good</oneText></setTextVector>\\n'
sent = False
for line in sys.stdin.buffer:
    if b"getProperties" not in line:
        continue
    out.write(definition)
    if b'device="Big"' in line and not sent:
        sent = True
        for _ in range(40):
            out.write(big)
        out.write(good)
    out.flush()
"""


async def test_a_driver_writing_elements_over_its_limit_is_not_cut_off(start, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    server = await start(Recorder(make_device()), exdrivers=[(str(script(tmp_path, "big", BIG)),)])
    client = await server.connect()
    await defined(client, "Big", DefTextVector)
    # Now it is known to serve "Big", this reaches it: it answers with its
    # definition, 40 elements over the limit, then a good one.
    await client.send(GetProperties(version="1.7", device="Big"))
    answer = await client.expect(
        lambda e: (
            (type(e) is SetTextVector and e.device == "Big" and e.values == {"x": "good"})
            or (type(e) is DelProperty and e.device == "Big")
        ),
        timeout=30,
    )
    assert type(answer) is SetTextVector
    assert not records(caplog, "cutting it off")
    assert not [e for e in client.events if type(e) is DelProperty]
    await defined(client, "Big", DefTextVector)  # still served
    assert records(caplog, "too large", level=logging.WARNING)  # and they were refused


SENDER = """\
import sys
out = sys.stdout.buffer
change = (
    b'<newSwitchVector device="Target" name="MODE">'
    b'<oneSwitch name="B">On</oneSwitch></newSwitchVector>\\n'
)
definition = (
    b'<defTextVector device="Sender" name="T" state="Ok" perm="ro">'
    b'<defText name="x">1</defText></defTextVector>\\n'
)
for line in sys.stdin.buffer:
    if b"getProperties" in line:
        out.write(change + definition)
        out.flush()
"""


async def test_a_driver_cannot_change_a_read_only_device(start, tmp_path):
    target = Recorder(make_device("Target"))
    server = await start(
        target,
        exdrivers=[(str(script(tmp_path, "sender", SENDER)),)],
        readonly_devices=["Target"],
    )
    client = await server.connect()
    # Each definition comes right after a change: once it is here, the change was routed.
    await defined(client, "Sender", DefTextVector)
    await defined(client, "Sender", DefTextVector)
    await asyncio.sleep(0.3)
    assert not [e for e in target.received if type(e).__name__ == "newSwitchVector"]
    assert target["Target"]["MODE"]["A"] == "On"
    await served(client)


# -- 9: "::" is every address ----------------------------------------------------------------


def _ipv6() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6(), reason="no IPv6 here")
async def test_listening_on_all_ipv6_addresses_takes_ipv4_too(start):
    server = await start(Recorder(make_device()), host="::")
    client = await server.connect("127.0.0.1")
    await dev_defined(client)
    await served(client)
    six = await server.connect("::1")
    await served(six)


async def test_a_flood_of_the_same_get_properties_to_a_busy_driver_is_answered_once(start):
    # Definitions go to every client that watches, so a request the same as
    # one still waiting for the driver is answered by that one: a client
    # cannot make the driver define everything once per request it sends.
    release = asyncio.Event()

    class Busy(Recorder):
        async def rxevent(self, event: Any) -> None:
            if type(event).__name__ == "newTextVector":
                await release.wait()
            await super().rxevent(event)

    server = await start(Busy(make_device()))
    client = await server.connect()
    await client.send(GetProperties(version="1.7", device="Dev", name="NOTE"))
    await client.expect(is_(DefTextVector, name="NOTE"))
    await client.send(NewTextVector(device="Dev", name="NOTE", values={"TEXT": "x"}))
    flood = encode(GetProperties(version="1.7", device="Dev", name="NOTE")) * 2000
    client.writer.write(flood)
    await client.writer.drain()
    await served(await server.connect())  # every request has been read by now
    release.set()
    definitions = 0

    def count_until_answered(event: Event) -> bool:
        nonlocal definitions
        definitions += type(event) is DefTextVector
        return type(event) is PingReply and event.uid == "after"

    await client.send(PingRequest(uid="after"))
    await client.expect(count_until_answered, timeout=10)
    assert definitions <= 3  # the first, and one or two for the flood
