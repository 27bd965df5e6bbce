# mypy: ignore-errors
# ruff: noqa: SIM102 - written as indipydriver's documentation writes it
"""Example 4 of the docs: the driver delegates to a Device subclass."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class ThermalControl:
    def __init__(self, devicename, target=15):
        self.devicename = devicename
        self.target = target
        self.temperature = 20.5
        self.heater = "Off"

    async def run_thermostat(self):
        while True:
            await asyncio.sleep(2)


class DelegateDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        if event.devicename in self:
            await self[event.devicename].devrxevent(event)

    async def hardware(self):
        for device in self.values():
            self.add_background(device.devhardware())


class ThermoDevice(ipd.Device):
    async def devrxevent(self, event):
        thermalcontrol = self.devicedata["thermalcontrol"]
        if isinstance(event, ipd.newNumberVector):
            if event.vectorname == "targetvector" and "target" in event:
                try:
                    target = self.indi_number_to_float(event["target"])
                except TypeError:
                    return
                thermalcontrol.target = target
                event.vector["target"] = target
                await event.vector.send_setVector()

    async def devhardware(self):
        thermalcontrol = self.devicedata["thermalcontrol"]
        self.add_background(thermalcontrol.run_thermostat())
        vector = self["temperaturevector"]
        while not self.stop:
            await asyncio.sleep(10)
            vector["temperature"] = thermalcontrol.temperature
            await vector.send_setVector()


def make_driver(devicename, target):
    thermalcontrol = ThermalControl(devicename, target)
    temperature = ipd.NumberMember(
        name="temperature",
        format="%3.1f",
        min=-50,
        max=99,
        membervalue=thermalcontrol.temperature,
    )
    temperaturevector = ipd.NumberVector(
        name="temperaturevector",
        label="Temperature",
        group="Values",
        perm="ro",
        state="Ok",
        numbermembers=[temperature],
    )
    target = ipd.NumberMember(
        name="target", format="%3.1f", min=-50, max=99, membervalue=thermalcontrol.target
    )
    targetvector = ipd.NumberVector(
        name="targetvector",
        label="Target",
        group="Values",
        perm="rw",
        state="Ok",
        numbermembers=[target],
    )
    thermostat = ThermoDevice(
        devicename=devicename,
        properties=[temperaturevector, targetvector],
        thermalcontrol=thermalcontrol,
    )
    return DelegateDriver(thermostat)


if __name__ == "__main__":
    thermodriver = make_driver("Thermostat", 15.5)
    server = IPyServer(thermodriver, port=PORT)
    print(f"Running {__file__} with indipydriver version {ipd.version}")
    asyncio.run(server.asyncrun())
