# mypy: ignore-errors
# ruff: noqa: SIM102 - written as indipydriver's documentation writes it
"""indipydriver's first example (docs: firstexample), served by IPyServer."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class LED:
    "A class to simulate gpiozero.LED"

    def __init__(self, pin):
        self.pin = pin
        self.is_lit = False

    def on(self):
        self.is_lit = True

    def off(self):
        self.is_lit = False


class LEDDriver(ipd.IPyDriver):
    """IPyDriver is subclassed here to create an LED driver."""

    async def rxevent(self, event):
        "On receiving data from the client, this is called"
        if event.devicename != "led":
            return
        ledobject = self.driverdata["ledobj"]
        if isinstance(event, ipd.newSwitchVector):
            if event.vectorname == "ledvector" and "ledmember" in event:
                ledvalue = event["ledmember"]
                if ledvalue == "On":
                    ledobject.on()
                elif ledvalue == "Off":
                    ledobject.off()
                else:
                    return
                event.vector["ledmember"] = ledvalue
                await event.vector.send_setVector()


def make_driver(devicename, pin):
    "Creates the driver"
    ledobject = LED(pin)
    ledvalue = "On" if ledobject.is_lit else "Off"
    ledmember = ipd.SwitchMember(name="ledmember", label="LED Value", membervalue=ledvalue)
    ledvector = ipd.SwitchVector(
        name="ledvector",
        label="LED",
        group="Control Group",
        perm="wo",
        rule="AtMostOne",
        state="Ok",
        switchmembers=[ledmember],
    )
    leddevice = ipd.Device(devicename, properties=[ledvector])
    return LEDDriver(leddevice, ledobj=ledobject)


if __name__ == "__main__":
    driver = make_driver("led", 17)
    server = IPyServer(driver, host="localhost", port=PORT, maxconnections=5)
    print(f"Running {__file__}")
    asyncio.run(server.asyncrun())
