# mypy: ignore-errors
"""A monitor that snoops on a camera behind a remote server, BLOBs included."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))
REMOTE_PORT = int(os.environ.get("INDI_REMOTE_PORT", "7625"))


class MonitorDriver(ipd.IPyDriver):
    async def hardware(self):
        await self.send_getProperties(devicename="Camera")

    async def snoopevent(self, event):
        if isinstance(event, ipd.setBLOBVector) and "frame" in event:
            size, blobformat = event.sizeformat["frame"]
            vector = self["Monitor"]["lastframe"]
            vector["description"] = f"{len(event['frame'])} bytes, {size}, {blobformat}"
            await vector.send_setVector(state="Ok")


def make_driver():
    description = ipd.TextMember(name="description", label="Last frame", membervalue="none")
    lastframe = ipd.TextVector(
        name="lastframe",
        label="Last frame",
        group="Monitor",
        perm="ro",
        state="Idle",
        textmembers=[description],
    )
    return MonitorDriver(ipd.Device("Monitor", properties=[lastframe]))


if __name__ == "__main__":
    server = IPyServer(make_driver(), host="localhost", port=PORT)
    server.add_remote("localhost", REMOTE_PORT, blob_enable=True, debug_enable=False)
    asyncio.run(server.asyncrun())
