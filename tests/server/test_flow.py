"""Flow control at its edges: a held client whose driver goes away, or that goes away itself."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

import pi_indi as ipd
from pi_indi.protocol import (
    DefTextVector,
    GetProperties,
    NewTextVector,
    PingReply,
    PingRequest,
    encode,
)
from pi_indi.server._clients import Client as ServerClient
from tests.helpers import Client, free_port, is_, make_device, serving


def notes(count: int) -> bytes:
    return b"".join(
        encode(NewTextVector(device="Dev", name="NOTE", values={"TEXT": str(i)}))
        for i in range(count)
    )


class Stuck(ipd.IPyDriver):
    """Takes requests and never finishes the first one until released."""

    def __init__(self, *devices: Any) -> None:
        super().__init__(*devices)
        self.release = asyncio.Event()
        self.seen: list[str] = []

    async def rxevent(self, event: Any) -> None:
        self.seen.append(event["TEXT"])
        await self.release.wait()


async def test_a_client_held_back_by_a_driver_that_is_removed_is_served_again(start):
    driver = Stuck(make_device())
    server = await start(driver)
    client = await server.connect()
    await client.send(notes(3000))  # far more than the driver's queue: the client is held
    async with asyncio.timeout(5):
        while len(driver.seen) < 1:
            await asyncio.sleep(0.01)
    await server.remove_driver(driver, timeout=1)
    await client.send(PingRequest(uid="back"))
    await client.expect(is_(PingReply, uid="back"), timeout=5)


class FakeTransport(asyncio.Transport):
    """Enough of a socket transport for one server-side client."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = True
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: Any) -> None:
        pass

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing


async def test_what_a_held_client_sent_before_it_went_is_still_routed(monkeypatch):
    # As when the old server routed the whole chunk it had read: a request
    # read while a driver held the client back is not lost when it goes.
    server = ipd.IPyServer()
    routed: list[Any] = []
    monkeypatch.setattr(server.router, "from_client", lambda client, event: routed.append(event))
    client = ServerClient(server)
    transport = FakeTransport()
    client.connection_made(transport)
    client.pause()  # a driver it sends to is behind
    assert not transport.reading
    client.data_received(encode(PingRequest(uid="1")) + encode(PingRequest(uid="2")))
    assert routed == []
    client.connection_lost(ConnectionResetError())
    assert [event.uid for event in routed] == ["1", "2"]


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
async def test_every_ipv6_address_can_be_listened_on_beside_an_ipv4_one():
    port = free_port()
    driver = ipd.IPyDriver(make_device())
    async with serving(driver, bind=["127.0.0.1", "::"], port=port) as server:
        for host in ("127.0.0.1", "::1"):
            reader, writer = await asyncio.open_connection(host, server.port)
            client = Client(reader, writer)
            await client.send(PingRequest(uid=host))
            await client.expect(is_(PingReply, uid=host))
            client.close()


async def test_a_driver_served_again_defines_its_properties_again(start):
    driver = ipd.IPyDriver(make_device())
    server = await start(driver)
    client = await server.connect()
    await client.send(GetProperties(version="1.7"))
    await client.expect(is_(DefTextVector, name="NOTE"))
    await server.remove_driver(driver)
    await server.add_driver(driver)
    await client.expect(is_(DefTextVector, name="NOTE"), timeout=5)
