# mypy: ignore-errors
"""Vector and member attributes, send_* variants, enable, delete and define again.

Written as indipydriver's docs write drivers: a Control device whose switches
ask the driver to act on a Gadget device (docs: propertyvectors, devices).
"""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class GadgetDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        if not isinstance(event, ipd.newSwitchVector) or event.devicename != "Control":
            if isinstance(event, ipd.newNumberVector) and event.vectorname == "position":
                event.vector["axis"] = event["axis"]
                await event.vector.send_setVector(state="Ok")
            return
        gadget = self["Gadget"]
        position = gadget["position"]
        if event.get("report") == "On":
            info = self["Control"]["info"]
            info["devices"] = ",".join(d.devicename for d in self.devices())
            info["vectors"] = ",".join(v.name for v in gadget.properties())
            info["attrs"] = "|".join(
                str(x)
                for x in (
                    position.name,
                    position.label,
                    position.group,
                    position.perm,
                    position.state,
                    position.timeout,
                    position.vectortype,
                    position.devicename,
                    position.device.devicename,
                    position.enable,
                    gadget.enable,
                )
            )
            info["members"] = ",".join(f"{name}={value}" for name, value in position.items())
            info["numbers"] = "|".join(
                (
                    str(position.getfloatvalue("axis")),
                    position.getformattedvalue("axis"),
                    str(ipd.getfloat("-12:30")),
                    str(self.indi_number_to_float("1 30")),
                )
            )
            info["data"] = f"{sorted(self.driverdata)} {sorted(gadget.devicedata)}"
            info["lookup"] = f"{'Gadget' in self} {'position' in gadget} {'nothing' in self}"
            await info.send_setVector(state="Ok")
        elif event.get("busy") == "On":
            position["axis"] = "7"
            await position.send_setVector(timeout="5", state="Busy", message="moving")
        elif event.get("retitle") == "On":
            position.state = "Alert"
            position.timeout = "20"
            await position.send_setVector()
        elif event.get("some") == "On":
            labels = gadget["labels"]
            labels["first"] = "one"
            labels["second"] = "two"
            await labels.send_setVectorMembers(members=["second"], timeout="3")
        elif event.get("quiet") == "On":
            position.enable = False
            position["axis"] = "9"
            await position.send_setVector(state="Ok")
        elif event.get("loud") == "On":
            position.enable = True
            await position.send_defVector(state="Ok", timeout="2")
        elif event.get("hide") == "On":
            await gadget.send_delProperty(message="gadget unplugged")
        elif event.get("show") == "On":
            gadget.enable = True
            for vector in gadget.values():
                await vector.send_defVector(message="gadget plugged in")
        elif event.get("say") == "On":
            await self.send_message("from the driver")
            await gadget.send_device_message("from the gadget")
        for name in event:
            event.vector[name] = "Off"
        await event.vector.send_setVector(state="Ok")


def make_driver():
    names = ("report", "busy", "retitle", "some", "quiet", "loud", "hide", "show", "say")
    actions = ipd.SwitchVector(
        name="actions",
        label="Actions",
        group="Main",
        perm="rw",
        rule="AnyOfMany",
        state="Ok",
        switchmembers=[ipd.SwitchMember(name=n, label=n.title()) for n in names],
    )
    info = ipd.TextVector(
        name="info",
        label="Info",
        group="Main",
        perm="ro",
        state="Idle",
        textmembers=[
            ipd.TextMember(name=n)
            for n in ("devices", "vectors", "attrs", "members", "numbers", "data", "lookup")
        ],
    )
    position = ipd.NumberVector(
        name="position",
        label="Position",
        group="Axes",
        perm="rw",
        state="Idle",
        numbermembers=[
            ipd.NumberMember(
                name="axis", label="Axis", format="%d", min=0, max=100, step=1, membervalue=3
            )
        ],
    )
    labels = ipd.TextVector(
        name="labels",
        label="Labels",
        group="Axes",
        perm="ro",
        state="Ok",
        textmembers=[
            ipd.TextMember(name="first", label="First", membervalue="a"),
            ipd.TextMember(name="second", label="Second", membervalue="b"),
        ],
    )
    control = ipd.Device("Control", properties=[actions, info])
    gadget = ipd.Device("Gadget", properties=[position, labels], serial="G-1")
    return GadgetDriver(control, gadget, maker="acme")


if __name__ == "__main__":
    server = IPyServer(make_driver(), host="localhost", port=PORT)
    asyncio.run(server.asyncrun())
