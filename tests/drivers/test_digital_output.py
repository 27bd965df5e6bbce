"""LED, relay and buzzer drivers on the mock pin factory, through a real server socket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pi_indi.errors import HardwareError
from pi_indi.protocol import (
    DefNumberVector,
    DefSwitchVector,
    DefTextVector,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    PropertyState,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    SwitchState,
)
from pi_indi_drivers.digital_output import (
    BuzzerDriver,
    DigitalOutputDriver,
    DigitalOutputOptions,
    LEDDriver,
    RelayDriver,
)
from tests.drivers.conftest import SavedStates, make_context, update

DEVICE = "Outputs"
ON, OFF = SwitchState.ON, SwitchState.OFF


def make(
    gpio: Any,
    cls: type[DigitalOutputDriver] = LEDDriver,
    saved: dict[str, Any] | None = None,
    store: SavedStates | None = None,
    **options: Any,
) -> DigitalOutputDriver:
    options.setdefault("pins", ("GPIO17",))
    return cls(make_context(gpio, DEVICE, DigitalOutputOptions(**options), saved, store))


def level(gpio: Any, pin: str) -> float:
    return float(gpio.factory.pin(pin).state)


def level_at_release(monkeypatch: Any, driver: Any, gpio: Any, pin: str) -> list[float]:
    """The pin's level each time the driver releases its hardware (on stop)."""
    levels: list[float] = []
    release = driver.close_hardware

    def close_hardware() -> None:
        levels.append(level(gpio, pin))
        release()

    monkeypatch.setattr(driver, "close_hardware", close_hardware)
    return levels


def set_switch(name: str, **values: SwitchState) -> NewSwitchVector:
    return NewSwitchVector(device=DEVICE, name=name, values=dict(values))


def set_numbers(name: str, **values: float) -> NewNumberVector:
    return NewNumberVector(device=DEVICE, name=name, values={k: str(v) for k, v in values.items()})


async def started(serve: Any, driver: DigitalOutputDriver) -> Any:
    client = await serve(driver)
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    return client


async def wait_until(condition: Any, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


# -- definitions and options --


async def test_defines_the_output_interface_vectors(gpio, serve):
    driver = make(gpio, pins=("GPIO17", "GPIO27"), labels=("Dew", "Flat"))
    client = await serve(driver)
    switch = await client.expect(update(DefSwitchVector, "DIGITAL_OUTPUT_1"))
    assert switch.rule == "AtMostOne"
    assert switch.perm == "rw"
    assert switch.label == "Dew"
    assert [(m.name, m.value) for m in switch.members] == [("OFF", ON), ("ON", OFF)]
    await client.expect(update(DefSwitchVector, "DIGITAL_OUTPUT_2"))
    pulse = await client.expect(update(DefNumberVector, "PULSE_0"))
    assert [m.name for m in pulse.members] == ["DURATION"]
    await client.expect(update(DefNumberVector, "PULSE_1"))
    blink = await client.expect(update(DefNumberVector, "BLINK_1"))
    assert [m.name for m in blink.members] == ["ON_TIME", "OFF_TIME"]
    labels = await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    assert {m.name: m.value for m in labels.members} == {
        "DIGITAL_OUTPUT_1": "Dew",
        "DIGITAL_OUTPUT_2": "Flat",
    }


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        pytest.param({"pins": ()}, [("pins", "needs at least one pin")], id="no-pins"),
        pytest.param(
            {"pins": ("GPIO17", "GPIO17")}, [("pins", "lists the same pin twice")], id="twice"
        ),
        pytest.param(
            {"pins": ("GPIO17", "GPIO27"), "labels": ("a", "b", "c")},
            [("labels", "has 3 labels for 2 pins")],
            id="labels",
        ),
        pytest.param({"pins": ("GPIO17",), "labels": ("a",)}, [], id="fine"),
    ],
)
def test_options_problems(options, problems):
    assert DigitalOutputOptions(**options).problems() == problems


def test_a_pin_in_use_is_a_hardware_error_and_frees_the_others(gpio):
    gpio.create("LED", pin="GPIO27")
    with pytest.raises(HardwareError):
        make(gpio, pins=("GPIO17", "GPIO27"))
    # GPIO17 was claimed by the failed driver, then released.
    make(gpio, pins=("GPIO17",))


# -- switching --


