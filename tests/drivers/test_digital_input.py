"""The digital input drivers end to end: mock pin edges reach a client through a real server."""

from __future__ import annotations

from typing import Any

import pytest

from pi_indi.errors import HardwareError
from pi_indi.protocol import (
    DefLightVector,
    DefSwitchVector,
    DefTextVector,
    NewSwitchVector,
    SetLightVector,
    SetNumberVector,
    SetSwitchVector,
    SwitchState,
)
from pi_indi.registry import simulation_driver
from pi_indi_drivers._gpio import Gpio
from pi_indi_drivers.digital_input import (
    ButtonDriver,
    ButtonOptions,
    DigitalInputDriver,
    DigitalInputOptions,
    LineSensorDriver,
    LineSensorOptions,
    MotionSensorDriver,
    MotionSensorOptions,
)
from pi_indi_drivers.mock_control import DEVICE_NAME
from tests.drivers.conftest import make_context

ON, OFF = SwitchState.ON, SwitchState.OFF


def switched(name: str, on: bool, device: str | None = None) -> Any:
    """A SetSwitchVector of DIGITAL_INPUT-like *name* showing ON (or OFF)."""
    return lambda e: (
        isinstance(e, SetSwitchVector)
        and e.name == name
        and (device is None or e.device == device)
        and e.state == "Ok"
        and e.values.get("ON") == (ON if on else OFF)
    )


def light(name: str, member: str, value: str) -> Any:
    return lambda e: (
        isinstance(e, SetLightVector) and e.name == name and e.values.get(member) == value
    )


def counted(member: str, count: int) -> Any:
    return lambda e: (
        isinstance(e, SetNumberVector)
        and e.name == "INPUT_COUNT"
        and e.values.get(member) is not None
        and float(e.values[member]) == count
    )


def buttons(gpio: Gpio, **options: Any) -> ButtonDriver:
    opts = ButtonOptions(**{"pins": ("GPIO17", "GPIO27"), "labels": ("In", "Out"), **options})
    return ButtonDriver(make_context(gpio, "Focus buttons", opts))


async def test_button_press_reaches_the_client_as_switch_light_and_count(gpio, serve):
    client = await serve(buttons(gpio))
    defined = await client.expect(
        lambda e: isinstance(e, DefSwitchVector) and e.name.endswith("_2")
    )
    assert defined.name == "DIGITAL_INPUT_2"
    assert defined.label == "Out"
    lights = await client.expect(lambda e: isinstance(e, DefLightVector))
    assert {m.name: m.value for m in lights.members} == {"INPUT_1": "Idle", "INPUT_2": "Idle"}

    gpio.drive_pin("GPIO17", False)  # pulled up: pressed is low
    await client.expect(switched("DIGITAL_INPUT_1", on=True))
    await client.expect(light("INPUT_STATE", "INPUT_1", "Ok"))
    await client.expect(counted("INPUT_1", 1))

    gpio.drive_pin("GPIO17", True)
    await client.expect(switched("DIGITAL_INPUT_1", on=False))
    await client.expect(light("INPUT_STATE", "INPUT_1", "Idle"))

    gpio.drive_pin("GPIO17", False)
    await client.expect(counted("INPUT_1", 2))
    gpio.drive_pin("GPIO27", False)
    await client.expect(switched("DIGITAL_INPUT_2", on=True))
    await client.expect(counted("INPUT_2", 1))


async def test_button_held_lights_up_and_goes_out_on_release(gpio, serve):
    client = await serve(buttons(gpio, hold_time=0.05))
    await client.expect(lambda e: isinstance(e, DefLightVector) and e.name == "INPUT_HELD")
    gpio.drive_pin("GPIO27", False)
    await client.expect(light("INPUT_HELD", "INPUT_2", "Ok"))
    gpio.drive_pin("GPIO27", True)
    await client.expect(switched("DIGITAL_INPUT_2", on=False))
    await client.expect(light("INPUT_HELD", "INPUT_2", "Idle"))


async def test_a_client_presses_the_button_through_the_mock_control_device(gpio, serve):
    driver = buttons(gpio)
    control = simulation_driver(gpio)
    assert control is not None
    client = await serve(driver, control)
    pin = await client.expect(lambda e: isinstance(e, DefSwitchVector) and e.name == "PIN_GPIO17")
    assert pin.device == DEVICE_NAME
    assert pin.label == "GPIO17: Focus buttons / In"
    assert {m.name: m.value for m in pin.members} == {"LOW": OFF, "HIGH": ON}

    await client.send(NewSwitchVector(device=DEVICE_NAME, name="PIN_GPIO17", values={"LOW": ON}))
    await client.expect(switched("DIGITAL_INPUT_1", on=True, device="Focus buttons"))
    await client.expect(counted("INPUT_1", 1))
    assert gpio.pin_state("GPIO17") is False

    await client.send(NewSwitchVector(device=DEVICE_NAME, name="PIN_GPIO17", values={"HIGH": ON}))
    await client.expect(switched("DIGITAL_INPUT_1", on=False))


