# mypy: ignore-errors
"""Setting perm, rule and message on vectors; debug_enable; the stop flags read by a driver.

docs: propertyvectors (perm, rule, message properties), ipydriver (debug_enable,
stop, shutdownrequested, Device.stop), send_getProperties(devicename, vectorname).
"""

from __future__ import annotations

import asyncio
import datetime
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class SettingsDriver(ipd.IPyDriver):
    async def hardware(self):
        await self.send_getProperties(devicename="Other", vectorname="word")

    async def rxevent(self, event):
        if isinstance(event, ipd.newSwitchVector) and event.get("change") == "On":
            choice = self["Settings"]["choice"]
            choice.perm = "ro"
            choice.rule = "OneOfMany"
            choice["a"] = "On"
            choice["b"] = "Off"
            stamp = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
            await choice.send_defVector(timestamp=stamp, message="now read-only")
            flags = self["Settings"]["flags"]
            flags["text"] = (
                f"{self.stop} {self.shutdownrequested.is_set()} {self['Settings'].stop}"
                f" {self.debug_enable} {self.auto_send_def} {choice.perm} {choice.rule}"
            )
            await flags.send_setVector(timestamp=stamp)
            event.vector["change"] = "Off"
            await event.vector.send_setVector(state="Ok")

    async def snoopevent(self, event):
        if isinstance(event, ipd.setTextVector):
            flags = self["Settings"]["flags"]
            flags["text"] = f"snooped {event.vectorname} {event['text']}"
            await flags.send_setVector()


class OtherDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        if isinstance(event, ipd.newTextVector):
            for vector in self["Other"].values():
                vector["text"] = event["text"]
                await vector.send_setVector(state="Ok")


def make_drivers():
    change = ipd.SwitchVector(
        name="change",
        label="Change",
        group="Main",
        perm="rw",
        rule="AtMostOne",
        state="Ok",
        switchmembers=[ipd.SwitchMember(name="change", label="Change")],
    )
    choice = ipd.SwitchVector(
        name="choice",
        label="Choice",
        group="Main",
        perm="rw",
        rule="AnyOfMany",
        state="Idle",
        switchmembers=[
            ipd.SwitchMember(name="a", label="A"),
            ipd.SwitchMember(name="b", label="B", membervalue="On"),
        ],
    )
    flags = ipd.TextVector(
        name="flags",
        label="Flags",
        group="Main",
        perm="ro",
        state="Idle",
        textmembers=[ipd.TextMember(name="text", label="Text")],
    )
    settings = SettingsDriver(ipd.Device("Settings", properties=[change, choice, flags]))
    settings.debug_enable = True
    words = [
        ipd.TextVector(
            name=name,
            label=name.title(),
            group="Main",
            perm="rw",
            state="Idle",
            textmembers=[ipd.TextMember(name="text", label="Text")],
        )
        for name in ("word", "other")
    ]
    return settings, OtherDriver(ipd.Device("Other", properties=words))


if __name__ == "__main__":
    server = IPyServer(*make_drivers(), host="localhost", port=PORT)
    asyncio.run(server.asyncrun())
