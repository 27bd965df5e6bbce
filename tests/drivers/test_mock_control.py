"""The "Mock GPIO" device: simulated pins and readings, driven by any INDI client."""

from __future__ import annotations

from typing import Any

import pytest

from pi_indi.protocol import (
    DefNumberVector,
    DefSwitchVector,
    DefTextVector,
    NewNumberVector,
    NewSwitchVector,
    SetNumberVector,
    SetSwitchVector,
    SwitchState,
)
from pi_indi.registry import simulation_driver
from pi_indi_drivers._gpio import Gpio, SimulatedReading
from pi_indi_drivers.digital_input import (
    ButtonDriver,
    ButtonOptions,
    DigitalInputDriver,
    DigitalInputOptions,
)
from pi_indi_drivers.mock_control import DEVICE_NAME, MockControlDriver
from tests.drivers.conftest import make_context

ON, OFF = SwitchState.ON, SwitchState.OFF


def reading(devicename: str, name: str, apply: Any = None, **extra: Any) -> SimulatedReading:
    fields = {"label": name.title(), "unit": "V", "minimum": 0.0, "maximum": 5.0, "value": 1.0}
    return SimulatedReading(
        devicename=devicename, name=name, apply=apply or (lambda v: None), **{**fields, **extra}
    )


def test_there_is_no_control_device_off_the_mock_factory():
    assert simulation_driver(Gpio("lgpio")) is None


def test_there_is_no_control_device_with_nothing_to_control(gpio):
    assert simulation_driver(gpio) is None


async def test_a_switch_per_input_pin_showing_its_level(gpio, serve):
    ButtonDriver(make_context(gpio, "Buttons", ButtonOptions(pins=("GPIO5",), labels=("Park",))))
    DigitalInputDriver(make_context(gpio, "Limits", DigitalInputOptions(pins=("GPIO6",))))
    control = simulation_driver(gpio)
    assert isinstance(control, MockControlDriver)
    client = await serve(control)
    pins = {}
    for _ in range(2):
        pin = await client.expect(
            lambda e: isinstance(e, DefSwitchVector) and e.name.startswith("PIN_")
        )
        pins[pin.name] = pin
    button, limit = pins["PIN_GPIO5"], pins["PIN_GPIO6"]
    assert button.device == DEVICE_NAME
    assert button.perm == "rw"
    assert button.rule == "OneOfMany"
    assert button.label == "GPIO5: Buttons / Park"
    assert {m.name: m.value for m in button.members} == {"LOW": OFF, "HIGH": ON}  # pulled up
    assert limit.label == "GPIO6: Limits / Input 1"
    assert {m.name: m.value for m in limit.members} == {"LOW": ON, "HIGH": OFF}  # pulled down
    info = await client.expect(lambda e: isinstance(e, DefTextVector) and e.name == "DRIVER_INFO")
    assert {m.name: m.value for m in info.members}["DRIVER_NAME"] == "MockControlDriver"


async def test_driving_a_pin_sets_its_level(gpio, serve):
    DigitalInputDriver(make_context(gpio, "Limits", DigitalInputOptions(pins=("GPIO6",))))
    client = await serve(simulation_driver(gpio))
    await client.send(NewSwitchVector(device=DEVICE_NAME, name="PIN_GPIO6", values={"HIGH": ON}))
    answer = await client.expect(lambda e: isinstance(e, SetSwitchVector) and e.name == "PIN_GPIO6")
    assert answer.state == "Ok"
    assert answer.values == {"LOW": OFF, "HIGH": ON}
    assert gpio.pin_state("GPIO6") is True


async def test_a_pin_that_cannot_be_driven_is_an_alert(gpio, serve):
    gpio.create("LED", pin="GPIO5")
    gpio.simulate_input("GPIO5", "Lamp", "Lamp")  # an output: it cannot be driven
    client = await serve(simulation_driver(gpio))
    await client.send(NewSwitchVector(device=DEVICE_NAME, name="PIN_GPIO5", values={"HIGH": ON}))
    answer = await client.expect(lambda e: isinstance(e, SetSwitchVector) and e.name == "PIN_GPIO5")
    assert answer.state == "Alert"
    assert answer.message == "[ERROR] PIN_GPIO5: GPIO5 is not an input pin"
    assert answer.values == {"LOW": ON, "HIGH": OFF}  # unchanged


async def test_a_number_per_reading_within_its_range(gpio, serve):
    applied: list[float] = []
    gpio.simulate_reading(reading("Battery monitor", "VOLTS", applied.append))
    control = simulation_driver(gpio)
    assert control is not None
    client = await serve(control)
    defined = await client.expect(lambda e: isinstance(e, DefNumberVector))
    assert defined.name == "BATTERY_MONITOR_VOLTS"
    assert defined.label == "Battery monitor: Volts"
    (member,) = defined.members
    assert (member.name, member.label, float(member.min), float(member.max)) == (
        "VALUE",
        "Volts (V)",
        0.0,
        5.0,
    )
    assert float(member.value) == 1.0

    await client.send(
        NewNumberVector(device=DEVICE_NAME, name=defined.name, values={"VALUE": "4.5"})
    )
    answer = await client.expect(lambda e: isinstance(e, SetNumberVector))
    assert (answer.state, float(answer.values["VALUE"])) == ("Ok", 4.5)
    assert applied == [4.5]

    await client.send(
        NewNumberVector(device=DEVICE_NAME, name=defined.name, values={"VALUE": "5.5"})
    )
    answer = await client.expect(lambda e: isinstance(e, SetNumberVector))
    assert answer.state == "Alert"
    assert applied == [4.5]


async def test_a_reading_the_simulation_refuses_is_an_alert(gpio, serve):
    def refuse(value: float) -> None:
        raise ValueError("the simulated chip is unplugged")

    gpio.simulate_reading(reading("ADC", "CHANNEL_0", refuse))
    control = simulation_driver(gpio)
    assert isinstance(control, MockControlDriver)
    client = await serve(control)
    name = control.reading_vector("ADC", "CHANNEL_0")
    await client.send(NewNumberVector(device=DEVICE_NAME, name=name, values={"VALUE": "2"}))
    answer = await client.expect(lambda e: isinstance(e, SetNumberVector))
    assert answer.state == "Alert"
    assert answer.message == f"[ERROR] {name}: the simulated chip is unplugged"
    assert control.readings[name].value == 1.0


def test_reading_vector_names_are_unique(gpio):
    gpio.simulate_reading(reading("CPU temp", "TEMPERATURE"))
    gpio.simulate_reading(reading("cpu-temp", "TEMPERATURE"))
    control = simulation_driver(gpio)
    assert isinstance(control, MockControlDriver)
    assert control.reading_vector("CPU temp", "TEMPERATURE") == "CPU_TEMP_TEMPERATURE"
    assert control.reading_vector("cpu-temp", "TEMPERATURE") == "CPU_TEMP_TEMPERATURE_2"
    with pytest.raises(KeyError):
        control.reading_vector("CPU temp", "LOAD")
