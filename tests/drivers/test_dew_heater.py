"""The dew heater: its controller on a simulated lens over time, and the driver through a server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import pi_indi as ipd
from pi_indi.protocol import (
    DefNumberVector,
    DefSwitchVector,
    DefTextVector,
    NewNumberVector,
    NewSwitchVector,
    PropertyState,
    SetNumberVector,
    SetSwitchVector,
    SwitchState,
)
from pi_indi_drivers.api import dew_point
from pi_indi_drivers.dew_heater import (
    DewController,
    DewHeaterDriver,
    DewHeaterOptions,
)
from tests.drivers.conftest import documented_devices, make_context, update

# -- the controller on a simulated plant ----------------------------------------------


class Lens:
    """A heated surface: T_s' = k (T_amb - T_s) + h duty, by Euler steps."""

    def __init__(self, ambient: float, k: float = 1 / 600, rise: float = 10.0) -> None:
        self.ambient = ambient
        self.k = k
        self.h = k * rise / 100  # 100 % holds the surface `rise` °C above the air
        self.surface = ambient

    def step(self, duty: float, dt: float) -> None:
        self.surface += dt * (self.k * (self.ambient - self.surface) + self.h * duty)


def run(
    controller: DewController,
    lens: Lens,
    humidity: float,
    seconds: float,
    start: float = 0.0,
    dt: float = 10.0,
    surface: bool = True,
) -> list[float]:
    duties = []
    t = start
    while t < start + seconds:
        controller.observe("temperature", t, lens.ambient)
        controller.observe("humidity", t, humidity)
        if surface:
            controller.observe("surface", t, lens.surface)
        duty = controller.update(t).duty
        duties.append(duty)
        lens.step(duty, dt)
        t += dt
    return duties


@pytest.mark.parametrize(
    ("k", "rise"),
    [
        pytest.param(1 / 600, 10.0, id="typical"),
        pytest.param(1 / 300, 4.0, id="weak-heater"),
        pytest.param(1 / 1200, 30.0, id="strong-heater"),
    ],
)
def test_the_surface_converges_to_the_dew_point_plus_margin(k, rise):
    controller = DewController(margin=3.0, max_duty=100.0, gain=20.0, integral_time=600.0)
    lens = Lens(ambient=5.0, k=k, rise=rise)
    duties = run(controller, lens, humidity=90.0, seconds=4 * 3600)
    target = dew_point(5.0, 90.0) + 3.0
    assert lens.surface == pytest.approx(target, abs=0.1)
    assert 0 < duties[-1] < 100
    assert max(duties) <= 100


def test_the_duty_never_exceeds_the_maximum():
    # Too weak a heater to reach the target: the duty sits at max_duty, and
    # the integral does not wind up past it (it comes down at once when dry).
    controller = DewController(margin=5.0, max_duty=60.0)
    lens = Lens(ambient=0.0, rise=4.0)
    duties = run(controller, lens, humidity=100.0, seconds=3 * 3600)
    assert max(duties) == pytest.approx(60.0)
    assert all(0 <= d <= 60.0 for d in duties)
    assert controller.integral <= 60.0
    dry = run(controller, lens, humidity=20.0, seconds=600, start=3 * 3600)
    assert dry[-1] == 0


def test_dry_air_means_no_heat():
    controller = DewController(margin=3.0)
    lens = Lens(ambient=15.0)
    assert set(run(controller, lens, humidity=30.0, seconds=3600)) == {0.0}


@pytest.mark.parametrize(
    ("humidity", "share"),
    [
        pytest.param(100.0, 1.0, id="at-the-dew-point"),
        pytest.param(87.0, 1 - (10.0 - dew_point(10.0, 87.0)) / 4, id="within"),
        pytest.param(70.0, 0.0, id="dry"),
    ],
)
def test_without_a_surface_sensor_the_law_is_open_loop(humidity, share):
    # Air at 10 °C; margin 4 °C: off while the air is 4 °C above the dew point,
    # max_duty at the dew point, linear between.
    assert 0 <= share <= 1
    controller = DewController(margin=4.0, max_duty=80.0, surface_sensor=False)
    for t in (0.0, 600.0, 1200.0):  # no integral: the same duty every time
        controller.observe("temperature", t, 10.0)
        controller.observe("humidity", t, humidity)
        assert controller.update(t).duty == pytest.approx(80.0 * share)


