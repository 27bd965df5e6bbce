"""CONFIG_PROCESS on every bundled device, as libindi's DefaultDevice has it.

libindi (``libs/indibase/defaultdevice.cpp``) defines ``CONFIG_PROCESS``
(``CONFIG_LOAD``, ``CONFIG_SAVE``, ``CONFIG_DEFAULT``, ``CONFIG_PURGE``) on every
device; KStars' "Options" tab and Ekos drive it. In pi-indi it works on what a
client may change and pi-indi keeps in ``settings.toml`` of the state directory
(labels, pulse durations, polling periods); the config file is never written.
"""

from __future__ import annotations

import asyncio
import tomllib
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from pi_indi.protocol import (
    DefNumberVector,
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
from pi_indi.registry import DriverContext
from pi_indi.state import StateStore
from pi_indi_drivers._base import GpioDriver, Setting
from pi_indi_drivers.digital_output import DigitalOutputOptions, LEDDriver
from pi_indi_drivers.sensors import CPUTemperatureDriver, CPUTemperatureOptions
from tests.drivers.conftest import documented_devices, make_context, update
from tests.helpers import DRIVER_PAGES

ON = SwitchState.ON


def press(device: str, member: str) -> NewSwitchVector:
    return NewSwitchVector(device=device, name="CONFIG_PROCESS", values={member: ON})


def relays(gpio: Any, store: StateStore) -> LEDDriver:
    options = DigitalOutputOptions(pins=("GPIO17", "GPIO27"), labels=("Open roof", "Close roof"))
    context = DriverContext(
        devicename="Relays",
        options=options,
        hardware=gpio,
        settings=store.get("Relays"),
        save_settings=partial(store.save, "Relays"),
        load_settings=partial(store.read, "Relays"),
    )
    return LEDDriver(context)


async def saved(store: StateStore) -> dict[str, Any]:
    """The file's content once the saves made so far are on the disk."""
    async with asyncio.timeout(3):
        while store.pending:
            await asyncio.sleep(0.01)
    if not store.path.exists():
        return {}
    with open(store.path, "rb") as f:
        return tomllib.load(f)


async def answer(client: Any, state: PropertyState = PropertyState.OK) -> Any:
    event = await client.expect(update(SetSwitchVector, "CONFIG_PROCESS"))
    assert event.state == state, getattr(event, "message", None)
    # libindi resets the switches before it answers.
    assert set(event.values.values()) == {SwitchState.OFF}
    return event


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path, "settings.toml", "settings")


# -- the vector --


@pytest.mark.parametrize("page", sorted(set(DRIVER_PAGES.values()) - {"mock_control"}))
def test_every_bundled_device_has_config_process_as_libindi(gpio: Any, page: str):
    for device in documented_devices(page):
        assert device.record is not None
        assert device.record.cls is not None
        driver = device.record.cls.from_config(make_context(gpio, device.name, device.options))
        try:
            assert isinstance(driver, GpioDriver)
            vector: Any = driver.device["CONFIG_PROCESS"]
            # defaultdevice.cpp: "CONFIG_PROCESS", "Configuration", "Options",
            # IP_RW, ISR_ATMOST1, IPS_IDLE; Load, Save, Default, Purge, all Off.
            assert (vector.label, vector.group, vector.perm, vector.rule, vector.state) == (
                "Configuration",
                "Options",
                "rw",
                "AtMostOne",
                "Idle",
            )
            assert [(m.name, m.label, vector[m.name]) for m in vector.data.values()] == [
                ("CONFIG_LOAD", "Load", "Off"),
                ("CONFIG_SAVE", "Save", "Off"),
                ("CONFIG_DEFAULT", "Default", "Off"),
                ("CONFIG_PURGE", "Purge", "Off"),
            ]
        finally:
            driver.shutdown()


# -- SAVE, LOAD, DEFAULT, PURGE --