@pytest.mark.parametrize("cls", [LEDDriver, RelayDriver, BuzzerDriver])
async def test_a_client_switches_the_pin(gpio, serve, cls):
    client = await started(serve, make(gpio, cls))
    assert level(gpio, "GPIO17") == 0
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    answer = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert answer.state == PropertyState.OK
    assert answer.values == {"OFF": OFF, "ON": ON}
    assert level(gpio, "GPIO17") == 1
    await client.send(set_switch("DIGITAL_OUTPUT_1", OFF=ON))
    answer = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert answer.values == {"OFF": ON, "ON": OFF}
    assert level(gpio, "GPIO17") == 0


async def test_turning_on_off_with_nothing_on_means_off(gpio, serve):
    client = await started(serve, make(gpio, initial_value=True))
    assert level(gpio, "GPIO17") == 1
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=OFF))
    answer = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert answer.values["ON"] == OFF
    assert level(gpio, "GPIO17") == 0


async def test_active_low_output_drives_the_pin_low_when_on(gpio, serve):
    client = await started(serve, make(gpio, active_high=False))
    assert level(gpio, "GPIO17") == 1
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert level(gpio, "GPIO17") == 0


async def test_second_output_is_independent(gpio, serve):
    client = await started(serve, make(gpio, pins=("GPIO17", "GPIO27")))
    await client.send(set_switch("DIGITAL_OUTPUT_2", ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_2", PropertyState.OK))
    assert level(gpio, "GPIO27") == 1
    assert level(gpio, "GPIO17") == 0


async def test_two_switches_on_is_refused_by_the_rule(gpio, serve):
    client = await started(serve, make(gpio))
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON, OFF=ON))
    answer = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert answer.state == PropertyState.ALERT
    assert answer.message
    assert level(gpio, "GPIO17") == 0


async def test_hardware_error_becomes_alert_with_message(gpio, serve):
    driver = make(gpio)
    client = await started(serve, driver)
    driver.outputs[0].device.close()  # what a vanished line looks like to gpiozero
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    answer = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert answer.state == PropertyState.ALERT
    assert "closed" in answer.message
    assert answer.values["ON"] == OFF  # the old value, as libindi reverts
    # The driver keeps serving.
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    again = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert again.state == PropertyState.ALERT


# -- pulses: libindi's pulse mode (indioutputinterface.cpp: PULSE_<i> from 0) --


async def set_pulse(client: Any, index: int, duration: float) -> None:
    """Set PULSE_<index>.DURATION (a setting) and wait for its Ok."""
    await client.send(set_numbers(f"PULSE_{index}", DURATION=duration))
    answer = await client.expect(update(SetNumberVector, f"PULSE_{index}"))
    assert answer.state == PropertyState.OK
    assert float(answer.values["DURATION"]) == duration


async def test_pulse_duration_is_a_setting_that_does_not_switch(gpio, serve):
    client = await started(serve, make(gpio))
    await set_pulse(client, 0, 500)
    assert level(gpio, "GPIO17") == 0
    assert await client.silent(update(SetSwitchVector, "DIGITAL_OUTPUT_1"), wait=0.1)


async def test_on_with_a_duration_pulses_without_blocking(gpio, serve):
    client = await started(serve, make(gpio, pins=("GPIO17", "GPIO27")))
    pin = gpio.factory.pin("GPIO17")
    await set_pulse(client, 0, 150)
    pin.clear_states()
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    on = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert on.state == PropertyState.OK  # as libindi: the switch is Ok, the pulse Busy
    assert on.values["ON"] == ON
    pulse = await client.expect(update(SetNumberVector, "PULSE_0"))
    assert pulse.state == PropertyState.BUSY
    assert level(gpio, "GPIO17") == 1
    # The loop is free during the pulse: another output answers at once.
    await client.send(set_switch("DIGITAL_OUTPUT_2", ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_2", PropertyState.OK))
    assert level(gpio, "GPIO17") == 1
    done = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert done.state == PropertyState.OK
    assert done.values == {"OFF": ON, "ON": OFF}
    await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.OK))
    assert level(gpio, "GPIO17") == 0
    states = [s.state for s in pin.states]
    assert states[-2:] == [1, 0]
    elapsed = pin.states[-1].timestamp  # mock pins record the time since the last change
    assert 0.14 <= elapsed < 1.0


