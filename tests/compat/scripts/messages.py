# mypy: ignore-errors
"""A vector's message, then updates without one; deleting and defining again."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class StepsDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        if not isinstance(event, ipd.newSwitchVector):
            return
        counter = self["Steps"]["counter"]
        if event.get("step") == "On":
            counter["value"] = str(int(counter["value"]) + 1)
            if counter["value"] == "1":
                await counter.send_setVector(message="counting started")
            else:
                await counter.send_setVector()
        elif event.get("hide") == "On":
            await counter.send_delProperty(message="counter hidden")
        elif event.get("show") == "On":
            counter.enable = True
            await counter.send_defVector()
        for name in ("step", "hide", "show"):
            event.vector[name] = "Off"
        await event.vector.send_setVector(state="Ok")


def make_driver():
    actions = ipd.SwitchVector(
        name="actions",
        label="Actions",
        group="Main",
        perm="rw",
        rule="AtMostOne",
        state="Ok",
        switchmembers=[
            ipd.SwitchMember(name="step", label="Step"),
            ipd.SwitchMember(name="hide", label="Hide"),
            ipd.SwitchMember(name="show", label="Show"),
        ],
    )
    counter = ipd.NumberVector(
        name="counter",
        label="Counter",
        group="Main",
        perm="ro",
        state="Ok",
        numbermembers=[ipd.NumberMember(name="value", label="Value", format="%d", membervalue="0")],
    )
    return StepsDriver(ipd.Device("Steps", properties=[actions, counter]))


if __name__ == "__main__":
    server = IPyServer(make_driver(), host="localhost", port=PORT)
    asyncio.run(server.asyncrun())
