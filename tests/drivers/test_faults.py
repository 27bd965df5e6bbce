"""Faults inside drivers, seen by a client through a real server socket.

A driver whose ``hardware()`` raises, a ``rxevent`` or ``snoopevent`` that
raises, gpiozero refusing at run time, a sensor that cannot be read: each is
logged, shown to the client (Alert and a message), and the driver goes on
answering requests.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from gpiozero.exc import GPIOZeroError, PinPWMUnsupported

import pi_indi as ipd
from pi_indi.errors import HardwareError
from pi_indi.protocol import (
    DefNumberVector,
    DefTextVector,
    Message,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    PingReply,
    PingRequest,
    PropertyState,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    SwitchState,
)
from pi_indi_drivers._gpio import Gpio
from pi_indi_drivers.digital_input import DigitalInputDriver, DigitalInputOptions
from pi_indi_drivers.digital_output import DigitalOutputOptions, LEDDriver
from pi_indi_drivers.pwm_output import PWMLEDDriver, PWMOptions
from pi_indi_drivers.sensors import CPUTemperatureDriver, CPUTemperatureOptions
from tests.drivers.conftest import make_context

ON, OFF = SwitchState.ON, SwitchState.OFF
ALERT, OK = PropertyState.ALERT, PropertyState.OK


def is_set(kind: type[Any], name: str, state: PropertyState | None = None) -> Callable[[Any], bool]:
    def match(e: Any) -> bool:
        return isinstance(e, kind) and e.name == name and (state is None or e.state == state)

    return match


def message(device: str, text: str) -> Callable[[Any], bool]:
    return lambda e: type(e) is Message and e.device == device and text in (e.message or "")


def errors(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    """ERROR records mentioning *text*, each with its traceback."""
    return [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR and text in r.getMessage() and r.exc_info is not None
    ]


# -- any IPyDriver --


def lamp_device() -> ipd.Device:
    return ipd.Device(
        "Lamp",
        [
            ipd.SwitchVector(
                "POWER",
                "Power",
                "Main",
                "rw",
                "AtMostOne",
                "Ok",
                [ipd.SwitchMember("ON"), ipd.SwitchMember("OFF", membervalue="On")],
            ),
            ipd.NumberVector(
                "LEVEL",
                "Level",
                "Main",
                "rw",
                "Idle",
                [ipd.NumberMember("PCT", format="%.0f", min=0, max=100, step=1)],
            ),
        ],
    )


class Lamp(ipd.IPyDriver):
    """Applies every request; its hardware() fails its first *failures* runs, then runs on."""

    hardware_restart_delay = 0.01
    hardware_restart_max_delay = 0.04

    def __init__(self, failures: int = 0) -> None:
        super().__init__(lamp_device())
        self.failures = failures
        self.runs = 0
        self.go = asyncio.Event()  # set by the test once its client is connected
        self.running = asyncio.Event()

    async def hardware(self) -> None:
        await self.go.wait()
        self.runs += 1
        if self.runs <= self.failures:
            raise RuntimeError(f"the lamp's controller vanished (run {self.runs})")
        self.running.set()
        await asyncio.Event().wait()

    async def rxevent(self, event: Any) -> None:
        if event.vectorname == "LEVEL" and event.getfloatvalue("PCT") == 13:
            raise RuntimeError("thirteen is unlucky")
        for name, value in event.items():
            event.vector[name] = value
        await event.vector.send_setVector(state="Ok")


async def connected(serve: Any, *drivers: ipd.IPyDriver, last: str = "LEVEL") -> Any:
    client = await serve(*drivers)
    await client.expect(is_set(DefNumberVector, last))
    return client


def power(on: bool) -> NewSwitchVector:
    return NewSwitchVector(device="Lamp", name="POWER", values={"ON": ON if on else OFF})


async def test_hardware_that_raises_is_shown_and_the_driver_keeps_serving(serve, caplog):
    driver = Lamp(failures=1)
    driver.hardware_restart_delay = 30  # no restart while this test runs
    client = await connected(serve, driver)
    driver.go.set()

    failed = await client.expect(message("Lamp", "hardware task failed"))
    assert "RuntimeError: the lamp's controller vanished (run 1)" in failed.message
    assert "restarting it in 30 s" in failed.message
    assert (await client.expect(is_set(SetSwitchVector, "POWER"))).state == ALERT
    assert (await client.expect(is_set(SetNumberVector, "LEVEL"))).state == ALERT
    assert errors(caplog, "hardware() failed")

    # Requests are still answered.
    await client.send(power(True))
    answer = await client.expect(is_set(SetSwitchVector, "POWER"))
    assert (answer.state, answer.values["ON"]) == (OK, ON)
    await client.send(PingRequest(uid="after"))
    await client.expect(lambda e: e == PingReply(uid="after"))
    assert driver.runs == 1


async def test_hardware_that_raises_is_started_again_and_the_alert_cleared(serve):
    driver = Lamp(failures=2)
    client = await connected(serve, driver)
    driver.go.set()

    first = await client.expect(message("Lamp", "hardware task failed"))
    assert "(run 1)" in first.message
    assert "in 0.01 s" in first.message
    await client.expect(is_set(SetSwitchVector, "POWER", ALERT))
    await client.expect(message("Lamp", "hardware task restarted"))
    second = await client.expect(message("Lamp", "hardware task failed"))
    assert "(run 2)" in second.message
    assert "in 0.02 s" in second.message  # the delay doubles
    await client.expect(message("Lamp", "hardware task restarted"))
    # Back to the states they had before the failure.
    assert (await client.expect(is_set(SetSwitchVector, "POWER"))).state == OK
    assert (await client.expect(is_set(SetNumberVector, "LEVEL"))).state == PropertyState.IDLE
    async with asyncio.timeout(3):
        await driver.running.wait()
    assert driver.runs == 3
    await client.send(power(True))
    assert (await client.expect(is_set(SetSwitchVector, "POWER"))).state == OK


async def test_rxevent_that_raises_is_answered_with_alert_and_the_reason(serve, caplog):
    driver = Lamp()
    client = await connected(serve, driver)
    await client.send(NewNumberVector(device="Lamp", name="LEVEL", values={"PCT": "13"}))
    answer = await client.expect(is_set(SetNumberVector, "LEVEL"))
    assert answer.state == ALERT
    assert answer.message == (
        "[ERROR] LEVEL: the driver failed to handle the request (RuntimeError: thirteen is unlucky)"
    )
    assert errors(caplog, "rxevent failed on LEVEL")
    # The next good request works.
    await client.send(NewNumberVector(device="Lamp", name="LEVEL", values={"PCT": "14"}))
    answer = await client.expect(is_set(SetNumberVector, "LEVEL"))
    assert (answer.state, float(answer.values["PCT"])) == (OK, 14)


class Watcher(ipd.IPyDriver):
    """Snoops on the lamp; its snoopevent always raises."""

    def __init__(self) -> None:
        super().__init__(
            ipd.Device(
                "Watcher",
                [ipd.TextVector("NOTE", "Note", "Main", "rw", "Ok", [ipd.TextMember("TEXT")])],
            )
        )
        self.snooped = 0

    async def hardware(self) -> None:
        await self.send_getProperties("Lamp", "POWER")

    async def snoopevent(self, event: Any) -> None:
        self.snooped += 1
        raise ValueError("cannot make sense of that")

    async def rxevent(self, event: Any) -> None:
        event.vector["TEXT"] = event["TEXT"]
        await event.vector.send_setVector(state="Ok")


async def test_snoopevent_that_raises_is_logged_and_the_driver_keeps_serving(serve, caplog):
    watcher = Watcher()
    client = await connected(serve, Lamp(), watcher)
    await client.send(power(True))
    await client.expect(is_set(SetSwitchVector, "POWER", OK))
    async with asyncio.timeout(3):
        while not errors(caplog, "snoopevent failed on SetSwitchVector Lamp.POWER"):
            await asyncio.sleep(0.01)
    assert watcher.snooped >= 1
    await client.send(NewTextVector(device="Watcher", name="NOTE", values={"TEXT": "still here"}))
    answer = await client.expect(is_set(SetTextVector, "NOTE"))
    assert (answer.state, answer.values["TEXT"]) == (OK, "still here")


# -- gpiozero refusing at run time --


def leds(gpio: Gpio, pins: tuple[str, ...] = ("GPIO17",)) -> LEDDriver:
    return LEDDriver(make_context(gpio, "Outputs", DigitalOutputOptions(pins=pins)))


def switch(name: str, on: bool) -> NewSwitchVector:
    return NewSwitchVector(device="Outputs", name=name, values={"ON": ON if on else OFF})


async def outputs_connected(serve: Any, driver: LEDDriver) -> Any:
    client = await serve(driver)
    await client.expect(is_set(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    return client


async def test_a_pin_that_refuses_once_is_an_alert_and_the_next_request_works(
    gpio, serve, monkeypatch, caplog
):
    client = await outputs_connected(serve, leds(gpio))
    pin = gpio.factory.pin("GPIO17")
    set_state = pin._set_state
    refusals = [PermissionError(13, "Permission denied", "/dev/gpiochip0")]

    def refuse_once(value: float) -> None:
        if refusals:
            raise refusals.pop()
        set_state(value)

    monkeypatch.setattr(pin, "_set_state", refuse_once)
    await client.send(switch("DIGITAL_OUTPUT_1", True))
    answer = await client.expect(is_set(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert answer.state == ALERT
    assert answer.message.startswith("[ERROR] DIGITAL_OUTPUT_1: ")
    assert "Permission denied" in answer.message
    assert "gpio group" in answer.message  # what to do about it
    assert answer.values["ON"] == OFF  # unchanged
    assert errors(caplog, "Permission denied")
    assert pin.state == 0

    await client.send(switch("DIGITAL_OUTPUT_1", True))
    answer = await client.expect(is_set(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert (answer.state, answer.values["ON"]) == (OK, ON)
    assert pin.state == 1


async def test_a_device_closed_under_the_driver_is_an_alert_and_the_rest_works(gpio, serve, caplog):
    driver = leds(gpio, ("GPIO17", "GPIO27"))
    client = await outputs_connected(serve, driver)
    driver.outputs[0].device.close()
    await client.send(switch("DIGITAL_OUTPUT_1", True))
    answer = await client.expect(is_set(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert answer.state == ALERT
    assert "closed" in answer.message
    # Blinking would fail later, in gpiozero's thread: it is refused at once.
    await client.send(NewNumberVector(device="Outputs", name="BLINK_1", values={"ON_TIME": "0.1"}))
    answer = await client.expect(is_set(SetNumberVector, "BLINK_1"))
    assert answer.state == ALERT
    assert "closed" in answer.message
    assert errors(caplog, "closed")
    await client.send(switch("DIGITAL_OUTPUT_2", True))
    answer = await client.expect(is_set(SetSwitchVector, "DIGITAL_OUTPUT_2"))
    assert (answer.state, answer.values["ON"]) == (OK, ON)
    assert gpio.factory.pin("GPIO27").state == 1


async def test_pwm_unsupported_at_run_time_is_an_alert_and_the_next_request_works(
    gpio, serve, monkeypatch
):
    driver = PWMLEDDriver(make_context(gpio, "Dimmer", PWMOptions(pin="GPIO18")))
    client = await serve(driver)
    await client.expect(is_set(DefNumberVector, "PWM_OUTPUT_1"))
    pin = gpio.factory.pin("GPIO18")

    def no_pwm(value: float | None) -> None:
        raise PinPWMUnsupported("PWM is not supported on pin GPIO18")

    monkeypatch.setattr(pin, "_set_frequency", no_pwm)
    request = NewNumberVector(device="Dimmer", name="PWM_OUTPUT_1", values={"FREQUENCY": "500"})
    await client.send(request)
    answer = await client.expect(is_set(SetNumberVector, "PWM_OUTPUT_1"))
    assert answer.state == ALERT
    assert "PWM is not supported on pin GPIO18" in answer.message
    assert float(answer.values["FREQUENCY"]) == 100  # unchanged

    await client.send(
        NewNumberVector(device="Dimmer", name="PWM_OUTPUT_1", values={"DUTY_CYCLE": "40"})
    )
    answer = await client.expect(is_set(SetNumberVector, "PWM_OUTPUT_1"))
    assert (answer.state, float(answer.values["DUTY_CYCLE"])) == (OK, 40)
    assert pin.state == pytest.approx(0.4)


class FailingRunLED(LEDDriver):
    """An LED driver whose polling task fails once (a bug, not the hardware)."""

    hardware_restart_delay = 0.01

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.go = asyncio.Event()
        self.runs = 0

    async def run(self) -> None:
        await self.go.wait()
        self.runs += 1
        if self.runs == 1:
            raise KeyError("no such thing")


async def test_a_bundled_driver_whose_task_fails_is_shown_restarted_and_still_serves(gpio, serve):
    driver = FailingRunLED(make_context(gpio, "Outputs", DigitalOutputOptions(pins=("GPIO17",))))
    client = await outputs_connected(serve, driver)
    driver.go.set()
    failed = await client.expect(message("Outputs", "hardware task failed"))
    assert "KeyError: 'no such thing'" in failed.message
    await client.expect(is_set(SetSwitchVector, "DIGITAL_OUTPUT_1", ALERT))
    await client.expect(message("Outputs", "hardware task restarted"))
    await client.expect(is_set(SetSwitchVector, "DIGITAL_OUTPUT_1", OK))
    await client.send(switch("DIGITAL_OUTPUT_1", True))
    answer = await client.expect(is_set(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert (answer.state, answer.values["ON"]) == (OK, ON)
    assert driver.runs == 2


# -- reads --


def first_reading(event: Any) -> bool:
    """CPU_TEMPERATURE defined or updated with a reading (Ok), whichever the client sees first."""
    return (
        type(event) in (DefNumberVector, SetNumberVector)
        and event.name == "CPU_TEMPERATURE"
        and event.state == OK
    )


def cpu_temperature(gpio: Gpio) -> CPUTemperatureDriver:
    opts = CPUTemperatureOptions(interval=0.02)
    return CPUTemperatureDriver(make_context(gpio, "Pi", opts))


async def test_a_sensor_that_fails_for_a_while_is_told_once_and_polling_goes_on(
    gpio, serve, caplog
):
    driver = cpu_temperature(gpio)
    sensor = driver.readings[0].sensor
    read = sensor.read
    calls = [0]
    failures: list[Exception] = []

    def flaky() -> float:
        calls[0] += 1
        if failures:
            raise failures.pop()
        return read()

    sensor.read = flaky
    client = await serve(driver)
    await client.expect(first_reading)
    failures.extend(OSError(121, "Remote I/O error") for _ in range(3))
    alert = await client.expect(is_set(SetNumberVector, "CPU_TEMPERATURE"))
    assert alert.state == ALERT
    assert alert.message == (
        "[ERROR] CPU_TEMPERATURE: cannot read the sensor: [Errno 121] Remote I/O error"
    )
    before = calls[0]
    # The failures after the first are not sent again; the next update is the good reading.
    again = await client.expect(is_set(SetNumberVector, "CPU_TEMPERATURE"))
    assert again.state == OK
    assert float(again.values["TEMPERATURE"]) == 45
    assert calls[0] >= before + 2  # it went on reading
    assert len(errors(caplog, "Remote I/O error")) == 1


async def test_a_sensor_read_that_hits_a_bug_restarts_the_polling(gpio, serve):
    driver = cpu_temperature(gpio)
    driver.hardware_restart_delay = 0.01
    sensor = driver.readings[0].sensor
    read = sensor.read
    bugs: list[Exception] = []

    def buggy() -> float:
        if bugs:
            raise bugs.pop()
        return read()

    sensor.read = buggy
    client = await serve(driver)
    await client.expect(first_reading)
    bugs.append(ZeroDivisionError("division by zero"))
    failed = await client.expect(message("Pi", "hardware task failed"))
    assert "ZeroDivisionError: division by zero" in failed.message
    await client.expect(is_set(SetNumberVector, "CPU_TEMPERATURE", ALERT))
    await client.expect(message("Pi", "hardware task restarted"))
    await client.expect(is_set(SetNumberVector, "CPU_TEMPERATURE", OK))


async def test_an_input_that_cannot_be_read_at_start_is_an_alert_and_edges_still_come(
    gpio, serve, monkeypatch
):
    release = threading.Event()

    def unreadable(device: Any) -> bool:
        release.wait(5)  # until the client is there to see it
        raise HardwareError("no samples from GPIO17 for a while")

    monkeypatch.setattr(gpio, "read_active", unreadable)
    opts = DigitalInputOptions(pins=("GPIO17",))
    driver = DigitalInputDriver(make_context(gpio, "Inputs", opts))
    client = await serve(driver)
    await client.expect(is_set(DefTextVector, "DIGITAL_INPUT_LABELS"))
    release.set()
    alert = await client.expect(is_set(SetSwitchVector, "DIGITAL_INPUT_1"))
    assert alert.state == ALERT
    assert alert.message == (
        "[ERROR] DIGITAL_INPUT_1: cannot read GPIO17: no samples from GPIO17 for a while"
    )
    gpio.drive_pin("GPIO17", True)
    edge = await client.expect(is_set(SetSwitchVector, "DIGITAL_INPUT_1"))
    assert (edge.state, edge.values["ON"]) == (OK, ON)


# -- which errors are the hardware's --


class _LgpioError(Exception):
    pass


_LgpioError.__module__ = "lgpio"


@pytest.mark.parametrize(
    ("error", "text"),
    [
        pytest.param(GPIOZeroError("GPIO17 is busy"), "GPIO17 is busy", id="gpiozero"),
        pytest.param(OSError(5, "Input/output error"), "[Errno 5] Input/output error", id="os"),
        pytest.param(ValueError("PWM value must be between 0 and 1"), "PWM value", id="value"),
        pytest.param(_LgpioError("GPIO not allocated"), "GPIO not allocated", id="lgpio"),
        pytest.param(
            PermissionError(13, "Permission denied"), "in the gpio group?", id="permission"
        ),
    ],
)
def test_the_back_end_knows_the_hardwares_errors(gpio, error, text):
    found = gpio.as_hardware_error(error)
    assert isinstance(found, HardwareError)
    assert text in str(found)
    assert found.__cause__ is error


@pytest.mark.parametrize(
    ("filename", "group"),
    [
        pytest.param("/dev/gpiochip4", "gpio", id="gpiochip"),
        pytest.param("/dev/gpiomem0", "gpio", id="gpiomem"),
        pytest.param("/dev/spidev0.0", "spi", id="spi"),
        pytest.param("/dev/i2c-1", "i2c", id="i2c"),
        pytest.param(b"/dev/i2c-1", "i2c", id="i2c-bytes"),
        pytest.param(None, "gpio", id="no-file"),
    ],
)
def test_permission_denied_names_the_group_of_the_device(gpio, filename, group):
    error = PermissionError(13, "Permission denied", filename)
    message = str(gpio.as_hardware_error(error))
    assert message.endswith(f"(is the service user in the {group} group?)")
    assert message.count(" group") == 1


def test_permission_denied_on_another_file_guesses_no_group(gpio):
    error = PermissionError(13, "Permission denied", "/var/lib/pi-indi/state.toml")
    message = str(gpio.as_hardware_error(error))
    assert message == "[Errno 13] Permission denied: '/var/lib/pi-indi/state.toml'"


def test_other_errors_are_not_the_hardwares(gpio):
    assert gpio.as_hardware_error(TypeError("bug")) is None
    assert gpio.as_hardware_error(KeyError("bug")) is None
    same = HardwareError("already one")
    assert gpio.as_hardware_error(same) is same


async def test_a_bug_inside_a_guard_is_not_mistaken_for_the_hardware(gpio, serve, caplog):
    driver = leds(gpio)
    client = await outputs_connected(serve, driver)

    def bug() -> None:
        raise TypeError("unsupported operand")

    driver.outputs[0].device = type("Broken", (), {"on": staticmethod(bug)})()
    await client.send(switch("DIGITAL_OUTPUT_1", True))
    answer = await client.expect(is_set(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert answer.state == ALERT
    assert "the driver failed to handle the request (TypeError: unsupported operand)" in (
        answer.message
    )
    assert errors(caplog, "rxevent failed on DIGITAL_OUTPUT_1")
