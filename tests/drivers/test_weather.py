"""The weather device: libindi's WeatherInterface over this server's sensors, through a socket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import pi_indi as ipd
from pi_indi.protocol import (
    DefLightVector,
    DefNumberVector,
    DefSwitchVector,
    NewNumberVector,
    NewSwitchVector,
    PropertyState,
    SetLightVector,
    SetNumberVector,
    SwitchState,
)
from pi_indi_drivers._gpio import Gpio
from pi_indi_drivers.weather import WeatherDriver, WeatherOptions, parameter_state
from tests.drivers.conftest import make_context, update


def sensors() -> Any:
    """A device serving a temperature and a humidity, as a kernel sensor would."""

    def number(name: str, value: float) -> ipd.NumberVector:
        return ipd.NumberVector(
            name,
            name,
            "Main",
            "ro",
            "Ok",
            [ipd.NumberMember(name, name, "%.2f", -100, 200, 0, value)],
        )

    return ipd.IPyDriver(
        ipd.Device("Outside", [number("TEMPERATURE", 10.0), number("HUMIDITY", 50.0)])
    )


def weather(gpio: Gpio, **options: Any) -> WeatherDriver:
    opts = {
        "sources": ("Outside.TEMPERATURE.TEMPERATURE", "Outside.HUMIDITY.HUMIDITY"),
        "parameters": ("WEATHER_TEMPERATURE", "WEATHER_HUMIDITY"),
        "labels": ("Temperature (C)", "Humidity (%)"),
        "ok_min": (-10.0, 0.0),
        "ok_max": (35.0, 85.0),
        "warn_percent": (15.0, 10.0),
        "update_period": 60.0,
        **options,
    }
    return WeatherDriver(make_context(gpio, "Weather", WeatherOptions(**opts)))


async def set_reading(source: Any, name: str, value: float) -> None:
    vector = source["Outside"][name]
    vector[name] = value
    await vector.send_setVector(state="Ok")


async def refresh(client: Any) -> None:
    await client.send(
        NewSwitchVector(
            device="Weather", name="WEATHER_REFRESH", values={"REFRESH": SwitchState.ON}
        )
    )


async def status(client: Any) -> SetLightVector:
    event: SetLightVector = await client.expect(update(SetLightVector, "WEATHER_STATUS"), timeout=5)
    return event


# -- the rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "state"),
    [
        (None, "Alert"),
        (-11.0, "Alert"),
        (36.0, "Alert"),
        (-9.0, "Busy"),  # within 15 % of 45 (6.75) of -10
        (33.0, "Busy"),
        (10.0, "Ok"),
    ],
)
def test_a_parameter_is_alert_outside_busy_near_an_edge_and_ok_inside(value, state):
    assert parameter_state(value, -10.0, 35.0, 15.0) == state


def test_there_is_no_warning_zone_at_an_edge_of_zero():
    # libindi's checkParameterState skips it there (wind speed, rain rate).
    assert parameter_state(0.5, 0.0, 20.0, 15.0) == "Ok"
    assert parameter_state(19.5, 0.0, 20.0, 15.0) == "Busy"


# -- the property table, as libindi's WeatherInterface -----------------------------------


async def test_the_properties_are_libindis(gpio, serve):
    client = await serve(sensors(), weather(gpio))
    period = await client.expect(update(DefNumberVector, "WEATHER_UPDATE"))
    assert (period.label, period.group, period.perm) == ("Update", "Main Control", "rw")
    (member,) = period.members
    assert (member.name, member.label, member.format) == ("PERIOD", "Period (s)", "%.f")
    assert (float(member.min), float(member.max), float(member.step)) == (0, 3600, 60)
    refresh_ = await client.expect(update(DefSwitchVector, "WEATHER_REFRESH"))
    assert (refresh_.label, refresh_.group, refresh_.perm, refresh_.rule) == (
        "Weather",
        "Main Control",
        "rw",
        "AtMostOne",
    )
    assert [(m.name, m.label) for m in refresh_.members] == [("REFRESH", "Refresh")]
    override = await client.expect(update(DefSwitchVector, "WEATHER_OVERRIDE"))
    assert (override.label, override.rule) == ("Safety", "AnyOfMany")
    assert [(m.name, m.label) for m in override.members] == [("OVERRIDE", "Override Status")]
    lights = await client.expect(update(DefLightVector, "WEATHER_STATUS"))
    assert (lights.label, lights.group) == ("Status", "Main Control")
    assert [m.name for m in lights.members] == ["WEATHER_TEMPERATURE", "WEATHER_HUMIDITY"]
    params = await client.expect(update(DefNumberVector, "WEATHER_PARAMETERS"))
    assert (params.label, params.group, params.perm) == ("Parameters", "Parameters", "ro")
    assert [(m.name, m.format, float(m.min), float(m.max)) for m in params.members] == [
        ("WEATHER_TEMPERATURE", "%4.2f", -10.0, 35.0),
        ("WEATHER_HUMIDITY", "%4.2f", 0.0, 85.0),
    ]
    ranges = await client.expect(update(DefNumberVector, "WEATHER_TEMPERATURE"))
    assert (ranges.label, ranges.group, ranges.perm) == ("Temperature (C)", "Parameters", "rw")
    assert [(m.name, m.label) for m in ranges.members] == [
        ("MIN_OK", "OK range min"),
        ("MAX_OK", "OK range max"),
        ("PERC_WARN", "% for Warning"),
    ]


# -- end to end -------------------------------------------------------------------------


async def test_the_status_follows_the_sensors(gpio, serve):
    source = sensors()
    client = await serve(source, weather(gpio))
    await refresh(client)  # both heard by now, with their definitions
    lights = await status(client)
    assert lights.state == PropertyState.OK
    await set_reading(source, "HUMIDITY", 80.0)  # within 10 % of 85: a warning
    await refresh(client)
    lights = await status(client)
    assert lights.state == PropertyState.BUSY
    assert lights.values["WEATHER_HUMIDITY"] == PropertyState.BUSY
    await set_reading(source, "HUMIDITY", 95.0)
    await refresh(client)
    params = await client.expect(update(SetNumberVector, "WEATHER_PARAMETERS"))
    assert float(params.values["WEATHER_HUMIDITY"]) == 95.0
    lights = await status(client)
    assert lights.state == PropertyState.ALERT


async def test_override_reads_ok_whatever_the_weather(gpio, serve):
    source = sensors()
    client = await serve(source, weather(gpio))
    await set_reading(source, "HUMIDITY", 99.0)
    await client.send(
        NewSwitchVector(
            device="Weather", name="WEATHER_OVERRIDE", values={"OVERRIDE": SwitchState.ON}
        )
    )
    lights = await status(client)
    assert lights.state == PropertyState.OK
    assert lights.values["WEATHER_HUMIDITY"] == PropertyState.ALERT


async def test_a_client_may_move_a_range(gpio, serve):
    source = sensors()
    client = await serve(source, weather(gpio))
    await set_reading(source, "TEMPERATURE", 30.0)
    await client.send(
        NewNumberVector(
            device="Weather",
            name="WEATHER_TEMPERATURE",
            values={"MIN_OK": "-10", "MAX_OK": "25", "PERC_WARN": "15"},
        )
    )
    params = await client.expect(
        lambda e: (
            type(e) is DefNumberVector
            and e.name == "WEATHER_PARAMETERS"
            and float(e.members[0].max) == 25.0
        )
    )
    assert float(params.members[0].min) == -10.0
    lights = await status(client)
    assert lights.values["WEATHER_TEMPERATURE"] == PropertyState.ALERT


async def test_a_silent_sensor_is_alert(gpio, serve):
    source = sensors()
    client = await serve(source, weather(gpio, stale_seconds=1.0))
    await refresh(client)
    assert (await status(client)).state == PropertyState.OK
    await asyncio.sleep(1.2)  # nothing heard since
    await refresh(client)
    params = await client.expect(update(SetNumberVector, "WEATHER_PARAMETERS"))
    assert params.state == PropertyState.ALERT
    assert "no reading" in (params.message or "")
    assert (await status(client)).state == PropertyState.ALERT


def test_the_options_are_checked():
    opts = WeatherOptions(
        sources=("Outside.TEMPERATURE", "A.B.C"),
        ok_min=(0.0,),
        ok_max=(-1.0, 1.0),
        critical=("NOPE",),
    )
    keys = {key for key, _ in opts.problems()}
    assert {"sources[0]", "ok_min", "ok_min[0]", "critical[0]"} <= keys


async def test_a_sensor_in_alert_is_no_reading(gpio, serve):
    # A sensor that cannot read sends its last value again, in Alert: that
    # value is old, and a weather device must not call the sky safe on it.
    source = sensors()
    client = await serve(source, weather(gpio))
    await refresh(client)
    assert (await status(client)).state == PropertyState.OK
    await source["Outside"]["HUMIDITY"].send_setVector(state="Alert", message="cannot read")
    await refresh(client)
    params = await client.expect(update(SetNumberVector, "WEATHER_PARAMETERS"))
    assert params.state == PropertyState.ALERT
    assert "Outside HUMIDITY is in Alert" in (params.message or "")
    lights = await status(client)
    assert lights.values["WEATHER_HUMIDITY"] == PropertyState.ALERT
    assert lights.state == PropertyState.ALERT
    await set_reading(source, "HUMIDITY", 50.0)  # read again
    await refresh(client)
    assert (await status(client)).state == PropertyState.OK


async def test_a_deleted_sensor_is_alert_at_once(gpio, serve):
    source = sensors()
    client = await serve(source, weather(gpio))
    await refresh(client)
    assert (await status(client)).state == PropertyState.OK
    await source["Outside"]["TEMPERATURE"].send_delProperty()
    await refresh(client)
    params = await client.expect(update(SetNumberVector, "WEATHER_PARAMETERS"))
    assert "Outside TEMPERATURE was deleted" in (params.message or "")
    assert (await status(client)).values["WEATHER_TEMPERATURE"] == PropertyState.ALERT


def test_a_steady_sensor_is_asked_again_well_before_it_would_go_stale(gpio):
    # Sensors send only what changes: a steady one is asked for its values
    # again every third of stale_seconds, so it never goes stale while it answers.
    driver = weather(gpio, stale_seconds=30.0)
    timeouts = {key: entry[0] for key, entry in driver.snoopvectors.items() if entry}
    assert timeouts == {("Outside", "TEMPERATURE"): 10.0, ("Outside", "HUMIDITY"): 10.0}


async def test_a_parameter_found_or_lost_is_checked_at_once_not_at_the_next_period(gpio, serve):
    # update_period is 60 s: the first readings, and a lost one, do not wait for it.
    source = sensors()
    client = await serve(source, weather(gpio, update_period=60.0))
    await client.expect(
        lambda e: (
            type(e) in (DefLightVector, SetLightVector)
            and e.name == "WEATHER_STATUS"
            and e.state == PropertyState.OK
        ),
        timeout=5,
    )
    await source["Outside"]["HUMIDITY"].send_setVector(state="Alert", message="cannot read")
    await client.expect(update(SetLightVector, "WEATHER_STATUS", PropertyState.ALERT), timeout=5)


async def test_a_sensor_not_read_yet_is_no_reading(gpio, serve):
    # Defined Idle with 0 (a placeholder inside the OK ranges) until its first read.
    source = sensors()
    for name in ("TEMPERATURE", "HUMIDITY"):
        vector = source["Outside"][name]
        vector.state = "Idle"
        vector[name] = 0.0
    client = await serve(source, weather(gpio, update_period=60.0))
    await refresh(client)
    params = await client.expect(update(SetNumberVector, "WEATHER_PARAMETERS"))
    assert params.state == PropertyState.ALERT
    assert "no reading of Temperature (C), Humidity (%)" in (params.message or "")
    await set_reading(source, "TEMPERATURE", 10.0)
    await set_reading(source, "HUMIDITY", 50.0)  # the first readings: checked at once
    await client.expect(update(SetLightVector, "WEATHER_STATUS", PropertyState.OK), timeout=5)