def test_a_stale_sensor_means_the_fallback_duty_then_recovery():
    controller = DewController(margin=3.0, fallback_duty=35.0, stale_after=60.0)
    lens = Lens(ambient=5.0)
    run(controller, lens, humidity=90.0, seconds=3600)
    working = controller.update(3600.0)
    assert not working.fallback
    assert working.problem is None
    # The surface sensor stops; the others go on.
    states = []
    for t in range(3600, 3600 + 180, 10):
        controller.observe("temperature", t, 5.0)
        controller.observe("humidity", t, 90.0)
        states.append(controller.update(float(t)))
    assert not states[4].fallback  # 40 s: not yet stale
    stale = states[-1]
    assert stale.fallback
    assert stale.duty == 35.0
    assert stale.problem is not None
    assert "surface" in stale.problem
    assert stale.dew_point is None
    # Back: the control goes on from where it was.
    integral = controller.integral
    controller.observe("surface", 3780.0, lens.surface)
    back = controller.update(3780.0)
    assert not back.fallback
    assert back.problem is None
    assert controller.integral == pytest.approx(integral, abs=1.0)


def test_a_failed_sensor_falls_back_at_once():
    controller = DewController(fallback_duty=20.0, surface_sensor=False)
    controller.observe("temperature", 0.0, 10.0)
    controller.observe("humidity", 0.0, 60.0)
    assert not controller.update(0.0).fallback
    controller.forget("humidity", "Env HUMIDITY is in Alert")
    state = controller.update(1.0)
    assert state.fallback
    assert state.duty == 20.0
    assert state.problem == "Env HUMIDITY is in Alert"


def test_no_reading_yet_is_off_until_stale():
    controller = DewController(fallback_duty=30.0, stale_after=60.0)
    assert controller.update(100.0).duty == 0.0
    assert not controller.update(150.0).fallback
    late = controller.update(161.0)
    assert late.fallback
    assert late.problem is not None
    assert late.problem.startswith("no temperature reading")


def test_manual_mode_overrides_the_controller_and_hands_back_smoothly():
    controller = DewController(margin=3.0, max_duty=70.0, stale_after=60.0)
    controller.set_manual(25.0)
    assert controller.update(0.0).duty == 25.0  # no readings needed
    assert not controller.update(1000.0).fallback  # nor a fallback when stale
    controller.set_manual(90.0)
    assert controller.update(1001.0).duty == 70.0  # max_duty holds
    controller.set_manual(40.0)
    controller.set_manual(None)
    assert controller.integral == 40.0
    target = dew_point(5.0, 90.0) + 3.0
    for name, value in [("temperature", 5.0), ("humidity", 90.0), ("surface", target)]:
        controller.observe(name, 1002.0, value)
    assert controller.update(1002.0).duty == pytest.approx(40.0, abs=1.0)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="fallback_duty"):
        DewController(max_duty=50.0, fallback_duty=60.0)
    with pytest.raises(ValueError, match="max_duty"):
        DewController(max_duty=0.0, fallback_duty=0.0)


def test_the_options_check_the_duties():
    options = DewHeaterOptions(
        pin="GPIO18",
        sensor_device=" ",
        max_duty=50.0,
        fallback_duty=60.0,
        manual_duty=70.0,
        stale_seconds=5.0,
        interval=10.0,
        surface_device="",
    )
    assert {key for key, _ in options.problems()} == {
        "fallback_duty",
        "manual_duty",
        "sensor_device",
        "stale_seconds",
        "surface_device",
    }


def test_the_documented_examples_are_valid_and_build(gpio):
    devices = documented_devices("dew_heater")
    assert devices
    for device in devices:
        assert device.driver == "dew_heater"
        assert device.record is not None
        assert device.record.cls is DewHeaterDriver
        driver = DewHeaterDriver.from_config(make_context(gpio, device.name, device.options))
        driver.shutdown()


# -- the driver through a server ----------------------------------------------------

