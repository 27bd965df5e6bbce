"""A pi_indi driver that sends back, as a BLOB of its own, every BLOB it is sent.

For the chaining tests: a client uploads known bytes to ``UPLOAD``; the driver
sets ``ECHO`` to the same bytes, so a client anywhere along a chain of servers
can check by content that a BLOB set by a driver reached it. Run as an
executable (indiserver passes no arguments); the device name comes from
$ECHO_DEVICE, default "Echo".
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pi_indi as ipd


class EchoDriver(ipd.IPyDriver):
    async def rxevent(self, event: Any) -> None:
        if not isinstance(event, ipd.newBLOBVector) or "UPLOAD" not in event:
            return
        _, blobformat = event.sizeformat["UPLOAD"]
        echo = event.vector.device["ECHO"]
        echo.data["ECHO"].blobformat = blobformat
        echo["ECHO"] = event["UPLOAD"]
        await event.vector.send_setVectorMembers(state="Ok")
        await echo.send_setVectorMembers(state="Ok", members=["ECHO"])


def make_driver(devicename: str) -> EchoDriver:
    upload = ipd.BLOBVector(
        "UPLOAD", "Upload", "Main", "wo", "Idle", [ipd.BLOBMember("UPLOAD", "Upload")]
    )
    echo = ipd.BLOBVector("ECHO", "Echo", "Main", "ro", "Idle", [ipd.BLOBMember("ECHO", "Echo")])
    return EchoDriver(ipd.Device(devicename, [upload, echo]))


if __name__ == "__main__":
    asyncio.run(make_driver(os.environ.get("ECHO_DEVICE", "Echo")).asyncrun())
