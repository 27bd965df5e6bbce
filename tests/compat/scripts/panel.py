# mypy: ignore-errors
"""auto_send_def off: rxevent answers getProperties itself; text, lights, messages."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class PanelDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        match event:
            case ipd.getProperties():
                await event.vector.send_defVector()
            case ipd.newTextVector(vectorname="greeting"):
                event.vector["text"] = event["text"]
                await event.vector.send_setVector(state="Ok")
                device = self["Panel"]
                await device.send_device_message(f"greeting is now {event['text']}")
                lights = device["status"]
                lights["ready"] = "Ok"
                lights["busy"] = "Idle"
                await lights.send_setVectorMembers(members=["ready"])
            case ipd.newSwitchVector(vectorname="reset"):
                await self.send_message("reset requested")
                event.vector["now"] = "Off"
                await event.vector.send_setVector(state="Ok")


def make_driver():
    greeting = ipd.TextVector(
        name="greeting",
        label="Greeting",
        group="Main",
        perm="rw",
        state="Idle",
        textmembers=[ipd.TextMember(name="text", label="Text", membervalue="hello")],
    )
    status = ipd.LightVector(
        name="status",
        label="Status",
        group="Main",
        state="Idle",
        lightmembers=[
            ipd.LightMember(name="ready", label="Ready"),
            ipd.LightMember(name="busy", label="Busy", membervalue="Busy"),
        ],
    )
    reset = ipd.SwitchVector(
        name="reset",
        label="Reset",
        group="Main",
        perm="rw",
        rule="AnyOfMany",
        state="Ok",
        switchmembers=[ipd.SwitchMember(name="now", label="Now")],
    )
    driver = PanelDriver(ipd.Device("Panel", properties=[greeting, status, reset]))
    driver.auto_send_def = False
    return driver


if __name__ == "__main__":
    server = IPyServer(make_driver(), host="localhost", port=PORT)
    asyncio.run(server.asyncrun())
