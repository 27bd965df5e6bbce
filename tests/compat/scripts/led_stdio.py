# mypy: ignore-errors
"""The first example's driver on stdin/stdout, for indiserver or add_exdriver."""

from __future__ import annotations

import asyncio

import indipydriver as ipd


class LEDDriver(ipd.IPyDriver):
    """An LED that clients turn on and off; a light shows its state."""

    async def rxevent(self, event):
        if isinstance(event, ipd.newSwitchVector) and event.vectorname == "ledvector":
            ledvalue = event["ledmember"]
            event.vector["ledmember"] = ledvalue
            await event.vector.send_setVector(state="Ok")
            light = self["stdioled"]["ledlight"]
            light["lit"] = "Ok" if ledvalue == "On" else "Idle"
            await light.send_setVector()


def make_driver():
    ledmember = ipd.SwitchMember(name="ledmember", label="LED Value", membervalue="Off")
    ledvector = ipd.SwitchVector(
        name="ledvector",
        label="LED",
        group="Control Group",
        perm="rw",
        rule="AtMostOne",
        state="Ok",
        switchmembers=[ledmember],
    )
    light = ipd.LightVector(
        name="ledlight",
        label="Lit",
        group="Control Group",
        state="Idle",
        lightmembers=[ipd.LightMember(name="lit", label="Lit", membervalue="Idle")],
    )
    device = ipd.Device("stdioled", properties=[ledvector, light])
    return LEDDriver(device)


if __name__ == "__main__":
    asyncio.run(make_driver().asyncrun())