async def test_a_label_change_is_saved_at_once_and_save_writes_the_current_settings(
    gpio, serve, store
):
    driver = relays(gpio, store)
    client = await serve(driver)
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    await client.send(
        NewTextVector(
            device="Relays", name="DIGITAL_OUTPUT_LABELS", values={"DIGITAL_OUTPUT_1": "Roof"}
        )
    )
    await client.expect(update(SetTextVector, "DIGITAL_OUTPUT_LABELS", PropertyState.OK))
    # Saved on change, as libindi's OutputInterface::processText saveConfig()s.
    assert (await saved(store))["Relays"]["labels"] == {
        "DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_1": "Roof"}
    }
    await client.send(press("Relays", "CONFIG_PURGE"))
    await answer(client)
    assert "Relays" not in (await saved(store))
    await client.send(press("Relays", "CONFIG_SAVE"))
    await answer(client)
    assert (await saved(store))["Relays"] == {
        "labels": {"DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_1": "Roof"}}
    }


async def test_load_reads_the_file_again_and_applies_it(gpio, serve, store):
    driver = relays(gpio, store)
    client = await serve(driver)
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    # Edited behind the service's back (or saved by an earlier SAVE).
    store.path.write_text(
        tomli_w.dumps(
            {
                "Relays": {
                    "labels": {"DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_2": "Shut"}},
                    "pulse_ms": {"PULSE_1": 1500.0},
                },
                "Other": {"labels": {"X": {"Y": "kept"}}},
            }
        )
    )
    await client.send(press("Relays", "CONFIG_LOAD"))
    labels = await client.expect(update(SetTextVector, "DIGITAL_OUTPUT_LABELS"))
    assert labels.values["DIGITAL_OUTPUT_2"] == "Shut"
    pulse = await client.expect(update(SetNumberVector, "PULSE_1"))
    assert float(pulse.values["DURATION"]) == 1500
    await answer(client)
    assert driver.device["DIGITAL_OUTPUT_2"].label == "Shut"
    assert driver.settings == {
        "labels": {"DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_2": "Shut"}},
        "pulse_ms": {"PULSE_1": 1500.0},
    }
    # Loading writes nothing (libindi's saveConfig does nothing while loading).
    assert (await saved(store))["Other"] == {"labels": {"X": {"Y": "kept"}}}


async def test_load_with_nothing_saved_answers_alert(gpio, serve, store):
    client = await serve(relays(gpio, store))
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    await client.send(press("Relays", "CONFIG_LOAD"))
    event = await answer(client, PropertyState.ALERT)
    assert "no saved settings" in event.message


async def test_default_goes_back_to_the_config_file_and_keeps_the_saved_file(gpio, serve, store):
    store.save(
        "Relays",
        {
            "labels": {"DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_1": "Roof"}},
            "pulse_ms": {"PULSE_0": 800.0},
        },
    )
    driver = relays(gpio, store)
    assert driver.device["DIGITAL_OUTPUT_1"].label == "Roof"
    client = await serve(driver)
    await client.expect(update(DefNumberVector, "PULSE_0"))
    await client.send(press("Relays", "CONFIG_DEFAULT"))
    labels = await client.expect(update(SetTextVector, "DIGITAL_OUTPUT_LABELS"))
    assert labels.values["DIGITAL_OUTPUT_1"] == "Open roof"
    pulse = await client.expect(update(SetNumberVector, "PULSE_0"))
    assert float(pulse.values["DURATION"]) == 0
    await answer(client)
    assert driver.settings == {}
    assert driver.device["DIGITAL_OUTPUT_1"].label == "Open roof"
    # libindi's default config is a file apart: the saved settings stay, LOAD brings them back.
    assert (await saved(store))["Relays"]["labels"] == {
        "DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_1": "Roof"}
    }
    await client.send(press("Relays", "CONFIG_LOAD"))
    labels = await client.expect(update(SetTextVector, "DIGITAL_OUTPUT_LABELS"))
    assert labels.values["DIGITAL_OUTPUT_1"] == "Roof"
    await answer(client)


