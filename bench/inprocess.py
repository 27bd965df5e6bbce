"""The server's in-process paths without sockets: per-message cost, steadier than bench/server.py.

One IPyServer runs the flood driver (bench/flood.py); a client object is
attached to it with a transport that only counts what it is given, so the
figures hold the server's and the driver's work and none of the kernel's.

* send path: the driver floods N counter updates to the client
* request path: newSwitchVector in (from a loop callback, as a socket read
  delivers it) to setSwitchVector written, plus one pass of the event loop

    python bench/inprocess.py [N]     # profile with: python -m cProfile -s tottime ...
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pi_indi
from bench import flood
from pi_indi.server._clients import Client


class CountingTransport(asyncio.Transport):
    """Takes whatever is written and counts the counter updates in it."""

    def __init__(self) -> None:
        super().__init__()
        self.counted = 0
        self.target = 0
        self.reached = asyncio.Event()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.counted += bytes(data).count(b'name="counter"')
        if self.counted >= self.target:
            self.reached.set()

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 0) if name == "peername" else default

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


async def main(n: int, trips: int = 20000, repeat: int = 5) -> None:
    loop = asyncio.get_running_loop()
    server = pi_indi.IPyServer(flood.make_driver(pi_indi), host="127.0.0.1", port=0)
    task = asyncio.create_task(server.asyncrun())
    await server.listening.wait()
    await asyncio.sleep(0.05)
    transport = CountingTransport()
    client = Client(server)
    client.connection_made(transport)
    client.data_received(b'<getProperties version="1.7" device="bench"/>\n')
    await asyncio.sleep(0.05)

    flood_request = (
        b'<newNumberVector device="bench" name="FLOOD">'
        b'<oneNumber name="COUNT">%d</oneNumber></newNumberVector>\n' % n
    )
    best = float("inf")
    for _ in range(repeat):
        transport.counted = 0
        transport.target = n
        transport.reached.clear()
        start = time.perf_counter()
        loop.call_soon(client.data_received, flood_request)
        await transport.reached.wait()
        best = min(best, time.perf_counter() - start)
    print(f"send path     {n / best:10,.0f} msg/s  {best / n * 1e6:6.2f} us/msg")

    toggles = [
        b'<newSwitchVector device="bench" name="toggle"><oneSwitch name="T">%s</oneSwitch>'
        b"</newSwitchVector>\n" % value
        for value in (b"On", b"Off")
    ]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(trips):
            loop.call_soon(client.data_received, toggles[i & 1])
            await asyncio.sleep(0)
        best = min(best, time.perf_counter() - start)
    print(f"request path  {trips / best:10,.0f} req/s  {best / trips * 1e6:6.2f} us/request")
    server.shutdown()
    await task


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100000))
