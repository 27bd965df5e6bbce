"""The gathered writer: the first message at once, the rest of the iteration in one write."""

from __future__ import annotations

import asyncio

from pi_indi._gather import GatheredWriter


async def test_the_first_write_goes_at_once_and_the_rest_together():
    out: list[bytes] = []
    writer = GatheredWriter(out.append)
    writer.write(b"a")
    assert out == [b"a"]
    writer.write(b"b")
    writer.write(b"c")
    assert out == [b"a"]
    await asyncio.sleep(0)  # the iteration ends
    assert out == [b"a", b"bc"]
    writer.write(b"d")  # a new iteration: at once again
    assert out == [b"a", b"bc", b"d"]


async def test_a_large_gathering_is_passed_on_before_the_iteration_ends():
    out: list[bytes] = []
    writer = GatheredWriter(out.append, flush_size=4)
    for chunk in (b"x", b"12", b"34", b"5"):
        writer.write(chunk)
    assert out == [b"x", b"1234"]
    assert writer.take() == b"5"
    await asyncio.sleep(0)
    assert out == [b"x", b"1234"]