async def test_every_on_pulses_while_the_duration_is_set(gpio, serve):
    client = await started(serve, make(gpio))
    await set_pulse(client, 0, 100)
    for _ in range(2):
        await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
        await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.BUSY))
        await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.OK))
        assert level(gpio, "GPIO17") == 0
    await set_pulse(client, 0, 0)  # 0: a plain on again
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert await client.silent(update(SetNumberVector, "PULSE_0"), wait=0.2)
    assert level(gpio, "GPIO17") == 1


async def test_off_cancels_the_pulse(gpio, serve):
    client = await started(serve, make(gpio))
    await set_pulse(client, 0, 60_000)
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.BUSY))
    await client.send(set_switch("DIGITAL_OUTPUT_1", OFF=ON))
    cancelled = await client.expect(update(SetNumberVector, "PULSE_0"))
    assert cancelled.state == PropertyState.IDLE
    assert "cancelled" in cancelled.message
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert level(gpio, "GPIO17") == 0


async def test_on_during_a_pulse_changes_nothing_as_in_libindi(gpio, serve):
    driver = make(gpio)
    client = await started(serve, driver)
    await set_pulse(client, 0, 60_000)
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.BUSY))
    task = driver.outputs[0].pulse_task
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert driver.outputs[0].pulse_task is task
    assert task is not None
    assert not task.done()


@pytest.mark.parametrize("duration", [-5, 60_001])
async def test_out_of_range_pulse_is_refused(gpio, serve, duration):
    client = await started(serve, make(gpio))
    await client.send(set_numbers("PULSE_0", DURATION=duration))
    answer = await client.expect(update(SetNumberVector, "PULSE_0"))
    assert answer.state == PropertyState.ALERT
    assert "outside" in answer.message
    assert level(gpio, "GPIO17") == 0


async def test_failure_to_end_a_pulse_becomes_alert(gpio, serve, monkeypatch):
    client = await started(serve, make(gpio))
    await set_pulse(client, 0, 50)
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.BUSY))

    def refuse(value: float) -> None:
        raise OSError("GPIO not allocated")  # what lgpio says for a line it lost

    monkeypatch.setattr(gpio.factory.pin("GPIO17"), "_set_state", refuse)
    pulse = await client.expect(update(SetNumberVector, "PULSE_0"))
    assert pulse.state == PropertyState.ALERT
    assert "GPIO not allocated" in pulse.message
    switch = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert switch.state == PropertyState.ALERT
    assert switch.values["ON"] == ON  # still on, as far as anyone knows


async def test_pulse_durations_are_saved_as_settings(gpio, serve):
    saved: list[dict[str, Any]] = []
    context = make_context(gpio, DEVICE, DigitalOutputOptions(pins=("GPIO17", "GPIO27")))
    context.save_settings = lambda settings: saved.append(dict(settings))
    driver = LEDDriver(context)
    client = await started(serve, driver)
    await set_pulse(client, 1, 700)
    assert saved[-1]["pulse_ms"] == {"PULSE_1": 700}
    driver.shutdown()
    async with asyncio.timeout(3):
        await driver.stopped.wait()
    context.settings = saved[-1]
    again = LEDDriver(context)
    assert again.outputs[1].pulse.getfloatvalue("DURATION") == 700
    assert again.outputs[0].pulse.getfloatvalue("DURATION") == 0


# -- blinking --


async def test_blink_until_switched(gpio, serve):
    client = await started(serve, make(gpio))
    pin = gpio.factory.pin("GPIO17")
    pin.clear_states()
    await client.send(set_numbers("BLINK_1", ON_TIME=0.02, OFF_TIME=0.02))
    switch = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert switch.state == PropertyState.BUSY
    assert switch.values == {"OFF": OFF, "ON": OFF}
    blink = await client.expect(update(SetNumberVector, "BLINK_1"))
    assert blink.state == PropertyState.BUSY
    assert float(blink.values["ON_TIME"]) == pytest.approx(0.02)
    await wait_until(lambda: sum(1 for s in pin.states if s.state) >= 3)
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    await client.expect(update(SetNumberVector, "BLINK_1", PropertyState.IDLE))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    pin.clear_states()
    assert level(gpio, "GPIO17") == 1
    assert await client.silent(update(SetSwitchVector, "DIGITAL_OUTPUT_1"), wait=0.1)
    assert [s.state for s in pin.states] == [1]  # steady: the blink thread stopped


