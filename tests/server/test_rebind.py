"""Moving the listening socket while running: same port, other address; clients stay."""

from __future__ import annotations

import asyncio
import socket

from pi_indi.protocol import PingReply, PingRequest
from tests.helpers import Client, is_


def can_connect(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


async def answered(client: Client, uid: str) -> None:
    """The server still serves *client*: it answers a ping on that very connection."""
    await client.send(PingRequest(uid=uid))
    await client.expect(is_(PingReply, uid=uid))


async def test_narrowing_host_on_the_same_port_takes_effect(start):
    server = await start(host="0.0.0.0")
    port = server.port
    client = await server.connect("127.0.0.2")
    # Accepted and served before its listening socket is closed (a connection
    # still waiting to be accepted would go with it).
    await answered(client, "before")
    assert await server.listen("127.0.0.1", port) is True
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, can_connect, "127.0.0.1", port)
    assert not await loop.run_in_executor(None, can_connect, "127.0.0.2", port)
    # The client that was connected stays connected. (Not counted: the probe
    # just closed may not have been forgotten by the server yet.)
    await answered(client, "after")


async def test_an_address_that_cannot_be_bound_keeps_the_old_one(start):
    server = await start(host="127.0.0.1")
    port = server.port
    client = await server.connect()
    assert await server.listen("192.0.2.1", port) is False  # TEST-NET-1: not ours
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, can_connect, "127.0.0.1", port)
    assert (server.host, server.port) == ("127.0.0.1", port)
    await answered(client, "kept")
