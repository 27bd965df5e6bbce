# mypy: ignore-errors
"""A camera whose exposures are sent as BLOBs (docs: propertyvectors, BLOBVector)."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


def frame(number):
    "A made-up image: the same bytes for the same exposure number"
    return bytes((number * 7 + i) % 256 for i in range(3000))


class CameraDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        if isinstance(event, ipd.newSwitchVector) and event.vectorname == "expose":
            if event.get("shoot") != "On":
                return
            self.driverdata["count"] += 1
            imagevector = self["Camera"]["image"]
            imagevector["frame"] = frame(self.driverdata["count"])
            await imagevector.send_setVectorMembers(state="Ok", members=["frame"])
            event.vector["shoot"] = "Off"
            await event.vector.send_setVector(state="Ok")


def make_driver():
    shoot = ipd.SwitchMember(name="shoot", label="Take an image", membervalue="Off")
    expose = ipd.SwitchVector(
        name="expose",
        label="Expose",
        group="Control",
        perm="rw",
        rule="AtMostOne",
        state="Ok",
        switchmembers=[shoot],
    )
    image = ipd.BLOBVector(
        name="image",
        label="Image",
        group="Control",
        perm="ro",
        state="Idle",
        blobmembers=[ipd.BLOBMember(name="frame", label="Frame", blobformat=".raw")],
    )
    return CameraDriver(ipd.Device("Camera", properties=[expose, image]), count=0)


if __name__ == "__main__":
    server = IPyServer(make_driver(), host="localhost", port=PORT)
    asyncio.run(server.asyncrun())