DEVICE = "Dew heater"
SENSOR = "Environment"
LENS = "Lens"
PIN = "GPIO18"
ON, OFF = SwitchState.ON, SwitchState.OFF


class FakeSensor(ipd.IPyDriver):
    """A sensor device serving TEMPERATURE and HUMIDITY, set by the test."""

    def __init__(self, devicename: str, **values: float) -> None:
        vectors = [
            ipd.NumberVector(
                name=name,
                label=name,
                group="Main Control",
                perm="ro",
                state="Ok",
                numbermembers=[ipd.NumberMember(name, name, "%.2f", -100, 100, 0, value)],
            )
            for name, value in values.items()
        ]
        super().__init__(ipd.Device(devicename, vectors))
        self.devicename = devicename

    async def set(self, name: str, value: float, state: str = "Ok") -> None:
        vector = self[self.devicename][name]
        vector[name] = value
        await vector.send_setVector(state=state)


def make(gpio: Any, **options: Any) -> DewHeaterDriver:
    options.setdefault("pin", PIN)
    options.setdefault("sensor_device", SENSOR)
    options.setdefault("interval", 0.05)
    return DewHeaterDriver(make_context(gpio, DEVICE, DewHeaterOptions(**options)))


def duty(gpio: Any) -> float:
    return float(gpio.factory.pin(PIN).state)


