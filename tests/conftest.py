"""Fixtures of every test: drivers on a memory link, servers on the loopback network."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pi_indi.driver import IPyDriver
from tests.helpers import MemoryLink, Running, serving


@pytest.fixture
async def run_driver() -> AsyncIterator[Any]:
    started: list[Running] = []

    async def start(driver: IPyDriver) -> Running:
        link = MemoryLink()
        driver.attach_link(link)
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


@pytest.fixture
async def start() -> AsyncIterator[Any]:
    """``await start(*drivers, exdrivers=..., remotes=..., **options)``: a running IPyServer.

    Each server runs as :func:`tests.helpers.serving` runs it (127.0.0.1, a
    free port, ``server.connect()`` for clients) until the test ends.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def start(*drivers: IPyDriver, **kwargs: Any) -> Any:
            return await stack.enter_async_context(serving(*drivers, **kwargs))

        yield start
