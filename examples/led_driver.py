#!/usr/bin/env python3
"""The LED example from indipydriver's docs, with only the imports changed.

Run it under indiserver (``indiserver /abs/path/examples/led_driver.py``) or on
its own, speaking INDI on stdin/stdout. On a Raspberry Pi, replace the
simulated LED class with ``from gpiozero import LED``.
"""

from __future__ import annotations

import asyncio

import pi_indi as ipd


class LED:
    """A stand-in for gpiozero.LED, so the example runs anywhere."""

    def __init__(self, pin: int) -> None:
        self.pin = pin
        self.is_lit = False

    def on(self) -> None:
        self.is_lit = True

    def off(self) -> None:
        self.is_lit = False


class LEDDriver(ipd.IPyDriver):
    """IPyDriver is subclassed here to control an LED."""

    async def rxevent(self, event):  # type: ignore[no-untyped-def]
        """On receiving data from the client, this is called."""
        ledobj = self.driverdata["ledobj"]
        if (
            isinstance(event, ipd.newSwitchVector)
            and event.vectorname == "ledvector"
            and "ledmember" in event
        ):
            ledvalue = event["ledmember"]
            if ledvalue == "On":
                ledobj.on()
            elif ledvalue == "Off":
                ledobj.off()
            event.vector["ledmember"] = ledvalue
            await event.vector.send_setVector(state="Ok")


def make_driver(devicename: str = "led", pin: int = 17) -> LEDDriver:
    """Build the driver: one device, one switch vector, one member."""
    ledobject = LED(pin)
    ledmember = ipd.SwitchMember(name="ledmember", label="LED Value", membervalue="Off")
    ledvector = ipd.SwitchVector(
        name="ledvector",
        label="LED",
        group="Control Group",
        perm="wo",
        rule="AtMostOne",
        state="Ok",
        switchmembers=[ledmember],
    )
    leddevice = ipd.Device(devicename=devicename, properties=[ledvector])
    return LEDDriver(leddevice, ledobj=ledobject)


if __name__ == "__main__":
    driver = make_driver("led", 17)
    asyncio.run(driver.asyncrun())
