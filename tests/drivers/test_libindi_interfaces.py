"""The standard vectors, checked against libindi's own definitions.

The table below is transcribed from indilib/indi (newest stored versions):

- ``libs/indibase/defaultdevice.cpp`` (``CONNECTION``);
- ``libs/indibase/indioutputinterface.cpp`` at a043e080 (``DIGITAL_OUTPUT_n``,
  ``DIGITAL_OUTPUT_LABELS``, ``PULSE_i`` numbered from 0 in group "Pulse Mode");
- ``libs/indibase/indiinputinterface.cpp`` at a043e080 (``DIGITAL_INPUT_n``,
  ``DIGITAL_INPUT_LABELS``, ``ANALOG_INPUT_n`` with one member of its own name,
  ``ANALOG_INPUT_LABELS``).

Member order matters: ``drivers/dome/universal_ror_client.cpp`` reads
``CONNECTION`` member 0 (CONNECT) to know a device is connected, switches
``DIGITAL_OUTPUT_n`` member 1 (ON) or 0 (OFF) and reads ``DIGITAL_INPUT_n``
member 1 (ON); the members are compared as ordered lists.

``None`` is what libindi leaves to the driver (the group of the interface
vectors is the driver's choice; the labels are the outputs' labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from pi_indi.properties import NumberVector, SwitchVector, TextVector
from pi_indi_drivers.digital_input import DigitalInputDriver, DigitalInputOptions
from pi_indi_drivers.digital_output import DigitalOutputOptions, RelayDriver
from pi_indi_drivers.pwm_output import PWMOptions, PWMOutputDriver
from pi_indi_drivers.sensors import MCP3xxxDriver, MCP3xxxOptions
from tests.drivers.conftest import make_context


@dataclass(frozen=True)
class Std:
    """One libindi vector: kind, perm, rule, group, label, members (name, label)."""

    kind: Any
    perm: str
    rule: str | None
    group: str | None
    label: str | None
    members: tuple[tuple[str, str | None], ...]


LIBINDI: dict[str, Std] = {
    # defaultdevice.cpp: ConnectionSP
    "CONNECTION": Std(
        SwitchVector,
        "rw",
        "OneOfMany",
        "Main Control",
        "Connection",
        (("CONNECT", "Connect"), ("DISCONNECT", "Disconnect")),
    ),
    # indioutputinterface.cpp: DigitalOutputsSP[i], IP_RW, ISR_ATMOST1
    "DIGITAL_OUTPUT_1": Std(
        SwitchVector, "rw", "AtMostOne", None, None, (("OFF", "Off"), ("ON", "On"))
    ),
    "DIGITAL_OUTPUT_2": Std(
        SwitchVector, "rw", "AtMostOne", None, None, (("OFF", "Off"), ("ON", "On"))
    ),
    # indioutputinterface.cpp: DigitalOutputLabelsTP, IP_RW
    "DIGITAL_OUTPUT_LABELS": Std(TextVector, "rw", None, None, "Labels", ()),
    # indioutputinterface.cpp: PulseDurationNP[i], "PULSE_" + i (from 0), "Pulse Mode"
    "PULSE_0": Std(NumberVector, "rw", None, "Pulse Mode", None, (("DURATION", "Duration (ms)"),)),
    "PULSE_1": Std(NumberVector, "rw", None, "Pulse Mode", None, (("DURATION", "Duration (ms)"),)),
    # indiinputinterface.cpp: DigitalInputsSP[i], IP_RO, ISR_1OFMANY
    "DIGITAL_INPUT_1": Std(
        SwitchVector, "ro", "OneOfMany", None, None, (("OFF", "Off"), ("ON", "On"))
    ),
    "DIGITAL_INPUT_LABELS": Std(
        TextVector, "rw", None, None, "Digital Labels", (("DIGITAL_INPUT_1", None),)
    ),
    # indiinputinterface.cpp: AnalogInputsNP[i], one member named as the vector, IP_RO
    "ANALOG_INPUT_1": Std(NumberVector, "ro", None, None, None, (("ANALOG_INPUT_1", None),)),
    "ANALOG_INPUT_2": Std(NumberVector, "ro", None, None, None, (("ANALOG_INPUT_2", None),)),
    "ANALOG_INPUT_LABELS": Std(
        TextVector,
        "rw",
        None,
        None,
        "Analog Labels",
        (("ANALOG_INPUT_1", None), ("ANALOG_INPUT_2", None)),
    ),
}


def relays(gpio: Any) -> Any:
    return RelayDriver(make_context(gpio, "R", DigitalOutputOptions(pins=("GPIO17", "GPIO27"))))


def pwm(gpio: Any) -> Any:
    return PWMOutputDriver(make_context(gpio, "P", PWMOptions(pin="GPIO18")))


def inputs(gpio: Any) -> Any:
    return DigitalInputDriver(make_context(gpio, "I", DigitalInputOptions(pins=("GPIO6",))))


def adc(gpio: Any) -> Any:
    return MCP3xxxDriver(make_context(gpio, "A", MCP3xxxOptions(channels=(0, 1))))


@pytest.mark.parametrize(
    ("make", "names"),
    [
        pytest.param(
            relays,
            [
                "CONNECTION",
                "DIGITAL_OUTPUT_1",
                "DIGITAL_OUTPUT_2",
                "DIGITAL_OUTPUT_LABELS",
                "PULSE_0",
                "PULSE_1",
            ],
            id="relay",
        ),
        pytest.param(
            pwm, ["CONNECTION", "DIGITAL_OUTPUT_1", "PULSE_0", "DIGITAL_OUTPUT_LABELS"], id="pwm"
        ),
        pytest.param(
            inputs, ["CONNECTION", "DIGITAL_INPUT_1", "DIGITAL_INPUT_LABELS"], id="digital_input"
        ),
        pytest.param(
            adc,
            ["CONNECTION", "ANALOG_INPUT_1", "ANALOG_INPUT_2", "ANALOG_INPUT_LABELS"],
            id="mcp3xxx",
        ),
    ],
)
def test_standard_vectors_are_as_libindi_defines_them(gpio: Any, make: Any, names: list[str]):
    driver = make(gpio)
    try:
        for name in names:
            std = LIBINDI[name]
            vector: Any = driver.device[name]
            assert type(vector) is std.kind, name
            assert vector.perm == std.perm, name
            if std.rule is not None:
                assert vector.rule == std.rule, name
            if std.group is not None:
                assert vector.group == std.group, name
            if std.label is not None:
                assert vector.label == std.label, name
            members = [(m.name, m.label) for m in vector.data.values()]
            if name == "DIGITAL_OUTPUT_LABELS":  # one member per output, named after it
                outputs = [n for n in driver.device if n.startswith("DIGITAL_OUTPUT_")]
                assert [m for m, _ in members] == [n for n in outputs if n != name]
                continue
            assert [m for m, _ in members] == [m for m, _ in std.members], name
            for (_, label), (_, expected) in zip(members, std.members, strict=True):
                if expected is not None:
                    assert label == expected, name
    finally:
        driver.shutdown()


def test_pulse_duration_is_libindis_number(gpio: Any):
    # indioutputinterface.cpp: fill("DURATION", "Duration (ms)", "%.0f", 0, 60000, 100, 0)
    driver = relays(gpio)
    member = driver.device["PULSE_0"].data["DURATION"]
    assert (member.format, float(member.min), float(member.max), float(member.step)) == (
        "%.0f",
        0.0,
        60000.0,
        100.0,
    )
    assert member.getfloatvalue() == 0
    driver.shutdown()


def test_analog_input_is_formatted_as_libindi(gpio: Any):
    # indiinputinterface.cpp: oneNumber[0].fill(name, label, "%.2f", ...)
    driver = adc(gpio)
    assert driver.device["ANALOG_INPUT_1"].data["ANALOG_INPUT_1"].format == "%.2f"
    driver.shutdown()


def test_pi_indi_extras_do_not_take_libindi_names(gpio: Any):
    standard = ("CONNECTION", "DRIVER_INFO", "DIGITAL_", "PULSE_", "ANALOG_INPUT_")
    for make in (relays, pwm, inputs, adc):
        driver = make(gpio)
        try:
            own = [n for n in driver.device if not n.startswith(standard)]
            assert own, make
            assert all(n not in LIBINDI for n in own)
        finally:
            driver.shutdown()
