"""Fixtures of the compatibility tests: in-process servers and raw clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import pi_indi as ipd
from pi_indi.protocol import NEED_DATA, Connection, Event, encode


class Client:
    """A raw INDI client on a socket: sends events, waits for the ones it wants."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = Connection(max_blob_element=16 << 20)
        self.events: list[Event] = []

    async def send(self, event: Event) -> None:
        self.writer.write(encode(event))
        await self.writer.drain()

    async def expect(self, match: Callable[[Event], bool], timeout: float = 5.0) -> Event:
        async with asyncio.timeout(timeout):
            while True:
                for i, event in enumerate(self.events):
                    if match(event):
                        del self.events[: i + 1]
                        return event
                chunk = await self.reader.read(1 << 16)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                self.conn.receive_data(chunk)
                while (item := self.conn.next_event()) is not NEED_DATA:
                    self.events.append(item)  # type: ignore[arg-type]

    async def silent(self, match: Callable[[Event], bool], wait: float = 0.5) -> bool:
        try:
            await self.expect(match, timeout=wait)
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        self.writer.close()


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