async def test_purge_deletes_only_this_devices_saved_settings(gpio, serve, store):
    store.save("Other", {"polling_period_ms": 2000.0})
    store.save("Relays", {"pulse_ms": {"PULSE_0": 800.0}})
    driver = relays(gpio, store)
    client = await serve(driver)
    await client.expect(update(DefNumberVector, "PULSE_0"))
    await client.send(press("Relays", "CONFIG_PURGE"))
    await answer(client)
    assert (await saved(store)) == {"Other": {"polling_period_ms": 2000.0}}
    # The values in effect stay, as after libindi's purgeConfig.
    pulse: Any = driver.device["PULSE_0"]
    assert pulse.getfloatvalue("DURATION") == 800
    await client.send(press("Relays", "CONFIG_LOAD"))
    await answer(client, PropertyState.ALERT)


async def test_default_sets_the_polling_period_back_to_the_interval(gpio, serve, tmp_path):
    store = StateStore(tmp_path, "settings.toml", "settings")
    store.save("CPU", {"polling_period_ms": 60000.0})
    sensor = tmp_path / "temp"
    sensor.write_text("40000\n")
    context = DriverContext(
        devicename="CPU",
        options=CPUTemperatureOptions(sensor_file=str(sensor), interval=2.0),
        hardware=gpio,
        settings=store.get("CPU"),
        save_settings=partial(store.save, "CPU"),
        load_settings=partial(store.read, "CPU"),
    )
    driver = CPUTemperatureDriver(context)
    assert driver.interval == 60
    client = await serve(driver)
    await client.expect(update(DefNumberVector, "POLLING_PERIOD"))
    await client.send(press("CPU", "CONFIG_DEFAULT"))
    period = await client.expect(update(SetNumberVector, "POLLING_PERIOD"))
    assert float(period.values["PERIOD_MS"]) == 2000
    await answer(client)
    assert driver.interval == 2
    await client.send(press("CPU", "CONFIG_LOAD"))
    period = await client.expect(update(SetNumberVector, "POLLING_PERIOD"))
    assert float(period.values["PERIOD_MS"]) == 60000


async def test_default_while_disconnected_takes_effect_at_connect(gpio, serve, store):
    store.save("Relays", {"labels": {"DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_1": "Roof"}}})
    driver = relays(gpio, store)
    client = await serve(driver)
    await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    await driver.disconnect()
    await client.send(press("Relays", "CONFIG_DEFAULT"))
    await answer(client)
    # Nothing is sent for the deleted vectors.
    assert await client.silent(update(SetTextVector, "DIGITAL_OUTPUT_LABELS"), wait=0.2)
    await client.send(NewSwitchVector(device="Relays", name="CONNECTION", values={"CONNECT": ON}))
    labels = await client.expect(update(DefTextVector, "DIGITAL_OUTPUT_LABELS"))
    assert {m.name: m.value for m in labels.members}["DIGITAL_OUTPUT_1"] == "Open roof"


async def test_a_pulse_duration_change_is_saved_at_once(gpio, serve, store):
    client = await serve(relays(gpio, store))
    await client.expect(update(DefNumberVector, "PULSE_1"))
    await client.send(NewNumberVector(device="Relays", name="PULSE_1", values={"DURATION": "300"}))
    await client.expect(update(SetNumberVector, "PULSE_1", PropertyState.OK))
    await client.send(press("Relays", "CONFIG_DEFAULT"))
    await answer(client)
    await client.send(press("Relays", "CONFIG_LOAD"))
    pulse = await client.expect(update(SetNumberVector, "PULSE_1"))
    assert float(pulse.values["DURATION"]) == 300


def test_setting_values_tell_the_saved_from_the_config_files(gpio, store):
    store.save("Relays", {"labels": {"DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_2": "Shut"}}})
    driver = relays(gpio, store)
    try:
        assert driver.setting_values() == [
            Setting("DIGITAL_OUTPUT_LABELS", "DIGITAL_OUTPUT_1", "Open roof", saved=False),
            Setting("DIGITAL_OUTPUT_LABELS", "DIGITAL_OUTPUT_2", "Shut", saved=True),
            Setting("PULSE_0", "DURATION", 0.0, saved=False),
            Setting("PULSE_1", "DURATION", 0.0, saved=False),
        ]
    finally:
        driver.shutdown()