async def test_the_counts_can_be_reset(gpio, serve):
    client = await serve(buttons(gpio))
    gpio.drive_pin("GPIO17", False)
    await client.expect(counted("INPUT_1", 1))
    await client.send(
        NewSwitchVector(device="Focus buttons", name="INPUT_COUNT_RESET", values={"RESET": ON})
    )
    await client.expect(counted("INPUT_1", 0))
    reset = await client.expect(
        lambda e: isinstance(e, SetSwitchVector) and e.name == "INPUT_COUNT_RESET"
    )
    assert reset.state == "Ok"
    assert reset.values["RESET"] == OFF


async def test_digital_input_is_pulled_down_and_active_high_by_default(gpio, serve):
    opts = DigitalInputOptions(pins=("GPIO20",))
    client = await serve(DigitalInputDriver(make_context(gpio, "Roof", opts)))
    labels = await client.expect(lambda e: isinstance(e, DefTextVector) and "LABELS" in e.name)
    assert labels.name == "DIGITAL_INPUT_LABELS"
    assert {m.name: m.value for m in labels.members} == {"DIGITAL_INPUT_1": "Input 1"}
    gpio.drive_pin("GPIO20", True)
    await client.expect(switched("DIGITAL_INPUT_1", on=True))
    await client.expect(counted("INPUT_1", 1))


async def test_a_floating_input_takes_its_active_state(gpio, serve):
    opts = DigitalInputOptions(pins=("GPIO20",), active_state=False, pull_up=True)
    driver = DigitalInputDriver(make_context(gpio, "Rain", opts))
    assert gpio.factory.pin("GPIO20").pull == "floating"
    client = await serve(driver)
    gpio.drive_pin("GPIO20", True)
    gpio.drive_pin("GPIO20", False)  # active low
    await client.expect(switched("DIGITAL_INPUT_1", on=True))


async def test_motion_sensor_reports_motion_once_sampled(gpio, serve):
    opts = MotionSensorOptions(pin="GPIO4", sample_rate=100.0)
    client = await serve(MotionSensorDriver(make_context(gpio, "PIR", opts)))
    defined = await client.expect(
        lambda e: isinstance(e, DefSwitchVector) and e.name == "DIGITAL_INPUT_1"
    )
    assert defined.state == "Idle"  # not sampled yet
    await client.expect(switched("DIGITAL_INPUT_1", on=False))  # first sample
    gpio.drive_pin("GPIO4", True)
    await client.expect(switched("DIGITAL_INPUT_1", on=True))
    await client.expect(light("INPUT_STATE", "INPUT_1", "Ok"))
    await client.expect(counted("INPUT_1", 1))


async def test_line_sensor_is_on_when_it_sees_a_line(gpio, serve):
    opts = LineSensorOptions(pin="GPIO19", label="Home mark", sample_rate=200.0, queue_len=2)
    client = await serve(LineSensorDriver(make_context(gpio, "Dome", opts)))
    await client.expect(switched("DIGITAL_INPUT_1", on=True))  # pulled down: low is a line
    gpio.drive_pin("GPIO19", True)
    await client.expect(switched("DIGITAL_INPUT_1", on=False))
    gpio.drive_pin("GPIO19", False)
    await client.expect(switched("DIGITAL_INPUT_1", on=True))
    await client.expect(counted("INPUT_1", 1))


def test_a_refused_pin_releases_the_inputs_already_made(gpio):
    gpio.create("LED", pin="GPIO27")
    with pytest.raises(HardwareError, match="GPIO27"):
        buttons(gpio)
    assert len(gpio.devices) == 1  # only the LED
    assert "GPIO17" not in gpio.simulated_inputs


async def test_stopping_releases_the_pins(gpio, serve):
    driver = buttons(gpio)
    await serve(driver)
    assert len(gpio.devices) == 2
    driver.shutdown()
    assert gpio.devices == []


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        pytest.param({"pins": ()}, [("pins", "needs at least one pin")], id="no-pins"),
        pytest.param(
            {"pins": ("GPIO5", "GPIO6"), "labels": ("A",)},
            [("labels", "has 1 labels for 2 pins")],
            id="labels",
        ),
        pytest.param({"pins": ("GPIO5", "GPIO5")}, [("pins", "has GPIO5 twice")], id="twice"),
        pytest.param({"pins": ("GPIO5", "GPIO6"), "labels": ("A", "B")}, [], id="fine"),
    ],
)
def test_options_problems(options, problems):
    assert ButtonOptions(**options).problems() == problems
    assert DigitalInputOptions(**options).problems() == problems
