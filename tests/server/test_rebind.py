"""Moving the listening socket while running: same port, other address; clients stay."""

from __future__ import annotations

import asyncio
import socket

from pi_indi import IPyServer
from tests.interop.peers import free_port


def can_connect(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


async def test_narrowing_host_on_the_same_port_takes_effect():
    port = free_port()
    server = IPyServer(host="0.0.0.0", port=port)
    task = asyncio.create_task(server.asyncrun())
    try:
        async with asyncio.timeout(5):
            await server.listening.wait()
        _, writer = await asyncio.open_connection("127.0.0.2", port)
        assert await server.listen("127.0.0.1", port) is True
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, can_connect, "127.0.0.1", port)
        assert not await loop.run_in_executor(None, can_connect, "127.0.0.2", port)
        # The client that was connected stays connected.
        assert server.client_count == 1
        writer.close()
    finally:
        server.shutdown()
        await task


async def test_an_address_that_cannot_be_bound_keeps_the_old_one():
    port = free_port()
    server = IPyServer(host="127.0.0.1", port=port)
    task = asyncio.create_task(server.asyncrun())
    try:
        async with asyncio.timeout(5):
            await server.listening.wait()
        assert await server.listen("192.0.2.1", port) is False  # TEST-NET-1: not ours
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, can_connect, "127.0.0.1", port)
        assert (server.host, server.port) == ("127.0.0.1", port)
    finally:
        server.shutdown()
        await task
