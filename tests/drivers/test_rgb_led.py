"""The RGB LED driver on the mock pin factory, through a real server socket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

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
from pi_indi_drivers.rgb_led import RGBLEDDriver, RGBLEDOptions
from tests.drivers.conftest import SavedStates, make_context, update

DEVICE = "Status light"
PINS = {"red": "GPIO9", "green": "GPIO10", "blue": "GPIO11"}
ON, OFF = SwitchState.ON, SwitchState.OFF


def make(
    gpio: Any,
    saved: dict[str, Any] | None = None,
    store: SavedStates | None = None,
    **options: Any,
) -> RGBLEDDriver:
    options = {**PINS, **options}
    return RGBLEDDriver(make_context(gpio, DEVICE, RGBLEDOptions(**options), saved, store))


def rgb(gpio: Any) -> tuple[float, ...]:
    return tuple(round(float(gpio.factory.pin(pin).state), 6) for pin in PINS.values())


def set_switch(**values: SwitchState) -> NewSwitchVector:
    return NewSwitchVector(device=DEVICE, name="DIGITAL_OUTPUT_1", values=dict(values))


def set_color(**values: float) -> NewNumberVector:
    return NewNumberVector(
        device=DEVICE, name="RGB_COLOR", values={k: str(v) for k, v in values.items()}
    )


async def started(serve: Any, driver: RGBLEDDriver) -> Any:
    client = await serve(driver)
    await client.expect(update(DefNumberVector, "RGB_COLOR"))
    return client


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        pytest.param({}, [], id="fine"),
        pytest.param(
            {"blue": "GPIO9"},
            [("red", "red, green and blue must be three different pins")],
            id="same-pin",
        ),
        pytest.param(
            {"initial_color": (1.0, 2.0)},
            [("initial_color", "has 2 values, not [red, green, blue]")],
            id="two-values",
        ),
        pytest.param(
            {"pwm": False, "initial_color": (50.0, 0.0, 0.0)},
            [("initial_color", "without PWM each colour is 0 or 100")],
            id="no-pwm",
        ),
    ],
)
def test_options_problems(options, problems):
    assert RGBLEDOptions(**{**PINS, **options}).problems() == problems


async def test_defines_power_and_colour(gpio, serve):
    client = await serve(make(gpio, initial_color=(10.0, 20.0, 30.0)))
    switch = await client.expect(update(DefSwitchVector, "DIGITAL_OUTPUT_1"))
    assert {m.name: m.value for m in switch.members} == {"OFF": OFF, "ON": ON}
    color = await client.expect(update(DefNumberVector, "RGB_COLOR"))
    assert {m.name: float(m.value) for m in color.members} == {
        "RED": 10,
        "GREEN": 20,
        "BLUE": 30,
    }
    assert rgb(gpio) == (0.1, 0.2, 0.3)


async def test_a_colour_sets_the_three_pins(gpio, serve):
    client = await started(serve, make(gpio))
    await client.send(set_color(RED=100, GREEN=50, BLUE=0))
    answer = await client.expect(update(SetNumberVector, "RGB_COLOR"))
    assert answer.state == PropertyState.OK
    switch = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert switch.values == {"OFF": OFF, "ON": ON}
    assert rgb(gpio) == (1.0, 0.5, 0.0)


async def test_one_channel_keeps_the_others(gpio, serve):
    client = await started(serve, make(gpio, initial_color=(10.0, 20.0, 30.0)))
    await client.send(set_color(GREEN=80))
    await client.expect(update(SetNumberVector, "RGB_COLOR", PropertyState.OK))
    assert rgb(gpio) == (0.1, 0.8, 0.3)


async def test_off_keeps_the_colour_that_on_returns_to(gpio, serve):
    client = await started(serve, make(gpio, initial_color=(0.0, 40.0, 0.0)))
    await client.send(set_switch(OFF=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    color = await client.expect(update(SetNumberVector, "RGB_COLOR"))
    assert float(color.values["GREEN"]) == 40
    assert rgb(gpio) == (0, 0, 0)
    await client.send(set_switch(ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert rgb(gpio) == (0, 0.4, 0)


async def test_on_when_black_is_white(gpio, serve):
    client = await started(serve, make(gpio))
    await client.send(set_switch(ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert rgb(gpio) == (1, 1, 1)


async def test_black_turns_off(gpio, serve):
    client = await started(serve, make(gpio, initial_color=(5.0, 5.0, 5.0)))
    await client.send(set_color(RED=0, GREEN=0, BLUE=0))
    await client.expect(update(SetNumberVector, "RGB_COLOR", PropertyState.OK))
    switch = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert switch.values == {"OFF": ON, "ON": OFF}


async def test_common_anode_inverts(gpio, serve):
    client = await started(serve, make(gpio, active_high=False))
    assert rgb(gpio) == (1, 1, 1)
    await client.send(set_color(RED=100, GREEN=25, BLUE=0))
    await client.expect(update(SetNumberVector, "RGB_COLOR", PropertyState.OK))
    assert rgb(gpio) == (0, 0.75, 1)


async def test_without_pwm_channels_are_on_or_off(gpio, serve):
    client = await started(serve, make(gpio, pwm=False))
    await client.send(set_color(RED=100, BLUE=100))
    await client.expect(update(SetNumberVector, "RGB_COLOR", PropertyState.OK))
    assert rgb(gpio) == (1, 0, 1)
    await client.send(set_color(GREEN=50))
    answer = await client.expect(update(SetNumberVector, "RGB_COLOR"))
    assert answer.state == PropertyState.ALERT
    assert "0 or 100" in answer.message
    assert float(answer.values["GREEN"]) == 0
    assert rgb(gpio) == (1, 0, 1)


async def test_out_of_range_is_refused(gpio, serve):
    client = await started(serve, make(gpio))
    await client.send(set_color(RED=150))
    answer = await client.expect(update(SetNumberVector, "RGB_COLOR"))
    assert answer.state == PropertyState.ALERT
    assert "outside" in answer.message
    assert rgb(gpio) == (0, 0, 0)


async def test_hardware_error_becomes_alert(gpio, serve, monkeypatch):
    driver = make(gpio)
    client = await started(serve, driver)

    def refuse(value: float) -> None:
        raise OSError("GPIO not allocated")  # what lgpio says for a line it lost

    monkeypatch.setattr(gpio.factory.pin("GPIO9"), "_set_state", refuse)
    await client.send(set_color(RED=10))
    answer = await client.expect(update(SetNumberVector, "RGB_COLOR"))
    assert answer.state == PropertyState.ALERT
    assert "GPIO not allocated" in answer.message
    assert float(answer.values["RED"]) == 0
    await client.send(set_switch(ON=ON))
    switch = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert switch.state == PropertyState.ALERT


@pytest.mark.parametrize(("safe_state", "expected"), [("off", (0, 0, 0)), ("on", (0, 0.3, 0))])
async def test_safe_state_on_stop(gpio, serve, monkeypatch, safe_state, expected):
    driver = make(gpio, safe_state=safe_state, initial_color=(0.0, 30.0, 0.0))
    levels: list[tuple[float, ...]] = []
    release = driver.close_hardware

    def close_hardware() -> None:
        levels.append(rgb(gpio))  # closing a mock pin makes it an input
        release()

    monkeypatch.setattr(driver, "close_hardware", close_hardware)
    client = await started(serve, driver)
    await client.send(set_switch(OFF=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    driver.shutdown()
    async with asyncio.timeout(3):
        await driver.stopped.wait()
    assert levels == [expected]


async def test_state_is_saved_and_restored(gpio, serve):
    store = SavedStates()
    driver = make(gpio, store=store)
    client = await started(serve, driver)
    await client.send(set_color(RED=20, GREEN=40, BLUE=60))
    await client.expect(update(SetNumberVector, "RGB_COLOR", PropertyState.OK))
    saved = store.states[DEVICE]
    assert saved == {"on": True, "red": 20.0, "green": 40.0, "blue": 60.0}
    driver.shutdown()
    async with asyncio.timeout(3):
        await driver.stopped.wait()
    again = make(gpio, saved=saved)
    assert again.is_on
    assert rgb(gpio) == (0.2, 0.4, 0.6)


def test_saved_state_off_restores_dark_with_the_colour(gpio):
    driver = make(gpio, saved={"on": False, "red": 70.0, "green": 0.0, "blue": 0.0})
    assert not driver.is_on
    assert rgb(gpio) == (0, 0, 0)
    assert driver.color.getfloatvalue("RED") == 70


def test_unusable_saved_state_falls_back_to_the_options(gpio):
    make(gpio, saved={"on": "yes", "red": 500, "green": "x"}, initial_color=(0.0, 0.0, 10.0))
    assert rgb(gpio) == (0, 0, 0.1)


def test_restore_false_ignores_the_saved_state(gpio):
    make(gpio, saved={"on": True, "red": 70.0, "green": 0.0, "blue": 0.0}, restore=False)
    assert rgb(gpio) == (0, 0, 0)


# -- requests that ask for nothing (libindi IUUpdate* with no member) --


async def test_an_empty_switch_request_leaves_the_rgb_led_on(gpio, serve):
    client = await started(serve, make(gpio))
    await client.send(NewSwitchVector(device=DEVICE, name="DIGITAL_OUTPUT_1", values={"ON": ON}))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    red = gpio.factory.pin(PINS["red"])
    lit = red.state
    assert lit > 0
    for values in ({}, {"OFF": OFF}):
        await client.send(NewSwitchVector(device=DEVICE, name="DIGITAL_OUTPUT_1", values=values))
        answer = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
        assert answer.values["ON"] == ON
        assert red.state == lit
