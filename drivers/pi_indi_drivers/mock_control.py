"""The "Mock GPIO" device: what stands in for the world when the pins are simulated.

On gpiozero's mock pin factory nothing drives the input pins and no sensor
sees anything. This device lets any INDI client do it: a switch per simulated
input pin (LOW/HIGH) drives the pin, so the input's driver sees a real
gpiozero edge, and a number per simulated reading sets what the sensor's
driver reads next. The appliance builds it (``pi_indi.registry.simulation_driver``,
entry point ``pi_indi.simulation``) once every configured driver is built, and
only in mock mode.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, ClassVar

from pi_indi import __version__
from pi_indi.driver import Device, IPyDriver
from pi_indi.properties import (
    NumberMember,
    NumberVector,
    PropertyVector,
    SwitchMember,
    SwitchVector,
    TextMember,
    TextVector,
)
from pi_indi_drivers._base import AUX_INTERFACE, HardwareGuard, connection_vector

if TYPE_CHECKING:
    from pi_indi_drivers._gpio import Gpio, SimulatedInput, SimulatedReading

__all__ = ["DEVICE_NAME", "MockControlDriver"]

logger = logging.getLogger(__name__)

#: The INDI device name of the control device.
DEVICE_NAME = "Mock GPIO"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper() or "DEVICE"


class MockControlDriver(IPyDriver):
    """Drive simulated input pins and set simulated sensor readings from any client.

    Vectors:

    - ``PIN_<pin>`` (e.g. ``PIN_GPIO17``): switch, rw, OneOfMany, ``LOW`` /
      ``HIGH``; labelled with the pin, the device and the input using it.
    - ``<DEVICE>_<READING>`` (the device name in upper snake case, then the
      reading's name, e.g. ``CPU_TEMP_CPU_TEMPERATURE``): number, rw, member
      ``VALUE`` within the reading's min..max.

    - ``CONNECTION`` (unless :attr:`connection` is False): DISCONNECT deletes
      the vectors above (the simulated pins keep their levels), CONNECT
      defines them again.

    Args:
        gpio: the mock-mode back end whose simulated inputs and readings are shown.
    """

    #: Whether the device has libindi's CONNECTION (connected at start).
    connection: ClassVar[bool] = True

    def __init__(self, gpio: Gpio) -> None:
        self.gpio = gpio
        self.pins: dict[str, SimulatedInput] = {}
        self.readings: dict[str, SimulatedReading] = {}
        vectors: list[PropertyVector[Any]] = []
        for sim in gpio.simulated_inputs.values():
            name = f"PIN_{sim.pin}"
            self.pins[name] = sim
            high = gpio.pin_state(sim.pin)
            vectors.append(
                SwitchVector(
                    name=name,
                    label=f"{sim.pin}: {sim.devicename} / {sim.label}",
                    group="Input pins",
                    perm="rw",
                    rule="OneOfMany",
                    state="Ok",
                    switchmembers=[
                        SwitchMember("LOW", "Low", "Off" if high else "On"),
                        SwitchMember("HIGH", "High", "On" if high else "Off"),
                    ],
                )
            )
        for reading in gpio.simulated_readings:
            name = self._reading_name(reading)
            self.readings[name] = reading
            unit = f" ({reading.unit})" if reading.unit else ""
            vectors.append(
                NumberVector(
                    name=name,
                    label=f"{reading.devicename}: {reading.label}",
                    group="Sensor readings",
                    perm="rw",
                    state="Ok",
                    numbermembers=[
                        NumberMember(
                            "VALUE",
                            f"{reading.label}{unit}",
                            "%g",
                            reading.minimum,
                            reading.maximum,
                            0,
                            reading.value,
                        )
                    ],
                )
            )
        self._working = [vector.name for vector in vectors]
        if self.connection:
            vectors.insert(0, connection_vector())
        vectors.append(
            TextVector(
                name="DRIVER_INFO",
                label="Driver info",
                group="General Info",
                perm="ro",
                state="Ok",
                textmembers=[
                    TextMember("DRIVER_NAME", "Name", type(self).__name__),
                    TextMember("DRIVER_EXEC", "Exec", "pi-indi"),
                    TextMember("DRIVER_VERSION", "Version", __version__),
                    TextMember("DRIVER_INTERFACE", "Interface", str(AUX_INTERFACE)),
                ],
            )
        )
        super().__init__(Device(DEVICE_NAME, vectors))

    def reading_vector(self, devicename: str, name: str) -> str:
        """The name of the vector that sets reading *name* of device *devicename*.

        Raises:
            KeyError: there is no such simulated reading.
        """
        for vectorname, reading in self.readings.items():
            if reading.devicename == devicename and reading.name == name:
                return vectorname
        raise KeyError(f"{devicename!r} has no simulated reading {name!r}")

    def _reading_name(self, reading: SimulatedReading) -> str:
        base = f"{_slug(reading.devicename)}_{_slug(reading.name)}"
        name, n = base, 1
        while name in self.readings:
            n += 1
            name = f"{base}_{n}"
        return name

    async def rxevent(self, event: Any) -> None:
        """Drive a pin, or set a reading."""
        if event.vectorname == "CONNECTION":
            await self._connection(event)
        elif event.vectorname in self.pins:
            await self._drive(event)
        elif event.vectorname in self.readings:
            await self._set_reading(event)

    async def _connection(self, event: Any) -> None:
        vector = event.vector
        connect = event.get("CONNECT") == "On" or event.get("DISCONNECT") == "Off"
        changed = connect != (vector["CONNECT"] == "On")
        vector["CONNECT"] = "On" if connect else "Off"
        vector["DISCONNECT"] = "Off" if connect else "On"
        await vector.send_setVector(state="Ok")
        if not changed:
            return
        device = vector.device
        for name in self._working:
            if connect:
                device[name].enable = True
                await device[name].send_defVector()
            else:
                await device[name].send_delProperty()

    async def _drive(self, event: Any) -> None:
        vector = event.vector
        sim = self.pins[event.vectorname]
        high = event.get("HIGH", vector["HIGH"]) == "On"
        async with HardwareGuard(self, self.gpio, vector) as guard:
            self.gpio.drive_pin(sim.pin, high)
        if guard.failed:
            return
        vector["HIGH"] = "On" if high else "Off"
        vector["LOW"] = "Off" if high else "On"
        await vector.send_setVector(state="Ok")

    async def _set_reading(self, event: Any) -> None:
        vector = event.vector
        reading = self.readings[event.vectorname]
        value = event.getfloatvalue("VALUE")
        async with HardwareGuard(self, self.gpio, vector) as guard:
            reading.apply(value)
        if guard.failed:
            return
        reading.value = value
        vector["VALUE"] = value
        await vector.send_setVector(state="Ok")
