"""PWM LED and PWM output drivers on the mock pin factory, through a real server socket."""

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
from pi_indi_drivers.pwm_output import PWMLEDDriver, PWMOptions, PWMOutputDriver
from tests.drivers.conftest import SavedStates, make_context, update

DEVICE = "Dew heater"
PIN = "GPIO18"
ON, OFF = SwitchState.ON, SwitchState.OFF


def make(
    gpio: Any,
    cls: type[PWMOutputDriver] = PWMOutputDriver,
    saved: dict[str, Any] | None = None,
    store: SavedStates | None = None,
    **options: Any,
) -> PWMOutputDriver:
    options.setdefault("pin", PIN)
    return cls(make_context(gpio, DEVICE, PWMOptions(**options), saved, store))


def duty(gpio: Any) -> float:
    return float(gpio.factory.pin(PIN).state)


def set_switch(**values: SwitchState) -> NewSwitchVector:
    return NewSwitchVector(device=DEVICE, name="DIGITAL_OUTPUT_1", values=dict(values))


def set_numbers(**values: float) -> NewNumberVector:
    return NewNumberVector(
        device=DEVICE, name="PWM_OUTPUT_1", values={k: str(v) for k, v in values.items()}
    )


async def started(serve: Any, driver: PWMOutputDriver) -> Any:
    client = await serve(driver)
    await client.expect(update(DefNumberVector, "PWM_OUTPUT_1"))
    return client


async def test_defines_switch_and_numbers(gpio, serve):
    client = await serve(make(gpio, frequency=250))
    switch = await client.expect(update(DefSwitchVector, "DIGITAL_OUTPUT_1"))
    assert switch.rule == "AtMostOne"
    assert {m.name: m.value for m in switch.members} == {"OFF": ON, "ON": OFF}
    numbers = await client.expect(update(DefNumberVector, "PWM_OUTPUT_1"))
    members = {m.name: m for m in numbers.members}
    assert (members["DUTY_CYCLE"].min, members["DUTY_CYCLE"].max) == ("0", "100")
    assert float(members["FREQUENCY"].value) == 250
    assert gpio.factory.pin(PIN).frequency == 250


@pytest.mark.parametrize("cls", [PWMOutputDriver, PWMLEDDriver])
async def test_a_duty_cycle_sets_the_pwm_value_and_turns_on(gpio, serve, cls):
    client = await started(serve, make(gpio, cls))
    await client.send(set_numbers(DUTY_CYCLE=40))
    answer = await client.expect(update(SetNumberVector, "PWM_OUTPUT_1"))
    assert answer.state == PropertyState.OK
    assert float(answer.values["DUTY_CYCLE"]) == 40
    switch = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert switch.values == {"OFF": OFF, "ON": ON}
    assert duty(gpio) == pytest.approx(0.4)


