# mypy: ignore-errors
"""A thermostat with a settable target, and a window that snoops on it (docs: examples 2, 3)."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class ThermalControl:
    """A simulation: the temperature goes straight to the target."""

    def __init__(self, devicename, target=15):
        self.devicename = devicename
        self.target = target
        self.temperature = 20
        self.running = False

    @property
    def stringtemperature(self):
        "Gives temperature as a string to two decimal places"
        return f"{self.temperature:.2f}"

    async def run_thermostat(self):
        self.running = True
        while True:
            await asyncio.sleep(1)


class ThermoDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        control = self.driverdata["control"]
        match event:
            case ipd.newNumberVector(devicename="Thermostat", vectorname="targetvector"):
                if "target" not in event:
                    return
                try:
                    target = self.indi_number_to_float(event["target"])
                except TypeError:
                    return
                control.target = target
                event.vector["target"] = target
                await event.vector.send_setVector()
                control.temperature = target
                vector = self["Thermostat"]["temperaturevector"]
                vector["temperature"] = control.stringtemperature
                await vector.send_setVector(timeout="10")

    async def hardware(self):
        control = self.driverdata["control"]
        self.add_background(control.run_thermostat())
        while not self.stop:
            await asyncio.sleep(10)


class WindowDriver(ipd.IPyDriver):
    async def hardware(self):
        self.snoop("Thermostat", "temperaturevector")

    async def snoopevent(self, event):
        match event:
            case ipd.defNumberVector() | ipd.setNumberVector():
                if event.vectorname != "temperaturevector" or "temperature" not in event:
                    return
                temperature = self.indi_number_to_float(event["temperature"])
                statusvector = self["Window"]["windowstatus"]
                window = statusvector["status"]
                if temperature > 21:
                    window = "Open"
                if temperature < 18:
                    window = "Closed"
                if window != statusvector["status"]:
                    statusvector["status"] = window
                    await statusvector.send_setVector(allvalues=False)


def make_thermostat(devicename, target):
    control = ThermalControl(devicename, target)
    temperature = ipd.NumberMember(
        name="temperature",
        format="%3.1f",
        min="-50",
        max="99",
        membervalue=control.stringtemperature,
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
        name="target", format="%3.1f", min=-50, max=99, membervalue=control.target
    )
    targetvector = ipd.NumberVector(
        name="targetvector",
        label="Target",
        group="Values",
        perm="rw",
        state="Ok",
        numbermembers=[target],
    )
    thermostat = ipd.Device(devicename, properties=[temperaturevector, targetvector])
    return ThermoDriver(thermostat, control=control)


def make_window():
    status = ipd.TextMember(name="status", label="Window position", membervalue="Closed")
    windowstatus = ipd.TextVector(
        name="windowstatus",
        label="Window Status",
        group="Values",
        perm="ro",
        state="Ok",
        textmembers=[status],
    )
    return WindowDriver(ipd.Device(devicename="Window", properties=[windowstatus]))


if __name__ == "__main__":
    server = IPyServer(make_thermostat("Thermostat", 15), make_window(), port=PORT)
    asyncio.run(server.asyncrun())