async def until(check: Any, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def numbers(name: str, **values: float) -> NewNumberVector:
    return NewNumberVector(device=DEVICE, name=name, values={k: str(v) for k, v in values.items()})


def switch(name: str, value: SwitchState) -> NewSwitchVector:
    return NewSwitchVector(device=DEVICE, name=name, values={"DEW_CHANNEL_1": value})


async def test_defines_libindi_dew_properties(gpio, serve):
    sensor = FakeSensor(SENSOR, TEMPERATURE=15.0, HUMIDITY=40.0)
    client = await serve(make(gpio), sensor)
    auto = await client.expect(update(DefSwitchVector, "AUTO_DEW_CONTROL"))
    assert (auto.rule, auto.perm, auto.group, auto.label) == (
        "AnyOfMany",
        "rw",
        "Dew",
        "Auto Dew Control",
    )
    assert {m.name: m.value for m in auto.members} == {"DEW_CHANNEL_1": ON}
    channels = await client.expect(update(DefSwitchVector, "DEW_CHANNELS"))
    assert (channels.rule, channels.label) == ("AnyOfMany", "Toggle Dew")
    assert [m.label for m in channels.members] == ["Channel 1"]
    duties = await client.expect(update(DefNumberVector, "DEW_DUTY_CYCLES"))
    member = duties.members[0]
    assert (member.name, member.label, member.format, member.min, member.max, member.step) == (
        "DEW_CHANNEL_1",
        "Channel 1 (%)",
        "%.0f",
        "0",
        "100",
        "10",
    )
    labels = await client.expect(update(DefTextVector, "DEW_LABELS"))
    assert labels.perm == "rw"
    await client.expect(update(DefNumberVector, "DEW_POINT"))
    margin = await client.expect(update(DefNumberVector, "DEW_MARGIN"))
    assert margin.perm == "rw"


async def test_the_heater_rises_near_the_dew_point_and_manual_applies(gpio, serve):
    sensor = FakeSensor(SENSOR, TEMPERATURE=15.0, HUMIDITY=30.0)
    driver = make(gpio, margin=3.0, max_duty=80.0)
    client = await serve(driver, sensor)
    dew = await client.expect(update(SetNumberVector, "DEW_POINT", PropertyState.OK))
    assert float(dew.values["DEW_POINT"]) == pytest.approx(dew_point(15.0, 30.0), abs=0.06)
    assert duty(gpio) == 0  # dry: no heat
    await sensor.set("HUMIDITY", 95.0)  # dew point 14.2 °C, target 17.2 °C
    await until(lambda: duty(gpio) > 0)
    # Open loop: max_duty * (dew point + margin - air) / margin.
    share = (dew_point(15.0, 95.0) + 3.0 - 15.0) / 3.0
    assert duty(gpio) == pytest.approx(0.8 * share, abs=0.01)
    # Manual: AUTO off, then a duty.
    await client.send(switch("AUTO_DEW_CONTROL", OFF))
    await client.expect(update(SetSwitchVector, "AUTO_DEW_CONTROL", PropertyState.OK))
    await client.send(numbers("DEW_DUTY_CYCLES", DEW_CHANNEL_1=25))
    answer = await client.expect(update(SetNumberVector, "DEW_DUTY_CYCLES", PropertyState.OK))
    assert float(answer.values["DEW_CHANNEL_1"]) == 25
    assert duty(gpio) == pytest.approx(0.25)
    # Above max_duty: refused.
    await client.send(numbers("DEW_DUTY_CYCLES", DEW_CHANNEL_1=90))
    await client.expect(update(SetNumberVector, "DEW_DUTY_CYCLES", PropertyState.ALERT))
    assert duty(gpio) == pytest.approx(0.25)
    # The channel off: no heat.
    await client.send(switch("DEW_CHANNELS", OFF))
    await client.expect(update(SetSwitchVector, "DEW_CHANNELS", PropertyState.OK))
    assert duty(gpio) == 0
    await client.send(switch("DEW_CHANNELS", ON))
    await client.expect(update(SetSwitchVector, "DEW_CHANNELS", PropertyState.OK))
    assert duty(gpio) == pytest.approx(0.25)


async def test_a_duty_is_refused_in_automatic_mode(gpio, serve):
    client = await serve(make(gpio), FakeSensor(SENSOR, TEMPERATURE=15.0, HUMIDITY=30.0))
    await client.expect(update(DefNumberVector, "DEW_MARGIN"))
    await client.send(numbers("DEW_DUTY_CYCLES", DEW_CHANNEL_1=50))
    await client.expect(update(SetNumberVector, "DEW_DUTY_CYCLES", PropertyState.ALERT))
    assert duty(gpio) == 0


async def test_the_surface_sensor_closes_the_loop_and_the_margin_moves_it(gpio, serve):
    sensor = FakeSensor(SENSOR, TEMPERATURE=10.0, HUMIDITY=90.0)  # dew point 8.4 °C
    lens = FakeSensor(LENS, TEMPERATURE=20.0)
    driver = make(gpio, surface_device=LENS, margin=2.0, integral_time=0)
    client = await serve(driver, sensor, lens)
    dew = await client.expect(update(SetNumberVector, "DEW_POINT", PropertyState.OK))
    assert float(dew.values["SURFACE_TEMPERATURE"]) == 20
    assert duty(gpio) == 0  # the lens is warm
    await lens.set("TEMPERATURE", 9.4)  # 1 °C under the target 10.4: gain 20 -> 20 %
    await until(lambda: duty(gpio) > 0)
    assert duty(gpio) == pytest.approx(0.2, abs=0.01)
    await client.send(numbers("DEW_MARGIN", DEW_MARGIN=3.0))
    await client.expect(update(SetNumberVector, "DEW_MARGIN", PropertyState.OK))
    await until(lambda: duty(gpio) > 0.3)
    assert duty(gpio) == pytest.approx(0.4, abs=0.01)


async def test_a_stale_sensor_means_fallback_and_alert(gpio, serve):
    sensor = FakeSensor(SENSOR, TEMPERATURE=15.0, HUMIDITY=30.0)
    driver = make(gpio, fallback_duty=40.0, stale_seconds=0.6)
    client = await serve(driver, sensor)
    await client.expect(update(SetNumberVector, "DEW_POINT", PropertyState.OK))

    async def feed() -> None:
        for _ in range(10):
            await sensor.set("TEMPERATURE", 15.0 + _ / 100)
            await asyncio.sleep(0.1)

    await feed()  # a live sensor: no fallback
    assert duty(gpio) == 0
    # The sensor stops answering (its device no longer speaks): drop its answers.
    sensor.auto_send_def = False
    alert = await client.expect(update(SetNumberVector, "DEW_POINT", PropertyState.ALERT), 5)
    assert "fallback" in (alert.message or "")
    await client.expect(update(SetSwitchVector, "AUTO_DEW_CONTROL", PropertyState.ALERT))
    assert duty(gpio) == pytest.approx(0.4)
    # Back.
    sensor.auto_send_def = True
    await sensor.set("TEMPERATURE", 15.5)
    await sensor.set("HUMIDITY", 30.0)
    await client.expect(update(SetNumberVector, "DEW_POINT", PropertyState.OK), 5)
    assert duty(gpio) == 0


async def test_a_sensor_in_alert_falls_back_at_once(gpio, serve):
    sensor = FakeSensor(SENSOR, TEMPERATURE=15.0, HUMIDITY=30.0)
    client = await serve(make(gpio, fallback_duty=30.0), sensor)
    await client.expect(update(SetNumberVector, "DEW_POINT", PropertyState.OK))
    await sensor.set("HUMIDITY", 30.0, state="Alert")
    alert = await client.expect(update(SetNumberVector, "DEW_POINT", PropertyState.ALERT))
    assert "Alert" in (alert.message or "")
    assert duty(gpio) == pytest.approx(0.3)


async def test_heater_off_at_disconnect_and_at_stop(gpio, serve):
    sensor = FakeSensor(SENSOR, TEMPERATURE=15.0, HUMIDITY=30.0)
    driver = make(gpio, auto=False, manual_duty=60.0)
    client = await serve(driver, sensor)
    await until(lambda: duty(gpio) > 0)
    assert duty(gpio) == pytest.approx(0.6)
    await client.send(NewSwitchVector(device=DEVICE, name="CONNECTION", values={"DISCONNECT": ON}))
    await client.expect(update(SetSwitchVector, "CONNECTION", PropertyState.OK))
    assert duty(gpio) == 0
    await client.send(NewSwitchVector(device=DEVICE, name="CONNECTION", values={"CONNECT": ON}))
    await client.expect(update(DefNumberVector, "DEW_DUTY_CYCLES"))
    await until(lambda: duty(gpio) > 0)
    assert duty(gpio) == pytest.approx(0.6)  # manual mode and duty kept
    driver.shutdown()
    assert duty(gpio) == 0


async def test_a_steady_sensor_is_asked_again_not_stale(gpio, serve):
    # The sensor never sends an update: its definition, asked for again, keeps it fresh.
    sensor = FakeSensor(SENSOR, TEMPERATURE=15.0, HUMIDITY=30.0)
    client = await serve(make(gpio, fallback_duty=40.0, stale_seconds=0.6), sensor)
    await client.expect(update(SetNumberVector, "DEW_POINT", PropertyState.OK))
    assert await client.silent(update(SetNumberVector, "DEW_POINT", PropertyState.ALERT), 2.0)
    assert duty(gpio) == 0


async def test_a_deleted_sensor_vector_falls_back(gpio, serve):
    sensor = FakeSensor(SENSOR, TEMPERATURE=15.0, HUMIDITY=30.0)
    client = await serve(make(gpio, fallback_duty=30.0), sensor)
    await client.expect(update(SetNumberVector, "DEW_POINT", PropertyState.OK))
    await sensor[SENSOR]["HUMIDITY"].send_delProperty()
    alert = await client.expect(update(SetNumberVector, "DEW_POINT", PropertyState.ALERT))
    assert "HUMIDITY was deleted" in (alert.message or "")
    assert duty(gpio) == pytest.approx(0.3)


async def test_starts_from_the_saved_mode_duty_and_margin(gpio, serve):
    saved = {"auto": False, "on": True, "duty": 30.0, "margin": 4.5}
    options = DewHeaterOptions(pin=PIN, sensor_device=SENSOR, interval=0.05)
    driver = DewHeaterDriver(make_context(gpio, DEVICE, options, saved))
    client = await serve(driver, FakeSensor(SENSOR, TEMPERATURE=15.0, HUMIDITY=30.0))
    auto = await client.expect(update(DefSwitchVector, "AUTO_DEW_CONTROL"))
    assert auto.members[0].value == OFF
    margin = await client.expect(update(DefNumberVector, "DEW_MARGIN"))
    assert float(margin.members[0].value) == 4.5
    await until(lambda: duty(gpio) > 0)
    assert duty(gpio) == pytest.approx(0.3)
