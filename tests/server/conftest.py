"""Fixtures of the server tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

import pi_indi as ipd
from tests.server.test_server import Client


@pytest.fixture
async def start() -> AsyncIterator[Any]:
    """Start an IPyServer on 127.0.0.1 and any free port; ``server.connect()`` makes clients.

    ``exdrivers`` are (program, *args) tuples, run with ``debug_enable``.
    """
    running: list[tuple[ipd.IPyServer, asyncio.Task[None]]] = []
    clients: list[Client] = []

    async def start(
        *drivers: ipd.IPyDriver,
        exdrivers: Sequence[tuple[str, ...]] = (),
        debug_enable: bool = False,
        **options: Any,
    ) -> Any:
        options.setdefault("host", "127.0.0.1")
        options.setdefault("port", 0)
        server = ipd.IPyServer(*drivers, **options)
        for program, *args in exdrivers:
            server.add_exdriver(program, *args, debug_enable=debug_enable)
        task = asyncio.create_task(server.asyncrun())
        running.append((server, task))
        async with asyncio.timeout(5):
            await asyncio.wait(
                [task, asyncio.ensure_future(server.listening.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        if task.done():
            await task  # it could not listen: say why

        async def connect(host: str = "127.0.0.1", source: str | None = None) -> Client:
            reader, writer = await asyncio.open_connection(
                host, server.port, local_addr=(source, 0) if source else None
            )
            client = Client(reader, writer)
            clients.append(client)
            return client

        server.connect = connect  # type: ignore[attr-defined]
        return server

    yield start
    for client in clients:
        client.close()
    for server, task in running:
        server.shutdown()
        async with asyncio.timeout(10):
            with contextlib.suppress(OSError):
                await task
