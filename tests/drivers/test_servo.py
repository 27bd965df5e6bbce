"""Servo and angular servo drivers on the mock pin factory, through a real server socket."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest
from gpiozero.exc import PWMSoftwareFallback

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
from pi_indi_drivers.servo import (
    AngularServoDriver,
    AngularServoOptions,
    ServoDriver,
    ServoOptions,
)
from tests.drivers.conftest import SavedStates, make_context, update

DEVICE = "Dust cap"
PIN = "GPIO12"
ON, OFF = SwitchState.ON, SwitchState.OFF
# The mock pin's duty cycle: pulse width / 20 ms frame.
MID, MIN, MAX = 0.075, 0.05, 0.1


def servo(
    gpio: Any, saved: dict[str, Any] | None = None, store: SavedStates | None = None, **options: Any
) -> ServoDriver:
    options.setdefault("pin", PIN)
    return ServoDriver(make_context(gpio, DEVICE, ServoOptions(**options), saved, store))


def angular(
    gpio: Any, saved: dict[str, Any] | None = None, store: SavedStates | None = None, **options: Any
) -> AngularServoDriver:
    options.setdefault("pin", PIN)
    return AngularServoDriver(
        make_context(gpio, DEVICE, AngularServoOptions(**options), saved, store)
    )


def duty(gpio: Any) -> float:
    return float(gpio.factory.pin(PIN).state)


def set_number(name: str, member: str, value: float) -> NewNumberVector:
    return NewNumberVector(device=DEVICE, name=name, values={member: str(value)})


def set_attach(**values: SwitchState) -> NewSwitchVector:
    return NewSwitchVector(device=DEVICE, name="SERVO_ATTACH", values=dict(values))


async def started(serve: Any, driver: ServoDriver) -> Any:
    client = await serve(driver)
    await client.expect(update(DefSwitchVector, "SERVO_ATTACH"))
    return client


# -- options --


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        pytest.param({}, [], id="fine"),
        pytest.param(
            {"min_pulse_width": 2.0, "max_pulse_width": 1.0},
            [("min_pulse_width", "must be less than max_pulse_width")],
            id="pulses",
        ),
        pytest.param(
            {"max_pulse_width": 5.0, "frame_width": 4.0},
            [("max_pulse_width", "must be less than frame_width")],
            id="frame",
        ),
    ],
)
def test_servo_options_problems(options, problems):
    assert ServoOptions(pin=PIN, **options).problems() == problems


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        pytest.param({"min_angle": 0.0, "max_angle": 180.0, "initial_angle": 90.0}, [], id="fine"),
        pytest.param(
            {"min_angle": 45.0, "max_angle": 45.0},
            [("max_angle", "must differ from min_angle")],
            id="same",
        ),
        pytest.param(
            {"min_angle": 90.0, "max_angle": -90.0, "initial_angle": 100.0},
            [("initial_angle", "is outside -90..90")],
            id="outside-reversed",
        ),
    ],
)
def test_angular_options_problems(options, problems):
    assert AngularServoOptions(pin=PIN, **options).problems() == problems


# -- Servo --


async def test_servo_starts_detached_and_defines_its_vectors(gpio, serve):
    client = await serve(servo(gpio))
    position = await client.expect(update(DefNumberVector, "SERVO_POSITION"))
    (member,) = position.members
    assert (member.name, member.min, member.max, float(member.value)) == ("VALUE", "-1", "1", 0)
    attach = await client.expect(update(DefSwitchVector, "SERVO_ATTACH"))
    assert attach.rule == "OneOfMany"
    assert {m.name: m.value for m in attach.members} == {"ATTACH": OFF, "DETACH": ON}
    assert duty(gpio) == 0  # no pulses


async def test_a_position_moves_the_servo_and_attaches(gpio, serve):
    client = await started(serve, servo(gpio))
    await client.send(set_number("SERVO_POSITION", "VALUE", 1))
    answer = await client.expect(update(SetNumberVector, "SERVO_POSITION"))
    assert answer.state == PropertyState.OK
    assert float(answer.values["VALUE"]) == 1
    attach = await client.expect(update(SetSwitchVector, "SERVO_ATTACH"))
    assert attach.values == {"ATTACH": ON, "DETACH": OFF}
    assert duty(gpio) == pytest.approx(MAX)
    assert gpio.factory.pin(PIN).frequency == 50
    await client.send(set_number("SERVO_POSITION", "VALUE", -1))
    await client.expect(update(SetNumberVector, "SERVO_POSITION", PropertyState.OK))
    assert duty(gpio) == pytest.approx(MIN)


async def test_detach_stops_the_pulses_and_attach_returns(gpio, serve):
    client = await started(serve, servo(gpio, initial_value=0.5))
    assert duty(gpio) == pytest.approx(0.0875)
    await client.send(set_attach(DETACH=ON))
    answer = await client.expect(update(SetSwitchVector, "SERVO_ATTACH"))
    assert answer.state == PropertyState.OK
    assert answer.values == {"ATTACH": OFF, "DETACH": ON}
    assert duty(gpio) == 0
    await client.send(set_attach(ATTACH=ON))
    await client.expect(update(SetSwitchVector, "SERVO_ATTACH", PropertyState.OK))
    assert duty(gpio) == pytest.approx(0.0875)


async def test_pulse_widths_are_options_in_ms(gpio, serve):
    client = await started(serve, servo(gpio, min_pulse_width=0.5, max_pulse_width=2.5))
    await client.send(set_number("SERVO_POSITION", "VALUE", 1))
    await client.expect(update(SetNumberVector, "SERVO_POSITION", PropertyState.OK))
    assert duty(gpio) == pytest.approx(2.5 / 20)


@pytest.mark.parametrize("value", [1.01, -2])
async def test_out_of_range_position_is_refused(gpio, serve, value):
    client = await started(serve, servo(gpio, initial_value=0.0))
    await client.send(set_number("SERVO_POSITION", "VALUE", value))
    answer = await client.expect(update(SetNumberVector, "SERVO_POSITION"))
    assert answer.state == PropertyState.ALERT
    assert "outside" in answer.message
    assert duty(gpio) == pytest.approx(MID)


async def test_hardware_error_becomes_alert(gpio, serve, monkeypatch):
    client = await started(serve, servo(gpio, initial_value=0.0))

    def refuse(value: float) -> None:
        raise OSError("GPIO not allocated")  # what lgpio says for a line it lost

    monkeypatch.setattr(gpio.factory.pin(PIN), "_set_state", refuse)
    await client.send(set_number("SERVO_POSITION", "VALUE", 0.5))
    answer = await client.expect(update(SetNumberVector, "SERVO_POSITION"))
    assert answer.state == PropertyState.ALERT
    assert "GPIO not allocated" in answer.message
    assert float(answer.values["VALUE"]) == 0
    # The driver keeps serving: detaching (stopping the PWM) still works.
    await client.send(set_attach(DETACH=ON))
    attach = await client.expect(update(SetSwitchVector, "SERVO_ATTACH"))
    assert attach.state == PropertyState.OK
    assert gpio.factory.pin(PIN).frequency is None


async def test_detaches_on_stop(gpio, serve, monkeypatch):
    driver = servo(gpio, initial_value=0.0)
    levels: list[float] = []
    release = driver.close_hardware

    def close_hardware() -> None:
        levels.append(duty(gpio))  # closing a mock pin makes it an input
        release()

    monkeypatch.setattr(driver, "close_hardware", close_hardware)
    await started(serve, driver)
    driver.shutdown()
    async with asyncio.timeout(3):
        await driver.stopped.wait()
    assert levels == [0]


async def test_state_is_saved_and_restored(gpio, serve):
    store = SavedStates()
    driver = servo(gpio, store=store)
    client = await started(serve, driver)
    await client.send(set_number("SERVO_POSITION", "VALUE", -0.5))
    await client.expect(update(SetNumberVector, "SERVO_POSITION", PropertyState.OK))
    await client.expect(update(SetSwitchVector, "SERVO_ATTACH", PropertyState.OK))
    saved = store.states[DEVICE]
    assert saved == {"attached": True, "position": -0.5}
    await client.send(set_attach(DETACH=ON))
    await client.expect(update(SetSwitchVector, "SERVO_ATTACH", PropertyState.OK))
    assert store.states[DEVICE] == {"attached": False, "position": -0.5}
    driver.shutdown()
    async with asyncio.timeout(3):
        await driver.stopped.wait()
    again = servo(gpio, saved=saved)
    assert again.attached
    assert duty(gpio) == pytest.approx(0.0625)


def test_unusable_saved_state_falls_back_to_the_options(gpio):
    driver = servo(gpio, saved={"attached": "yes", "position": 7}, initial_value=1.0)
    assert driver.attached
    assert duty(gpio) == pytest.approx(MAX)


def test_restore_false_ignores_the_saved_state(gpio):
    driver = servo(gpio, saved={"attached": True, "position": 1.0}, restore=False)
    assert not driver.attached
    assert duty(gpio) == 0


def test_software_pwm_warning_is_expected_and_dropped(gpio, monkeypatch):
    create = gpio.create

    def create_like_gpiozero_2_0_1(class_name: str, /, **kwargs: Any) -> Any:
        # gpiozero 2.0.1 (not post3) warns this for each Servo off pigpio.
        warnings.warn(
            PWMSoftwareFallback("To reduce servo jitter, use the pigpio pin factory."),
            stacklevel=2,
        )
        return create(class_name, **kwargs)

    monkeypatch.setattr(gpio, "create", create_like_gpiozero_2_0_1)
    # Warnings are errors in this test suite: this would raise if not handled.
    driver = servo(gpio, initial_value=0.0)
    assert driver.attached


def test_other_warnings_still_surface(gpio, monkeypatch):
    create = gpio.create

    def create_warning_otherwise(class_name: str, /, **kwargs: Any) -> Any:
        warnings.warn("something else", RuntimeWarning, stacklevel=2)
        return create(class_name, **kwargs)

    monkeypatch.setattr(gpio, "create", create_warning_otherwise)
    with pytest.warns(RuntimeWarning, match="something else"):
        servo(gpio)


# -- AngularServo --


async def test_angle_moves_the_servo(gpio, serve):
    client = await serve(angular(gpio, min_angle=0.0, max_angle=180.0, initial_angle=90.0))
    position = await client.expect(update(DefNumberVector, "SERVO_ANGLE"))
    (member,) = position.members
    assert (member.name, member.min, member.max, float(member.value)) == ("ANGLE", "0", "180", 90)
    await client.expect(update(DefSwitchVector, "SERVO_ATTACH"))
    assert duty(gpio) == pytest.approx(MID)
    await client.send(set_number("SERVO_ANGLE", "ANGLE", 180))
    answer = await client.expect(update(SetNumberVector, "SERVO_ANGLE"))
    assert answer.state == PropertyState.OK
    assert duty(gpio) == pytest.approx(MAX)


async def test_reversed_angles_take_the_range_either_way(gpio, serve):
    client = await started(serve, angular(gpio, min_angle=90.0, max_angle=-90.0))
    await client.send(set_number("SERVO_ANGLE", "ANGLE", 90))
    await client.expect(update(SetNumberVector, "SERVO_ANGLE", PropertyState.OK))
    assert duty(gpio) == pytest.approx(MIN)  # min_angle is at the minimum pulse width


async def test_angle_out_of_range_is_refused(gpio, serve):
    client = await started(serve, angular(gpio, min_angle=-45.0, max_angle=45.0))
    await client.send(set_number("SERVO_ANGLE", "ANGLE", 60))
    answer = await client.expect(update(SetNumberVector, "SERVO_ANGLE"))
    assert answer.state == PropertyState.ALERT
    assert "outside -45..45" in answer.message
    assert duty(gpio) == 0


async def test_angular_detach_and_attach(gpio, serve):
    driver = angular(gpio, initial_angle=30.0)
    client = await started(serve, driver)
    await client.send(set_attach(DETACH=ON))
    await client.expect(update(SetSwitchVector, "SERVO_ATTACH", PropertyState.OK))
    assert duty(gpio) == 0
    await client.send(set_attach(ATTACH=ON))
    await client.expect(update(SetSwitchVector, "SERVO_ATTACH", PropertyState.OK))
    assert duty(gpio) == pytest.approx(MID + 0.025 * 30 / 90)


def test_angular_state_is_saved_and_restored(gpio):
    store = SavedStates()
    driver = angular(
        gpio,
        min_angle=10.0,
        max_angle=170.0,
        saved={"attached": True, "position": 170.0},
        store=store,
    )
    assert driver.attached
    assert duty(gpio) == pytest.approx(MAX)
    driver.persist()
    assert store.states[DEVICE] == {"attached": True, "position": 170.0}


def test_angular_without_initial_angle_shows_the_middle(gpio):
    driver = angular(gpio, min_angle=10.0, max_angle=170.0)
    assert not driver.attached
    assert driver.position.getfloatvalue("ANGLE") == 90
