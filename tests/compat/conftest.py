"""Fixtures of the compatibility tests: in-process servers and raw clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import pi_indi as ipd
from pi_indi.protocol import Connection, Event
from tests.server.test_server import Client as ServerTestClient


class Client(ServerTestClient):
    """The server tests' raw client, with room for the compat scripts' BLOBs and slower peers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.conn = Connection(max_blob_element=16 << 20)

    async def expect(self, match: Callable[[Event], bool], timeout: float = 5.0) -> Event:
        return await super().expect(match, timeout)

    async def silent(self, match: Callable[[Event], bool], wait: float = 0.5) -> bool:
        return await super().silent(match, wait)


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    """Start an IPyServer on 127.0.0.1, any free port; ``await connect(server)`` makes a client.

    ``setup(server)`` runs before the server starts (add_remote, add_exdriver...).
    """
    running: list[tuple[ipd.IPyServer, asyncio.Task[None]]] = []
    clients: list[Client] = []

    async def start(
        *drivers: ipd.IPyDriver, setup: Callable[[ipd.IPyServer], None] | None = None
    ) -> ipd.IPyServer:
        server = ipd.IPyServer(*drivers, host="127.0.0.1", port=0)
        if setup is not None:
            setup(server)
        task = asyncio.create_task(server.asyncrun())
        running.append((server, task))
        listening = asyncio.ensure_future(server.listening.wait())
        async with asyncio.timeout(5):
            await asyncio.wait([task, listening], return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if task.done():
            await task
        return server

    async def connect(server: ipd.IPyServer) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        client = Client(reader, writer)
        clients.append(client)
        return client

    start.connect = connect  # type: ignore[attr-defined]
    yield start
    for client in clients:
        client.close()
    for server, task in running:
        server.shutdown()
        async with asyncio.timeout(10):
            with contextlib.suppress(OSError):
                await task
