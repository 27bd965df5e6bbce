"""CONNECTION on every bundled device, as libindi's DefaultDevice has it, through a real server.

libindi (``libs/indibase/defaultdevice.cpp``) defines ``CONNECTION`` for every
device, and ``BaseDevice::isConnected()`` reads it: Universal ROR only drives
``DIGITAL_OUTPUT_n`` and reads ``DIGITAL_INPUT_n`` once both devices are
connected, and Ekos connects a profile's devices by pressing CONNECT.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pi_indi.protocol import (
    DefNumberVector,
    DefSwitchVector,
    DefTextVector,
    DelProperty,
    GetProperties,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    PropertyState,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    SwitchState,
)
from pi_indi.registry import simulation_driver
from pi_indi_drivers._base import GpioDriver
from pi_indi_drivers.digital_input import DigitalInputDriver, DigitalInputOptions
from pi_indi_drivers.digital_output import DigitalOutputOptions, LEDDriver
from pi_indi_drivers.mock_control import DEVICE_NAME, MockControlDriver
from pi_indi_drivers.sensors import CPUTemperatureDriver, CPUTemperatureOptions
from tests.drivers.conftest import documented_devices, make_context, update
from tests.helpers import DRIVER_PAGES

ON, OFF = SwitchState.ON, SwitchState.OFF


def connection(device: str, connect: bool) -> NewSwitchVector:
    member = "CONNECT" if connect else "DISCONNECT"
    return NewSwitchVector(device=device, name="CONNECTION", values={member: ON})


def deleted(device: str, name: str | None = None) -> Any:
    def match(e: Any) -> bool:
        return type(e) is DelProperty and e.device == device and (name is None or e.name == name)

    return match


def led(gpio: Any, **options: Any) -> LEDDriver:
    options.setdefault("pins", ("GPIO17",))
    return LEDDriver(make_context(gpio, "LEDs", DigitalOutputOptions(**options)))


async def disconnect(client: Any, device: str) -> Any:
    await client.send(connection(device, connect=False))
    return await client.expect(update(SetSwitchVector, "CONNECTION"))


# -- every bundled device has it, connected from the start --


@pytest.mark.parametrize("page", sorted(set(DRIVER_PAGES.values()) - {"mock_control"}))
def test_every_bundled_device_has_connection_connected_at_start(gpio: Any, page: str):
    for device in documented_devices(page):
        assert device.record is not None
        assert device.record.cls is not None
        driver = device.record.cls.from_config(make_context(gpio, device.name, device.options))
        try:
            assert isinstance(driver, GpioDriver)
            vector: Any = driver.device["CONNECTION"]
            # defaultdevice.cpp: CONNECT "Connect", DISCONNECT "Disconnect",
            # "Main Control", IP_RW, ISR_1OFMANY.
            assert (vector.label, vector.group, vector.perm, vector.rule) == (
                "Connection",
                "Main Control",
                "rw",
                "OneOfMany",
            )
            assert [(m.name, m.label) for m in vector.data.values()] == [
                ("CONNECT", "Connect"),
                ("DISCONNECT", "Disconnect"),
            ]
            assert (vector["CONNECT"], vector["DISCONNECT"]) == ("On", "Off")
            assert driver.connected
        finally:
            driver.shutdown()


@pytest.mark.parametrize("page", sorted(set(DRIVER_PAGES.values()) - {"mock_control"}))
async def test_every_bundled_device_disconnects_and_connects_again(gpio: Any, page: str):
    for device in documented_devices(page):
        assert device.record is not None
        assert device.record.cls is not None
        driver = device.record.cls.from_config(make_context(gpio, device.name, device.options))
        assert isinstance(driver, GpioDriver)
        working = [n for n in driver.device if n not in ("CONNECTION", "DRIVER_INFO")]
        working = [n for n in working if driver.device[n].group != "Options"]
        try:
            await driver.disconnect()
            assert not driver.connected
            assert not any(driver.device[n].enable for n in working)
            await driver.connect()
            assert driver.connected, device.name
            assert [n for n in working if not driver.device[n].enable] == []
            assert driver.device["CONNECTION"]["CONNECT"] == "On"
        finally:
            driver.shutdown()


def test_a_driver_class_can_opt_out(gpio: Any):
    class Plain(LEDDriver):
        connection = False

    driver = Plain(make_context(gpio, "LEDs", DigitalOutputOptions(pins=("GPIO17",))))
    assert "CONNECTION" not in driver.device
    driver.shutdown()


async def test_connection_is_defined_first_for_a_client(gpio: Any, serve: Any):
    client = await serve(led(gpio))
    first = await client.expect(lambda e: isinstance(e, DefSwitchVector | DefNumberVector))
    assert first.name == "CONNECTION"


# -- DISCONNECT --


async def test_disconnect_makes_safe_releases_and_deletes_the_working_vectors(gpio, serve):
    driver = led(gpio, pins=("GPIO17", "GPIO27"), safe_state="off")
    client = await serve(driver)
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    await client.send(NewSwitchVector(device="LEDs", name="DIGITAL_OUTPUT_1", values={"ON": ON}))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert gpio.factory.pin("GPIO17").state == 1
    answer = await disconnect(client, "LEDs")
    assert answer.state == PropertyState.OK
    assert answer.values == {"CONNECT": OFF, "DISCONNECT": ON}
    gone = set()
    for _ in range(7):  # 2 outputs, 2 pulses, 2 blinks, the labels
        gone.add((await client.expect(deleted("LEDs"))).name)
    assert gone == {
        "DIGITAL_OUTPUT_1",
        "DIGITAL_OUTPUT_2",
        "PULSE_0",
        "PULSE_1",
        "BLINK_1",
        "BLINK_2",
        "DIGITAL_OUTPUT_LABELS",
    }
    assert not driver.connected
    # The safe state holds, and the pins are free for another device to claim.
    assert gpio.factory.pin("GPIO17").state == 0
    other = gpio.create("LED", pin="GPIO17")
    gpio.release(other)
    # A client asking now sees CONNECTION and DRIVER_INFO only.
    await client.send(GetProperties(version="1.7", device="LEDs"))
    names = []
    while True:
        event = await client.expect(lambda e: isinstance(e, DefSwitchVector | DefTextVector))
        names.append(event.name)
        if event.name == "DRIVER_INFO":
            break
    assert names == ["CONNECTION", "DRIVER_INFO"]
    # Requests for the deleted vectors do nothing.
    await client.send(NewSwitchVector(device="LEDs", name="DIGITAL_OUTPUT_1", values={"ON": ON}))
    assert await client.silent(update(SetSwitchVector, "DIGITAL_OUTPUT_1"), wait=0.2)


async def test_disconnect_stops_a_pulse_and_stop_after_it_touches_nothing(gpio, serve):
    driver = led(gpio)
    client = await serve(driver)
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    await client.send(NewNumberVector(device="LEDs", name="PULSE_0", values={"DURATION": "60000"}))
    await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.OK))
    await client.send(NewSwitchVector(device="LEDs", name="DIGITAL_OUTPUT_1", values={"ON": ON}))
    await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.BUSY))
    task = driver.outputs[0].pulse_task
    await disconnect(client, "LEDs")
    assert task is not None
    await asyncio.sleep(0)
    assert task.cancelled()
    assert gpio.factory.pin("GPIO17").state == 0
    driver.shutdown()
    async with asyncio.timeout(3):
        await driver.stopped.wait()


# -- CONNECT --


async def test_connect_claims_again_redefines_and_restores_the_last_values(gpio, serve):
    driver = led(gpio, pins=("GPIO17", "GPIO27"))
    client = await serve(driver)
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    await client.send(NewSwitchVector(device="LEDs", name="DIGITAL_OUTPUT_2", values={"ON": ON}))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_2", PropertyState.OK))
    await disconnect(client, "LEDs")
    await client.expect(deleted("LEDs", "DIGITAL_OUTPUT_LABELS"))
    assert gpio.factory.pin("GPIO27").state == 0
    await client.send(connection("LEDs", connect=True))
    answer = await client.expect(update(SetSwitchVector, "CONNECTION"))
    assert answer.state == PropertyState.OK
    assert answer.values == {"CONNECT": ON, "DISCONNECT": OFF}
    second = await client.expect(update(DefSwitchVector, "DIGITAL_OUTPUT_2"))
    assert {m.name: m.value for m in second.members} == {"OFF": OFF, "ON": ON}
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    assert gpio.factory.pin("GPIO27").state == 1
    assert gpio.factory.pin("GPIO17").state == 0
    # It works as before.
    await client.send(NewSwitchVector(device="LEDs", name="DIGITAL_OUTPUT_1", values={"ON": ON}))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert gpio.factory.pin("GPIO17").state == 1


async def test_connect_when_the_pins_are_taken_is_an_alert_and_stays_disconnected(gpio, serve):
    driver = led(gpio)
    client = await serve(driver)
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    await disconnect(client, "LEDs")
    thief = gpio.create("LED", pin="GPIO17")
    await client.send(connection("LEDs", connect=True))
    answer = await client.expect(update(SetSwitchVector, "CONNECTION"))
    assert answer.state == PropertyState.ALERT
    assert "GPIO17" in answer.message
    assert answer.values == {"CONNECT": OFF, "DISCONNECT": ON}
    assert not driver.connected
    assert await client.silent(update(DefSwitchVector, "DIGITAL_OUTPUT_1"), wait=0.2)
    # Once the pin is free, CONNECT works.
    gpio.release(thief)
    await client.send(connection("LEDs", connect=True))
    await client.expect(update(SetSwitchVector, "CONNECTION", PropertyState.OK))
    await client.expect(update(DefSwitchVector, "DIGITAL_OUTPUT_1"))
    assert driver.connected


async def test_connect_when_connected_just_answers_ok(gpio, serve):
    client = await serve(led(gpio))
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    await client.send(connection("LEDs", connect=True))
    answer = await client.expect(update(SetSwitchVector, "CONNECTION"))
    assert answer.state == PropertyState.OK
    assert answer.values == {"CONNECT": ON, "DISCONNECT": OFF}
    assert await client.silent(lambda e: isinstance(e, DelProperty | DefSwitchVector), wait=0.2)


async def test_inputs_stop_while_disconnected_and_follow_the_pin_after_connect(gpio, serve):
    options = DigitalInputOptions(pins=("GPIO6",))
    driver = DigitalInputDriver(make_context(gpio, "Limits", options))
    client = await serve(driver)
    await client.expect(update(DefTextVector, "DIGITAL_INPUT_LABELS"))
    await disconnect(client, "Limits")
    await client.expect(deleted("Limits", "DIGITAL_INPUT_LABELS"))
    gpio.drive_pin("GPIO6", True)
    assert await client.silent(update(SetSwitchVector, "DIGITAL_INPUT_1"), wait=0.2)
    await client.send(connection("Limits", connect=True))
    await client.expect(update(DefSwitchVector, "DIGITAL_INPUT_1"))
    # (Claiming a mock pin with its pull sets its level.)
    gpio.drive_pin("GPIO6", True)
    on = await client.expect(update(SetSwitchVector, "DIGITAL_INPUT_1"))
    assert on.values["ON"] == ON


async def test_a_sensor_stops_reading_while_disconnected(gpio, serve):
    options = CPUTemperatureOptions(interval=0.05)
    driver = CPUTemperatureDriver(make_context(gpio, "Pi", options))
    client = await serve(driver)
    await client.expect(update(DefNumberVector, "CPU_TEMPERATURE"))
    await disconnect(client, "Pi")
    await client.expect(deleted("Pi", "CPU_TEMPERATURE"))
    assert await client.silent(update(SetNumberVector, "CPU_TEMPERATURE"), wait=0.3)
    await client.send(connection("Pi", connect=True))
    defined = await client.expect(update(DefNumberVector, "CPU_TEMPERATURE"))
    assert defined.state == PropertyState.IDLE  # defined before the readings resume
    await client.expect(update(SetNumberVector, "CPU_TEMPERATURE", PropertyState.OK))


# -- the mock control device --


async def test_mock_control_connects_and_disconnects(gpio, serve):
    DigitalInputDriver(make_context(gpio, "Limits", DigitalInputOptions(pins=("GPIO6",))))
    control = simulation_driver(gpio)
    assert isinstance(control, MockControlDriver)
    client = await serve(control)
    await client.expect(update(DefSwitchVector, "PIN_GPIO6"))
    await disconnect(client, DEVICE_NAME)
    await client.expect(deleted(DEVICE_NAME, "PIN_GPIO6"))
    await client.send(connection(DEVICE_NAME, connect=True))
    await client.expect(update(DefSwitchVector, "PIN_GPIO6"))
    await client.send(NewSwitchVector(device=DEVICE_NAME, name="PIN_GPIO6", values={"HIGH": ON}))
    await client.expect(update(SetSwitchVector, "PIN_GPIO6", PropertyState.OK))


def test_mock_control_can_opt_out(gpio: Any):
    class Plain(MockControlDriver):
        connection = False

    DigitalInputDriver(make_context(gpio, "Limits", DigitalInputOptions(pins=("GPIO6",))))
    assert "CONNECTION" not in Plain(gpio)[DEVICE_NAME]


# -- labels: rw, applied, saved (indioutputinterface.cpp / indiinputinterface.cpp processText) --


async def test_a_label_edit_is_applied_and_saved(gpio, serve):
    saved: list[dict[str, Any]] = []
    context = make_context(gpio, "LEDs", DigitalOutputOptions(pins=("GPIO17",), labels=("Dew",)))
    context.save_settings = lambda settings: saved.append(dict(settings))
    driver = LEDDriver(context)
    client = await serve(driver)
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    await client.send(
        NewTextVector(
            device="LEDs", name="DIGITAL_OUTPUT_LABELS", values={"DIGITAL_OUTPUT_1": "Flat panel"}
        )
    )
    answer = await client.expect(update(SetTextVector, "DIGITAL_OUTPUT_LABELS"))
    assert answer.state == PropertyState.OK
    assert answer.values == {"DIGITAL_OUTPUT_1": "Flat panel"}
    assert saved[-1] == {"labels": {"DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_1": "Flat panel"}}}
    # The output's next definition carries it.
    await client.send(GetProperties(version="1.7", device="LEDs", name="DIGITAL_OUTPUT_1"))
    defined = await client.expect(update(DefSwitchVector, "DIGITAL_OUTPUT_1"))
    assert defined.label == "Flat panel"


# -- DEBUG and POLLING_PERIOD (defaultdevice.cpp: DebugSP, PollPeriodNP, group "Options") --


def test_debug_and_polling_period_are_libindis(gpio: Any):
    driver = CPUTemperatureDriver(make_context(gpio, "Pi", CPUTemperatureOptions(interval=2.5)))
    try:
        debug: Any = driver.device["DEBUG"]
        assert (debug.label, debug.group, debug.perm, debug.rule) == (
            "Debug",
            "Options",
            "rw",
            "OneOfMany",
        )
        assert [(m.name, m.label, m.membervalue) for m in debug.data.values()] == [
            ("ENABLE", "Enable", "Off"),
            ("DISABLE", "Disable", "On"),
        ]
        polling: Any = driver.device["POLLING_PERIOD"]
        assert (polling.label, polling.group, polling.perm) == ("Polling", "Options", "rw")
        member = polling.data["PERIOD_MS"]
        assert (member.label, member.format, float(member.min), float(member.max)) == (
            "Period (ms)",
            "%.f",
            10.0,
            600_000.0,
        )
        assert member.getfloatvalue() == 2500  # the config's interval
        assert "POLLING_PERIOD" not in led(gpio, pins=("GPIO5",)).device  # polled sensors only
    finally:
        driver.shutdown()


async def test_debug_switches_the_devices_xml_logging(gpio, serve, caplog):
    driver = led(gpio)
    client = await serve(driver)
    await client.expect(update(DefSwitchVector, "DEBUG"))
    assert not driver.debug_enable
    await client.send(NewSwitchVector(device="LEDs", name="DEBUG", values={"ENABLE": ON}))
    answer = await client.expect(update(SetSwitchVector, "DEBUG", PropertyState.OK))
    assert answer.values == {"ENABLE": ON, "DISABLE": OFF}
    assert driver.debug_enable
    caplog.set_level("DEBUG", logger="pi_indi.driver")
    await client.send(NewSwitchVector(device="LEDs", name="DIGITAL_OUTPUT_1", values={"ON": ON}))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert "DIGITAL_OUTPUT_1" in caplog.text
    await client.send(NewSwitchVector(device="LEDs", name="DEBUG", values={"DISABLE": ON}))
    await client.expect(update(SetSwitchVector, "DEBUG", PropertyState.OK))
    assert not driver.debug_enable


async def test_debug_and_polling_stay_while_disconnected(gpio, serve):
    driver = CPUTemperatureDriver(make_context(gpio, "Pi", CPUTemperatureOptions()))
    client = await serve(driver)
    await client.expect(update(DefNumberVector, "POLLING_PERIOD"))
    await disconnect(client, "Pi")
    await client.expect(deleted("Pi", "CPU_TEMPERATURE"))
    assert driver.device["DEBUG"].enable
    assert driver.device["POLLING_PERIOD"].enable


async def test_polling_period_sets_the_reading_interval_and_is_saved(gpio, serve):
    saved: list[dict[str, Any]] = []
    context = make_context(gpio, "Pi", CPUTemperatureOptions(interval=60))
    context.save_settings = lambda settings: saved.append(dict(settings))
    driver = CPUTemperatureDriver(context)
    client = await serve(driver)
    await client.expect(update(DefNumberVector, "CPU_TEMPERATURE"))
    await client.send(
        NewNumberVector(device="Pi", name="POLLING_PERIOD", values={"PERIOD_MS": "50"})
    )
    await client.expect(update(SetNumberVector, "POLLING_PERIOD", PropertyState.OK))
    assert saved[-1] == {"polling_period_ms": 50}
    # Readings now come every 50 ms, not every minute: change the reading and see it.
    control = simulation_driver(gpio)
    assert isinstance(control, MockControlDriver)
    reading = next(r for r in gpio.simulated_readings if r.devicename == "Pi")
    reading.apply(30.0)
    # A reading taken before the change may still be on its way: the new one
    # must follow within two seconds (not a minute).
    async with asyncio.timeout(2):
        while True:
            update_ = await client.expect(update(SetNumberVector, "CPU_TEMPERATURE"))
            if float(update_.values["TEMPERATURE"]) == 30.0:
                break
    assert driver.interval == 0.05
