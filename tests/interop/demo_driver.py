"""A pi_indi driver with one vector of every kind, for interop tests.

Run as an executable (indiserver passes no arguments); the device name comes
from $DEMO_DEVICE, default "Demo".
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import pi_indi as ipd


class DemoDriver(ipd.IPyDriver):
    async def hardware(self) -> None:
        # With $DEMO_SNOOP naming another device, mirror its NUMBER.VALUE.
        watched = os.environ.get("DEMO_SNOOP")
        if watched:
            self.snoop(watched, "NUMBER", timeout=5)

    async def snoopevent(self, event: Any) -> None:
        if isinstance(event, (ipd.setNumberVector, ipd.defNumberVector)) and "VALUE" in event:
            for device in self.values():
                mirror = device["SNOOPED"]
                mirror["VALUE"] = event["VALUE"]
                await mirror.send_setVector(state="Ok")

    async def rxevent(self, event: Any) -> None:
        vector = event.vector
        if isinstance(event, ipd.newBLOBVector):
            data = event["UPLOAD"]
            _, fmt = event.sizeformat["UPLOAD"]
            info = vector.device["UPLOAD_INFO"]
            info["SHA256"] = hashlib.sha256(data).hexdigest()
            info["SIZE"] = str(len(data))
            info["FORMAT"] = fmt
            await info.send_setVector(state="Ok")
            await vector.send_setVectorMembers(state="Ok")
            return
        for name, value in event.items():
            vector[name] = value
        await vector.send_setVector(state="Ok")
        if event.vectorname == "SWITCH":
            light = vector.device["LIGHT"]
            light["LAMP"] = "Ok" if vector["ON"] == "On" else "Idle"
            await light.send_setVector()


def make_driver(devicename: str) -> DemoDriver:
    switch = ipd.SwitchVector(
        "SWITCH",
        "Switch",
        "Main",
        "rw",
        "OneOfMany",
        "Ok",
        [ipd.SwitchMember("ON", "On", "Off"), ipd.SwitchMember("OFF", "Off", "On")],
    )
    number = ipd.NumberVector(
        "NUMBER",
        "Number",
        "Main",
        "rw",
        "Ok",
        [
            ipd.NumberMember("VALUE", "Value", "%.3f", 0, 100, 0.5, 10),
            ipd.NumberMember("ANGLE", "Angle", "%10.6m", -90, 90, 0, 0),
        ],
    )
    text = ipd.TextVector(
        "TEXT", "Text", "Main", "rw", "Ok", [ipd.TextMember("NOTE", "Note", "hello")]
    )
    light = ipd.LightVector("LIGHT", "Light", "Main", "Idle", [ipd.LightMember("LAMP", "Lamp")])
    upload = ipd.BLOBVector(
        "UPLOAD", "Upload", "Main", "wo", "Idle", [ipd.BLOBMember("UPLOAD", "Upload")]
    )
    info = ipd.TextVector(
        "UPLOAD_INFO",
        "Upload info",
        "Main",
        "ro",
        "Idle",
        [ipd.TextMember("SHA256"), ipd.TextMember("SIZE"), ipd.TextMember("FORMAT")],
    )
    snooped = ipd.TextVector(
        "SNOOPED", "Snooped value", "Main", "ro", "Idle", [ipd.TextMember("VALUE")]
    )
    device = ipd.Device(devicename, [switch, number, text, light, upload, info, snooped])
    return DemoDriver(device)


if __name__ == "__main__":
    asyncio.run(make_driver(os.environ.get("DEMO_DEVICE", "Demo")).asyncrun())
