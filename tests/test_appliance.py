"""The appliance: a config's devices built, served, stopped safely, restored."""

from __future__ import annotations

import asyncio
import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pi_indi.appliance import Appliance
from pi_indi.config import parse_config
from pi_indi.errors import HardwareError
from pi_indi.protocol import (
    DefSwitchVector,
    GetProperties,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    SwitchState,
)
from pi_indi.registry import DriverStatus
from pi_indi_drivers._gpio import Gpio
from tests.helpers import Client

CONFIG = """\
[server]
host = "127.0.0.1"
port = 7624
[gpio]
pin_factory = "mock"
[state]
restore = {restore}
directory = "{directory}"
[[device]]
driver = "relay"
name = "Relays"
pins = [17]
[[device]]
driver = "led"
name = "Spare"
pins = [27]
enabled = false
"""


def make(tmp_path: Path, restore: bool) -> tuple[Appliance, Gpio]:
    text = CONFIG.format(restore=str(restore).lower(), directory=tmp_path)
    config = parse_config(text)
    # Any free port (0 is not a port a config may name).
    config = dataclasses.replace(config, server=dataclasses.replace(config.server, port=0))
    gpio = Gpio("mock")
    appliance = Appliance(config, hardware=gpio)
    appliance.build()
    return appliance, gpio


async def serve(appliance: Appliance) -> tuple[asyncio.Task[None], Client]:
    server = appliance.make_server()
    task = asyncio.create_task(server.asyncrun())
    async with asyncio.timeout(5):
        await server.listening.wait()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    client = Client(reader, writer)
    await client.send(GetProperties(version="1.7"))
    return task, client


async def stop(appliance: Appliance, task: asyncio.Task[None], client: Client) -> None:
    client.writer.close()
    appliance.shutdown()
    async with asyncio.timeout(10):
        await task


async def switch_on(client: Client) -> None:
    await client.send(
        NewSwitchVector(device="Relays", name="DIGITAL_OUTPUT_1", values={"ON": SwitchState.ON})
    )
    await client.expect(
        lambda e: (
            isinstance(e, SetSwitchVector)
            and e.device == "Relays"
            and e.values.get("ON") == SwitchState.ON
        )
    )


def test_statuses_record_running_and_disabled_devices(tmp_path: Path):
    appliance, _ = make(tmp_path, restore=False)
    try:
        assert [(s.name, s.status) for s in appliance.statuses] == [
            ("Relays", DriverStatus.RUNNING),
            ("Spare", DriverStatus.DISABLED),
        ]
        assert [d.devices()[0].devicename for d in appliance.drivers] == ["Relays"]
    finally:
        appliance.close()


async def test_outputs_go_to_their_safe_state_on_stop(tmp_path: Path):
    appliance, gpio = make(tmp_path, restore=False)
    pin = gpio.factory.pin("GPIO17")
    task, client = await serve(appliance)
    await switch_on(client)
    assert pin.state == 1
    await stop(appliance, task, client)
    assert pin.state == 0
    appliance.close()
    # With restore off nothing is written.
    assert not (tmp_path / "state.toml").exists()


async def test_with_restore_on_outputs_come_back_as_they_were(tmp_path: Path):
    appliance, _ = make(tmp_path, restore=True)
    task, client = await serve(appliance)
    await switch_on(client)
    await stop(appliance, task, client)
    appliance.close()
    await asyncio.get_running_loop().run_in_executor(None, lambda: None)
    for _ in range(200):
        if (tmp_path / "state.toml").exists():
            break
        await asyncio.sleep(0.01)
    saved = tomllib.loads((tmp_path / "state.toml").read_text())
    assert "Relays" in saved

    again, gpio2 = make(tmp_path, restore=True)
    try:
        assert gpio2.factory.pin("GPIO17").state == 1
        relay = again.drivers[0]["Relays"]["DIGITAL_OUTPUT_1"]
        assert relay["ON"] == "On"
    finally:
        again.close()


async def test_a_reload_whose_pin_factory_fails_can_be_undone(tmp_path: Path):
    appliance, _ = make(tmp_path, restore=False)
    good = appliance.config
    task, client = await serve(appliance)
    try:
        # Not a Raspberry Pi: the native pin factory cannot start here.
        broken = dataclasses.replace(
            good, gpio=dataclasses.replace(good.gpio, pin_factory="native")
        )
        with pytest.raises(HardwareError):
            await appliance.apply(broken)
        assert [(s.name, s.status) for s in appliance.statuses if s.name == "Relays"] == [
            ("Relays", DriverStatus.START_ERROR)
        ]
        await appliance.apply(good)
        assert [(s.name, s.status) for s in appliance.statuses if s.name == "Relays"] == [
            ("Relays", DriverStatus.RUNNING)
        ]
        await switch_on(client)
    finally:
        await stop(appliance, task, client)
        appliance.close()


async def wait_for_file(path: Path, text: str) -> None:
    """Wait until *path* holds *text* (saves are written off the loop)."""
    for _ in range(300):
        if path.exists() and text in path.read_text():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} was not written")


@pytest.mark.parametrize("restore", [False, True])
async def test_labels_and_pulse_durations_persist_across_a_restart(tmp_path: Path, restore: bool):
    # libindi saves DIGITAL_OUTPUT_LABELS and PULSE_i to its config
    # (indioutputinterface.cpp saveConfig); pi-indi to settings.toml in the
    # state directory, whether or not output states are restored. The TOML
    # config is never rewritten.
    appliance, _ = make(tmp_path, restore=restore)
    task, client = await serve(appliance)
    await client.send(
        NewTextVector(
            device="Relays", name="DIGITAL_OUTPUT_LABELS", values={"DIGITAL_OUTPUT_1": "Roof"}
        )
    )
    await client.expect(lambda e: isinstance(e, SetTextVector) and e.device == "Relays")
    await client.send(NewNumberVector(device="Relays", name="PULSE_0", values={"DURATION": "800"}))
    await client.expect(lambda e: isinstance(e, SetNumberVector) and e.name == "PULSE_0")
    await stop(appliance, task, client)
    appliance.close()
    await wait_for_file(tmp_path / "settings.toml", "pulse_ms")
    saved = tomllib.loads((tmp_path / "settings.toml").read_text())
    assert saved["Relays"]["labels"] == {"DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_1": "Roof"}}

    again, _ = make(tmp_path, restore=restore)
    task, client = await serve(again)
    try:
        defined: Any = await client.expect(
            lambda e: isinstance(e, DefSwitchVector) and e.name == "DIGITAL_OUTPUT_1"
        )
        assert defined.label == "Roof"
        device: Any = again.drivers[0]["Relays"]
        assert device["DIGITAL_OUTPUT_LABELS"]["DIGITAL_OUTPUT_1"] == "Roof"
        assert device["PULSE_0"].getfloatvalue("DURATION") == 800
    finally:
        await stop(again, task, client)
        again.close()
