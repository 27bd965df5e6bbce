"""What the environment drivers share: the dew point, and numbers snooped from other devices."""

from __future__ import annotations

from typing import Any

import pytest

from pi_indi.events import snoop_event
from pi_indi.protocol import (
    DefNumber,
    DefNumberVector,
    DelProperty,
    PropertyState,
    SetNumberVector,
)
from pi_indi_drivers.api import dew_point, snooped_number


@pytest.mark.parametrize(
    ("temperature", "humidity", "expected"),
    [
        pytest.param(20.0, 50.0, 9.26, id="20C-50%"),
        pytest.param(10.0, 90.0, 8.43, id="10C-90%"),
        pytest.param(0.0, 100.0, 0.0, id="saturated"),
        pytest.param(15.0, 101.0, 15.0, id="a-little-over-100%"),
        pytest.param(-10.0, 80.0, -12.8, id="below-zero"),
    ],
)
def test_dew_point_by_magnus(temperature, humidity, expected):
    # a = 17.62, b = 243.12 °C (Sonntag 1990).
    assert dew_point(temperature, humidity) == pytest.approx(expected, abs=0.05)


@pytest.mark.parametrize("humidity", [0.0, -5.0, float("nan")])
def test_no_dew_point_without_humidity(humidity):
    with pytest.raises(ValueError, match="no dew point"):
        dew_point(10.0, humidity)


def snooped(protocol_event: Any) -> Any:
    event = snoop_event(protocol_event)
    assert event is not None
    return event


def set_temperature(value: str, state: PropertyState = PropertyState.OK) -> Any:
    return snooped(
        SetNumberVector(
            device="Outside", name="TEMPERATURE", state=state, values={"TEMPERATURE": value}
        )
    )


def def_temperature(value: str, state: PropertyState = PropertyState.OK) -> Any:
    member = DefNumber(name="TEMPERATURE", format="%.2f", min="-55", max="125", value=value)
    return snooped(
        DefNumberVector(device="Outside", name="TEMPERATURE", state=state, members=(member,))
    )


WHAT = ("Outside", "TEMPERATURE", "TEMPERATURE")


@pytest.mark.parametrize("make", [set_temperature, def_temperature], ids=["set", "def"])
def test_a_reading_is_taken_from_a_set_or_a_definition(make):
    assert snooped_number(make("12.5"), *WHAT) == (12.5, "")


@pytest.mark.parametrize("make", [set_temperature, def_temperature], ids=["set", "def"])
def test_a_vector_in_alert_carries_no_reading(make):
    # A sensor that cannot read sends its old value with Alert: it is not a reading.
    assert snooped_number(make("12.5", PropertyState.ALERT), *WHAT) == (
        None,
        "Outside TEMPERATURE is in Alert",
    )


@pytest.mark.parametrize("make", [set_temperature, def_temperature], ids=["set", "def"])
def test_a_vector_in_idle_is_not_read_yet(make):
    # A sensor defines its vectors Idle, with a placeholder, before its first reading.
    assert snooped_number(make("0", PropertyState.IDLE), *WHAT) is None


@pytest.mark.parametrize("name", [None, "TEMPERATURE"], ids=["device", "vector"])
def test_a_deleted_vector_or_device_is_lost(name):
    event = snooped(DelProperty(device="Outside", name=name))
    assert snooped_number(event, *WHAT) == (None, "Outside TEMPERATURE was deleted")


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            lambda: snooped(DelProperty(device="Outside", name="HUMIDITY")),
            id="another-vector-deleted",
        ),
        pytest.param(lambda: snooped(DelProperty(device="Inside")), id="another-device-deleted"),
        pytest.param(
            lambda: snooped(
                SetNumberVector(device="Outside", name="HUMIDITY", values={"HUMIDITY": "50"})
            ),
            id="another-vector",
        ),
        pytest.param(
            lambda: snooped(
                SetNumberVector(device="Outside", name="TEMPERATURE", state=PropertyState.OK)
            ),
            id="state-only",
        ),
    ],
)
def test_events_about_something_else_say_nothing(event):
    assert snooped_number(event(), *WHAT) is None
