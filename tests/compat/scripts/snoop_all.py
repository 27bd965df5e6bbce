# mypy: ignore-errors
"""A driver snooping on everything (send_getProperties()), device messages included."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class SenderDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        if isinstance(event, ipd.newTextVector) and event.vectorname == "say":
            event.vector["words"] = event["words"]
            await event.vector.send_setVector(state="Ok")
            await self["Sender"].send_device_message(event["words"])


class ListenerDriver(ipd.IPyDriver):
    async def hardware(self):
        await self.send_getProperties()

    async def snoopevent(self, event):
        heard = self["Listener"]["heard"]
        match event:
            case ipd.Message(devicename="Sender"):
                heard["last"] = f"message: {event.message}"
            case ipd.setTextVector(devicename="Sender"):
                heard["last"] = f"set: {event['words']}"
            case _:
                return
        await heard.send_setVector(state="Ok")


def make_drivers():
    say = ipd.TextVector(
        name="say",
        label="Say",
        group="Main",
        perm="rw",
        state="Idle",
        textmembers=[ipd.TextMember(name="words", label="Words")],
    )
    heard = ipd.TextVector(
        name="heard",
        label="Heard",
        group="Main",
        perm="ro",
        state="Idle",
        textmembers=[ipd.TextMember(name="last", label="Last heard", membervalue="nothing")],
    )
    return (
        SenderDriver(ipd.Device("Sender", properties=[say])),
        ListenerDriver(ipd.Device("Listener", properties=[heard])),
    )


if __name__ == "__main__":
    server = IPyServer(*make_drivers(), host="localhost", port=PORT)
    asyncio.run(server.asyncrun())
