"""The motor driver on the mock pin factory, through a real server socket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pi_indi.errors import HardwareError
from pi_indi.protocol import (
    DefNumberVector,
    DefSwitchVector,
    NewNumberVector,
    NewSwitchVector,
    PropertyState,
    SetNumberVector,
    SetSwitchVector,
    SwitchState,
)
from pi_indi_drivers.motor import MotorDriver, MotorOptions
from tests.drivers.conftest import SavedStates, make_context, update

DEVICE = "Focuser motor"
FORWARD, BACKWARD, ENABLE = "GPIO22", "GPIO23", "GPIO24"
ON, OFF = SwitchState.ON, SwitchState.OFF


def make(
    gpio: Any,
    saved: dict[str, Any] | None = None,
    store: SavedStates | None = None,
    **options: Any,
) -> MotorDriver:
    options = {"forward": FORWARD, "backward": BACKWARD, **options}
    return MotorDriver(make_context(gpio, DEVICE, MotorOptions(**options), saved, store))


def level(gpio: Any, pin: str) -> float:
    return float(gpio.factory.pin(pin).state)


def drive(gpio: Any) -> tuple[float, float]:
    return level(gpio, FORWARD), level(gpio, BACKWARD)


def set_speed(speed: float) -> NewNumberVector:
    return NewNumberVector(device=DEVICE, name="MOTOR_SPEED", values={"SPEED": str(speed)})


def press_stop(value: SwitchState = ON) -> NewSwitchVector:
    return NewSwitchVector(device=DEVICE, name="MOTOR_STOP", values={"STOP": value})


async def started(serve: Any, driver: MotorDriver) -> Any:
    client = await serve(driver)
    await client.expect(update(DefSwitchVector, "MOTOR_STOP"))
    return client


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        pytest.param({}, [], id="fine"),
        pytest.param({"enable": ENABLE}, [], id="fine-enable"),
        pytest.param(
            {"enable": FORWARD},
            [("backward", "forward, backward and enable must be different pins")],
            id="enable-is-forward",
        ),
    ],
)
def test_options_problems(options, problems):
    assert MotorOptions(forward=FORWARD, backward=BACKWARD, **options).problems() == problems


async def test_defines_speed_and_stop(gpio, serve):
    client = await serve(make(gpio))
    speed = await client.expect(update(DefNumberVector, "MOTOR_SPEED"))
    (member,) = speed.members
    assert (member.name, member.min, member.max, float(member.value)) == ("SPEED", "-1", "1", 0)
    stop = await client.expect(update(DefSwitchVector, "MOTOR_STOP"))
    assert [(m.name, m.value) for m in stop.members] == [("STOP", OFF)]
    assert drive(gpio) == (0, 0)


async def test_speed_drives_forward_and_backward(gpio, serve):
    client = await started(serve, make(gpio))
    await client.send(set_speed(0.6))
    answer = await client.expect(update(SetNumberVector, "MOTOR_SPEED"))
    assert answer.state == PropertyState.OK
    assert float(answer.values["SPEED"]) == pytest.approx(0.6)
    assert drive(gpio) == pytest.approx((0.6, 0))
    await client.send(set_speed(-0.25))
    await client.expect(update(SetNumberVector, "MOTOR_SPEED", PropertyState.OK))
    assert drive(gpio) == pytest.approx((0, 0.25))


async def test_stop_button(gpio, serve):
    client = await started(serve, make(gpio))
    await client.send(set_speed(1))
    await client.expect(update(SetNumberVector, "MOTOR_SPEED", PropertyState.OK))
    await client.send(press_stop())
    stop = await client.expect(update(SetSwitchVector, "MOTOR_STOP"))
    assert stop.state == PropertyState.OK
    assert stop.values == {"STOP": OFF}  # a button: Off again once done
    speed = await client.expect(update(SetNumberVector, "MOTOR_SPEED"))
    assert float(speed.values["SPEED"]) == 0
    assert drive(gpio) == (0, 0)


async def test_releasing_the_stop_button_is_acknowledged(gpio, serve):
    client = await started(serve, make(gpio))
    await client.send(set_speed(0.5))
    await client.expect(update(SetNumberVector, "MOTOR_SPEED", PropertyState.OK))
    await client.send(press_stop(OFF))
    stop = await client.expect(update(SetSwitchVector, "MOTOR_STOP"))
    assert stop.state == PropertyState.OK
    assert drive(gpio) == pytest.approx((0.5, 0))


async def test_enable_pin_is_on_while_running(gpio, serve):
    client = await started(serve, make(gpio, enable=ENABLE))
    await client.send(set_speed(-0.5))
    await client.expect(update(SetNumberVector, "MOTOR_SPEED", PropertyState.OK))
    assert drive(gpio) == pytest.approx((0, 0.5))
    assert level(gpio, ENABLE) == 1


async def test_without_pwm_speed_is_full_or_nothing(gpio, serve):
    client = await started(serve, make(gpio, pwm=False))
    await client.send(set_speed(-1))
    await client.expect(update(SetNumberVector, "MOTOR_SPEED", PropertyState.OK))
    assert drive(gpio) == (0, 1)
    await client.send(set_speed(0.5))
    answer = await client.expect(update(SetNumberVector, "MOTOR_SPEED"))
    assert answer.state == PropertyState.ALERT
    assert "-1, 0 or 1" in answer.message
    assert float(answer.values["SPEED"]) == -1
    assert drive(gpio) == (0, 1)


@pytest.mark.parametrize("speed", [1.5, -1.01])
async def test_out_of_range_speed_is_refused(gpio, serve, speed):
    client = await started(serve, make(gpio))
    await client.send(set_speed(speed))
    answer = await client.expect(update(SetNumberVector, "MOTOR_SPEED"))
    assert answer.state == PropertyState.ALERT
    assert "outside" in answer.message
    assert drive(gpio) == (0, 0)


async def test_hardware_error_becomes_alert(gpio, serve, monkeypatch):
    client = await started(serve, make(gpio))

    def refuse(value: float) -> None:
        raise OSError("GPIO not allocated")  # what lgpio says for a line it lost

    monkeypatch.setattr(gpio.factory.pin(FORWARD), "_set_state", refuse)
    await client.send(set_speed(0.5))
    answer = await client.expect(update(SetNumberVector, "MOTOR_SPEED"))
    assert answer.state == PropertyState.ALERT
    assert "GPIO not allocated" in answer.message
    assert float(answer.values["SPEED"]) == 0
    await client.send(press_stop())
    stop = await client.expect(update(SetSwitchVector, "MOTOR_STOP"))
    assert stop.state == PropertyState.ALERT
    assert "GPIO not allocated" in stop.message


def test_shared_pin_is_a_hardware_error(gpio):
    gpio.create("LED", pin=BACKWARD)
    with pytest.raises(HardwareError):
        make(gpio)
    gpio.create("LED", pin=FORWARD)  # released by the failed driver


async def test_stops_on_stop(gpio, serve, monkeypatch):
    driver = make(gpio)
    levels: list[tuple[float, float]] = []
    release = driver.close_hardware

    def close_hardware() -> None:
        levels.append(drive(gpio))  # closing a mock pin makes it an input
        release()

    monkeypatch.setattr(driver, "close_hardware", close_hardware)
    client = await started(serve, driver)
    await client.send(set_speed(0.8))
    await client.expect(update(SetNumberVector, "MOTOR_SPEED", PropertyState.OK))
    driver.shutdown()
    async with asyncio.timeout(3):
        await driver.stopped.wait()
    assert levels == [(0, 0)]


async def test_speed_is_saved(gpio, serve):
    store = SavedStates()
    client = await started(serve, make(gpio, store=store))
    await client.send(set_speed(-0.3))
    await client.expect(update(SetNumberVector, "MOTOR_SPEED", PropertyState.OK))
    assert store.states[DEVICE] == {"speed": -0.3}
    await client.send(press_stop())
    await client.expect(update(SetSwitchVector, "MOTOR_STOP", PropertyState.OK))
    assert store.states[DEVICE] == {"speed": 0.0}


def test_saved_speed_is_not_restored_by_default(gpio):
    driver = make(gpio, saved={"speed": 0.7})
    assert drive(gpio) == (0, 0)
    assert driver.speed.getfloatvalue("SPEED") == 0


def test_saved_speed_is_restored_when_asked(gpio):
    driver = make(gpio, saved={"speed": 0.7}, restore=True)
    assert drive(gpio) == pytest.approx((0.7, 0))
    assert driver.speed.getfloatvalue("SPEED") == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("saved", "options"),
    [
        pytest.param({"speed": 3}, {}, id="out-of-range"),
        pytest.param({"speed": "fast"}, {}, id="not-a-number"),
        pytest.param({"speed": 0.5}, {"pwm": False}, id="no-pwm"),
    ],
)
def test_unusable_saved_speed_means_stopped(gpio, saved, options):
    make(gpio, saved=saved, restore=True, **options)
    assert drive(gpio) == (0, 0)