async def test_blink_with_one_member_keeps_the_other(gpio, serve):
    client = await started(serve, make(gpio, blink_off_time=2.0))
    await client.send(set_numbers("BLINK_1", ON_TIME=1.5))
    blink = await client.expect(update(SetNumberVector, "BLINK_1", PropertyState.BUSY))
    assert float(blink.values["ON_TIME"]) == 1.5
    assert float(blink.values["OFF_TIME"]) == 2.0


async def test_too_short_blink_is_refused(gpio, serve):
    client = await started(serve, make(gpio))
    await client.send(set_numbers("BLINK_1", ON_TIME=0.001, OFF_TIME=1))
    answer = await client.expect(update(SetNumberVector, "BLINK_1"))
    assert answer.state == PropertyState.ALERT
    assert level(gpio, "GPIO17") == 0


# -- stopping, saving, restoring --


@pytest.mark.parametrize(
    ("safe_state", "active_high", "expected"),
    [("off", True, 0), ("on", True, 1), ("off", False, 1), ("on", False, 0)],
)
async def test_safe_state_on_stop(gpio, serve, monkeypatch, safe_state, active_high, expected):
    driver = make(gpio, safe_state=safe_state, active_high=active_high)
    at_release = level_at_release(monkeypatch, driver, gpio, "GPIO17")
    client = await started(serve, driver)
    await client.send(set_numbers("BLINK_1", ON_TIME=0.01, OFF_TIME=0.01))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.BUSY))
    driver.shutdown()
    async with asyncio.timeout(3):
        await driver.stopped.wait()
    # Closing a mock pin makes it an input, so the level is read as it is released.
    assert at_release == [expected]
    assert driver.outputs[0].device.closed


async def test_stop_cancels_a_running_pulse(gpio, serve, monkeypatch):
    driver = make(gpio)
    at_release = level_at_release(monkeypatch, driver, gpio, "GPIO17")
    client = await started(serve, driver)
    await set_pulse(client, 0, 60_000)
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    await client.expect(update(SetNumberVector, "PULSE_0", PropertyState.BUSY))
    task = driver.outputs[0].pulse_task
    assert task is not None
    driver.shutdown()
    async with asyncio.timeout(3):
        await driver.stopped.wait()
    assert task.cancelled()
    assert at_release == [0]


async def test_state_is_saved_on_each_change(gpio, serve):
    store = SavedStates()
    client = await started(serve, make(gpio, pins=("GPIO17", "GPIO27"), store=store))
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert store.states[DEVICE]["GPIO17"]["mode"] == "on"
    assert store.states[DEVICE]["GPIO27"]["mode"] == "off"
    await client.send(set_numbers("BLINK_1", ON_TIME=0.5, OFF_TIME=0.25))
    await client.expect(update(SetNumberVector, "BLINK_1", PropertyState.BUSY))
    assert store.states[DEVICE]["GPIO17"] == {"mode": "blink", "on_time": 0.5, "off_time": 0.25}
    await set_pulse(client, 1, 60_000)
    await client.send(set_switch("DIGITAL_OUTPUT_2", ON=ON))
    await client.expect(update(SetNumberVector, "PULSE_1", PropertyState.BUSY))
    assert store.states[DEVICE]["GPIO27"]["mode"] == "off"  # a pulse saves where it ends


async def test_saved_state_is_restored(gpio, serve):
    saved = {
        "GPIO17": {"mode": "on", "on_time": 0.5, "off_time": 0.5},
        "GPIO27": {"mode": "blink", "on_time": 0.02, "off_time": 0.03},
        "GPIO5": {"mode": "on"},  # a pin no longer configured: ignored
    }
    driver = make(gpio, pins=("GPIO17", "GPIO27"), saved=saved)
    assert level(gpio, "GPIO17") == 1
    client = await serve(driver)
    first = await client.expect(update(DefSwitchVector, "DIGITAL_OUTPUT_1"))
    assert {m.name: m.value for m in first.members} == {"OFF": OFF, "ON": ON}
    second = await client.expect(update(DefSwitchVector, "DIGITAL_OUTPUT_2"))
    assert second.state == PropertyState.BUSY
    blink = await client.expect(update(DefNumberVector, "BLINK_2"))
    assert blink.state == PropertyState.BUSY
    assert {m.name: float(m.value) for m in blink.members} == {"ON_TIME": 0.02, "OFF_TIME": 0.03}
    pin = gpio.factory.pin("GPIO27")
    await wait_until(lambda: sum(1 for s in pin.states if s.state) >= 2)


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param({"mode": "sideways"}, id="bad-mode"),
        pytest.param("on", id="not-a-table"),
        pytest.param({"mode": "blink", "on_time": -1, "off_time": True}, id="bad-times"),
    ],
)
def test_unusable_saved_state_falls_back_to_the_options(gpio, entry):
    driver = make(gpio, saved={"GPIO17": entry}, blink_on_time=0.7)
    output = driver.outputs[0]
    assert output.mode in ("off", "blink")
    assert output.blink.getfloatvalue("ON_TIME") == 0.7
    assert output.blink.getfloatvalue("OFF_TIME") == 0.5


