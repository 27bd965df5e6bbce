# mypy: ignore-errors
"""The server's own API: keepalive, stop, stopped, shutdown(message) (docs: ipyserver)."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class ControlDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        if isinstance(event, ipd.newSwitchVector) and event.get("stop") == "On":
            event.vector["stop"] = "Off"
            await event.vector.send_setVector(state="Ok")
            server = self.driverdata["server"]
            asyncio.get_running_loop().call_later(0.3, server.shutdown, "stop asked by a client")


async def main():
    stop = ipd.SwitchMember(name="stop", label="Stop the server")
    vector = ipd.SwitchVector(
        name="server",
        label="Server",
        group="Control",
        perm="rw",
        rule="AtMostOne",
        state="Ok",
        switchmembers=[stop],
    )
    driver = ControlDriver(ipd.Device("Control", properties=[vector]))
    server = IPyServer(driver, host="localhost", port=PORT)
    driver.driverdata["server"] = server
    print(f"keepalive {server.keepalive} stop {server.stop}", flush=True)
    server.keepalive = 15
    running = asyncio.create_task(server.asyncrun())
    await server.stopped.wait()
    await running
    print(f"stopped, stop {server.stop}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