async def test_off_keeps_the_duty_cycle_that_on_returns_to(gpio, serve):
    client = await started(serve, make(gpio, initial_duty=30))
    assert duty(gpio) == pytest.approx(0.3)
    await client.send(set_switch(OFF=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    numbers = await client.expect(update(SetNumberVector, "PWM_OUTPUT_1"))
    assert float(numbers.values["DUTY_CYCLE"]) == 30
    assert duty(gpio) == 0
    await client.send(set_switch(ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert duty(gpio) == pytest.approx(0.3)


async def test_on_with_zero_duty_means_full(gpio, serve):
    client = await started(serve, make(gpio))
    await client.send(set_switch(ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    numbers = await client.expect(update(SetNumberVector, "PWM_OUTPUT_1"))
    assert float(numbers.values["DUTY_CYCLE"]) == 100
    assert duty(gpio) == 1


async def test_zero_duty_turns_off(gpio, serve):
    client = await started(serve, make(gpio, initial_duty=50))
    await client.send(set_numbers(DUTY_CYCLE=0))
    await client.expect(update(SetNumberVector, "PWM_OUTPUT_1", PropertyState.OK))
    switch = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert switch.values == {"OFF": ON, "ON": OFF}
    assert duty(gpio) == 0


async def test_frequency_alone_keeps_the_duty(gpio, serve):
    client = await started(serve, make(gpio, initial_duty=20))
    await client.send(set_numbers(FREQUENCY=1000))
    answer = await client.expect(update(SetNumberVector, "PWM_OUTPUT_1", PropertyState.OK))
    assert float(answer.values["FREQUENCY"]) == 1000
    assert gpio.factory.pin(PIN).frequency == 1000
    assert duty(gpio) == pytest.approx(0.2)


async def test_active_low_inverts_the_duty(gpio, serve):
    client = await started(serve, make(gpio, active_high=False))
    assert duty(gpio) == 1
    await client.send(set_numbers(DUTY_CYCLE=25))
    await client.expect(update(SetNumberVector, "PWM_OUTPUT_1", PropertyState.OK))
    assert duty(gpio) == pytest.approx(0.75)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"DUTY_CYCLE": 101}, id="duty-high"),
        pytest.param({"DUTY_CYCLE": -1}, id="duty-low"),
        pytest.param({"FREQUENCY": 0}, id="frequency-low"),
        pytest.param({"FREQUENCY": 20_000}, id="frequency-high"),
    ],
)
async def test_out_of_range_is_refused(gpio, serve, values):
    client = await started(serve, make(gpio, initial_duty=10))
    await client.send(set_numbers(**values))
    answer = await client.expect(update(SetNumberVector, "PWM_OUTPUT_1"))
    assert answer.state == PropertyState.ALERT
    assert "outside" in answer.message
    assert duty(gpio) == pytest.approx(0.1)
    assert gpio.factory.pin(PIN).frequency == 100


async def test_hardware_error_becomes_alert(gpio, serve):
    driver = make(gpio)
    client = await started(serve, driver)
    driver.pwm.close()
    await client.send(set_numbers(DUTY_CYCLE=50))
    answer = await client.expect(update(SetNumberVector, "PWM_OUTPUT_1"))
    assert answer.state == PropertyState.ALERT
    assert "closed" in answer.message
    assert float(answer.values["DUTY_CYCLE"]) == 0  # unchanged
    await client.send(set_switch(ON=ON))
    switch = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert switch.state == PropertyState.ALERT
    assert switch.values["ON"] == OFF


@pytest.mark.parametrize(("safe_state", "expected"), [("off", 0.0), ("on", 0.6)])
async def test_safe_state_on_stop(gpio, serve, monkeypatch, safe_state, expected):
    driver = make(gpio, safe_state=safe_state)
    levels: list[float] = []
    release = driver.close_hardware

    def close_hardware() -> None:
        levels.append(duty(gpio))  # closing a mock pin makes it an input
        release()

    monkeypatch.setattr(driver, "close_hardware", close_hardware)
    client = await started(serve, driver)
    await client.send(set_numbers(DUTY_CYCLE=60))
    await client.expect(update(SetNumberVector, "PWM_OUTPUT_1", PropertyState.OK))
    await client.send(set_switch(OFF=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    driver.shutdown()
    async with asyncio.timeout(3):
        await driver.stopped.wait()
    assert levels == [pytest.approx(expected)]


async def test_state_is_saved_and_restored(gpio, serve):
    store = SavedStates()
    driver = make(gpio, store=store)
    client = await started(serve, driver)
    await client.send(set_numbers(DUTY_CYCLE=35, FREQUENCY=500))
    await client.expect(update(SetNumberVector, "PWM_OUTPUT_1", PropertyState.OK))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert store.states[DEVICE] == {"on": True, "duty": 35.0, "frequency": 500.0}
    await client.send(set_switch(OFF=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    saved = store.states[DEVICE]
    assert saved == {"on": False, "duty": 35.0, "frequency": 500.0}

    driver.shutdown()
    async with asyncio.timeout(3):
        await driver.stopped.wait()
    again = make(gpio, saved={**saved, "on": True})
    assert duty(gpio) == pytest.approx(0.35)
    assert gpio.factory.pin(PIN).frequency == 500
    assert again.is_on


@pytest.mark.parametrize(
    "saved",
    [
        pytest.param({"duty": 300, "frequency": "fast", "on": "yes"}, id="nonsense"),
        pytest.param({}, id="empty"),
    ],
)
def test_unusable_saved_state_falls_back_to_the_options(gpio, saved):
    driver = make(gpio, saved=saved, initial_duty=15, frequency=50)
    assert driver.is_on
    assert duty(gpio) == pytest.approx(0.15)
    assert gpio.factory.pin(PIN).frequency == 50


def test_restore_false_ignores_the_saved_state(gpio):
    driver = make(gpio, saved={"on": True, "duty": 80.0, "frequency": 100.0}, restore=False)
    assert not driver.is_on
    assert duty(gpio) == 0


async def test_pulse_mode_turns_the_output_off_after_the_duration(gpio, serve):
    # libindi's OutputInterface pulse mode (indioutputinterface.cpp): PULSE_0.DURATION
    # is a setting; ON with a duration above 0 turns the output off after it.
    client = await started(serve, make(gpio, initial_duty=40))
    await client.send(NewNumberVector(device=DEVICE, name="PULSE_0", values={"DURATION": "100"}))
    await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.OK))
    await client.send(set_switch(OFF=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    await client.send(set_switch(ON=ON))
    await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.BUSY))
    assert duty(gpio) == pytest.approx(0.4)
    done = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert done.values == {"OFF": ON, "ON": OFF}
    await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.OK))
    assert duty(gpio) == 0


# -- requests that ask for nothing (libindi IUUpdate* with no member) --


async def test_an_empty_switch_request_leaves_the_pwm_output_on(gpio, serve):
    client = await started(serve, make(gpio))
    await client.send(set_switch(ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert duty(gpio) == 1.0
    for values in ({}, {"OFF": OFF}):
        await client.send(NewSwitchVector(device=DEVICE, name="DIGITAL_OUTPUT_1", values=values))
        answer = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
        assert answer.values["ON"] == ON
        assert duty(gpio) == 1.0
