from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pi_indi.driver import DriverLink, IPyDriver
from pi_indi.protocol import Event


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MemoryLink(DriverLink):
    """A driver link with queues at both ends, for testing drivers without I/O."""

    def __init__(self) -> None:
        self.sent: asyncio.Queue[Event] = asyncio.Queue()
        self.incoming: asyncio.Queue[Event | None] = asyncio.Queue()

    async def send(self, event: Event) -> None:
        await self.sent.put(event)

    async def run(self, driver: IPyDriver) -> None:
        while (event := await self.incoming.get()) is not None:
            await driver._receive(event)

    async def request(self, event: Event) -> None:
        await self.incoming.put(event)

    async def reply(self, timeout: float = 2.0) -> Event:
        async with asyncio.timeout(timeout):
            return await self.sent.get()

    async def nothing_more(self, wait: float = 0.1) -> bool:
        await asyncio.sleep(wait)
        return self.sent.empty()


class Running:
    def __init__(self, driver: IPyDriver, link: MemoryLink, task: asyncio.Task[Any]) -> None:
        self.driver = driver
        self.link = link
        self.task = task


@pytest.fixture
async def run_driver() -> AsyncIterator[Any]:
    started: list[Running] = []

    async def start(driver: IPyDriver) -> Running:
        link = MemoryLink()
        driver._link = link
        task = asyncio.create_task(driver.asyncrun())
        await asyncio.sleep(0)
        r = Running(driver, link, task)
        started.append(r)
        return r

    yield start
    for r in started:
        r.driver.shutdown()
        async with asyncio.timeout(5):
            await r.task
