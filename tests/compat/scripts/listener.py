# mypy: ignore-errors
"""What snoopevent is given: def, set and del events of every kind, and rxevent's attributes.

docs: events (defSwitchVector... setBLOBVector, delProperty; label, group, perm,
rule, memberlabels, state, message, timeout, sizeformat, getfloatvalue), and
Device.devsnoopevent called from the driver's snoopevent.
"""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class SourceDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        source = self["Source"]
        if isinstance(event, ipd.newNumberVector) and event.vectorname == "level":
            event.vector["value"] = event["value"]
            checks = (
                event.getfloatvalue("value"),
                event.timestamp.year,
                event.timestamp.tzinfo is not None,
                event.root.tag,
                event.vector is source["level"],
                event.devicename,
            )
            await event.vector.send_setVector(state="Busy", timeout="4", message=str(checks))
        elif isinstance(event, ipd.newSwitchVector) and event.get("go") == "On":
            source["mode"]["fast"] = "On"
            source["mode"]["slow"] = "Off"
            await source["mode"].send_setVector(state="Ok")
            source["lamp"]["red"] = "Alert"
            await source["lamp"].send_setVector(state="Alert")
            source["name"]["text"] = "renamed"
            await source["name"].send_setVector(message="new name")
            source["data"]["raw"] = b"\x00\x01\x02\x03"
            await source["data"].send_setVectorMembers(state="Ok", members=["raw"])
            await source["name"].send_delProperty(message="name gone")


class ListenerDriver(ipd.IPyDriver):
    async def hardware(self):
        await self.send_getProperties(devicename="Source")

    async def snoopevent(self, event):
        await self["Listener"].devsnoopevent(event)


class ListenerDevice(ipd.Device):
    async def devsnoopevent(self, event):
        name = type(event).__name__
        if name.startswith("def"):
            # each definition once: every client's getProperties defines them again
            if event.vectorname in self.devicedata["defined"]:
                return
            self.devicedata["defined"].add(event.vectorname)
            line = f"{name} {event.vectorname} {event.label} {event.group} {event.state}"
            line += f" {getattr(event, 'perm', '-')} {getattr(event, 'rule', '-')}"
            line += f" {sorted(event.memberlabels.items())}"
            if name != "defBLOBVector":
                line += f" {sorted(event.items())}"
        elif name == "delProperty":
            line = f"{name} {event.vectorname} {event.message}"
        else:
            line = f"{name} {event.vectorname} {event.state} {event.message}"
            line += f" {event.timeout if name != 'setLightVector' else '-'}"
            if name == "setBLOBVector":
                line += f" {sorted(event.sizeformat.items())} {event['raw']!r}"
            else:
                line += f" {sorted(event.items())}"
            if name == "setNumberVector":
                line += f" {event.getfloatvalue('value')}"
        vector = self["log"]
        vector["line"] = line
        await vector.send_setVector()


def make_drivers():
    mode = ipd.SwitchVector(
        name="mode",
        label="Mode",
        group="Setup",
        perm="rw",
        rule="OneOfMany",
        state="Idle",
        switchmembers=[
            ipd.SwitchMember(name="fast", label="Fast"),
            ipd.SwitchMember(name="slow", label="Slow", membervalue="On"),
        ],
    )
    go = ipd.SwitchVector(
        name="go",
        label="Go",
        group="Setup",
        perm="rw",
        rule="AtMostOne",
        state="Ok",
        switchmembers=[ipd.SwitchMember(name="go", label="Go")],
    )
    level = ipd.NumberVector(
        name="level",
        label="Level",
        group="Values",
        perm="rw",
        state="Idle",
        numbermembers=[
            ipd.NumberMember(
                name="value", label="Value", format="%d", min=0, max=10, step=1, membervalue=1
            )
        ],
    )
    lamp = ipd.LightVector(
        name="lamp",
        label="Lamp",
        group="Values",
        state="Idle",
        lightmembers=[ipd.LightMember(name="red", label="Red")],
    )
    name = ipd.TextVector(
        name="name",
        label="Name",
        group="Values",
        perm="ro",
        state="Ok",
        textmembers=[ipd.TextMember(name="text", label="Text", membervalue="first")],
    )
    data = ipd.BLOBVector(
        name="data",
        label="Data",
        group="Values",
        perm="ro",
        state="Idle",
        blobmembers=[ipd.BLOBMember(name="raw", label="Raw", blobformat=".bin")],
    )
    log = ipd.TextVector(
        name="log",
        label="Log",
        group="Main",
        perm="ro",
        state="Ok",
        textmembers=[ipd.TextMember(name="line", label="Line")],
    )
    source = SourceDriver(ipd.Device("Source", properties=[mode, go, level, lamp, name, data]))
    listener = ListenerDriver(ListenerDevice("Listener", properties=[log], defined=set()))
    return source, listener


if __name__ == "__main__":
    server = IPyServer(*make_drivers(), host="localhost", port=PORT)
    asyncio.run(server.asyncrun())