def test_restore_false_ignores_the_saved_state(gpio):
    make(gpio, saved={"GPIO17": {"mode": "on"}}, restore=False)
    assert level(gpio, "GPIO17") == 0


# -- requests that ask for nothing (libindi IUUpdate* with no member) --


async def relay_on(gpio: Any, serve: Any) -> Any:
    client = await started(serve, make(gpio, RelayDriver))
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert level(gpio, "GPIO17") == 1
    return client


async def test_an_empty_switch_request_leaves_the_relay_on(gpio, serve):
    client = await relay_on(gpio, serve)
    await client.send(NewSwitchVector(device=DEVICE, name="DIGITAL_OUTPUT_1", values={}))
    answer = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert answer.state == PropertyState.OK
    assert level(gpio, "GPIO17") == 1
    assert await client.silent(update(SetSwitchVector, "DIGITAL_OUTPUT_1"), wait=0.1)
    assert level(gpio, "GPIO17") == 1


async def test_off_turned_off_alone_leaves_the_relay_on(gpio, serve):
    # AtMostOne, as libindi's IUUpdateSwitch: ON is not named, so it stays On.
    client = await relay_on(gpio, serve)
    await client.send(set_switch("DIGITAL_OUTPUT_1", OFF=OFF))
    answer = await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1"))
    assert answer.state == PropertyState.OK
    assert answer.values == {"OFF": OFF, "ON": ON}
    assert level(gpio, "GPIO17") == 1


async def test_an_empty_connection_request_is_refused_and_keeps_the_device(gpio, serve):
    # CONNECTION is OneOfMany: an empty request would leave no switch On.
    client = await relay_on(gpio, serve)
    await client.send(NewSwitchVector(device=DEVICE, name="CONNECTION", values={}))
    answer = await client.expect(update(SetSwitchVector, "CONNECTION"))
    assert answer.state == PropertyState.ALERT
    assert answer.message
    assert level(gpio, "GPIO17") == 1
    # Still connected: the output still takes requests.
    await client.send(set_switch("DIGITAL_OUTPUT_1", OFF=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    assert level(gpio, "GPIO17") == 0


@pytest.mark.parametrize(
    ("event", "answer"),
    [
        (NewNumberVector(device=DEVICE, name="PULSE_0", values={}), SetNumberVector),
        (NewNumberVector(device=DEVICE, name="BLINK_1", values={}), SetNumberVector),
        (NewTextVector(device=DEVICE, name="DIGITAL_OUTPUT_LABELS", values={}), SetTextVector),
    ],
    ids=["pulse", "blink", "labels"],
)
async def test_other_empty_requests_change_nothing(gpio, serve, event, answer):
    driver = make(gpio, RelayDriver)
    client = await started(serve, driver)
    await client.send(set_switch("DIGITAL_OUTPUT_1", ON=ON))
    await client.expect(update(SetSwitchVector, "DIGITAL_OUTPUT_1", PropertyState.OK))
    pin = gpio.factory.pin("GPIO17")
    pin.clear_states()
    await client.send(event)
    reply = await client.expect(update(answer, event.name))
    assert reply.state != PropertyState.ALERT
    assert reply.state != PropertyState.BUSY
    assert await client.silent(update(SetSwitchVector, "DIGITAL_OUTPUT_1"), wait=0.1)
    assert [s.state for s in pin.states] == [1]  # no blinking, no pulse: steady on
    assert driver.outputs[0].mode == "on"
