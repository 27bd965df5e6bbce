"""A reload starts the pin factory as ``build()`` does: with the first device that uses pins.

So a reload to a config of devices needing no pins (system sensors, or no
devices at all) works where no pin library can start, and one whose pin
factory cannot start tries it once and says why.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import pytest

from pi_indi.appliance import Appliance
from pi_indi.config import Config, parse_config
from pi_indi.errors import HardwareError
from pi_indi.registry import DriverStatus
from pi_indi_drivers import _gpio
from pi_indi_drivers._gpio import Gpio

MOCK_RELAY = """\
[[device]]
driver = "relay"
name = "Relays"
pins = [17]
"""

SENSORS = """\
[[device]]
driver = "load_average"
name = "Load"
[[device]]
driver = "disk_usage"
name = "Disk"
filesystem = "{tmp_path}"
"""

PIN_DEVICES = """\
[[device]]
driver = "relay"
name = "Roof"
pins = [17]
[[device]]
driver = "led"
name = "Lamp"
pins = [27]
"""


def config(factory: str, devices: str) -> Config:
    parsed = parse_config(
        f'[server]\nhost = "127.0.0.1"\n[gpio]\npin_factory = "{factory}"\n{devices}'
    )
    return dataclasses.replace(parsed, server=dataclasses.replace(parsed.server, port=0))


@pytest.fixture
def tried(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No pin factory but the mock can start; the names tried are recorded, in order."""
    names: list[str] = []
    real = _gpio._factory_class

    def factory_class(name: str) -> Any:
        if name == "mock":
            return real(name)

        def start() -> Any:
            names.append(name)
            warnings.warn(f"{name} is falling back", RuntimeWarning, stacklevel=1)
            raise RuntimeError(f"{name} refused")

        return start

    monkeypatch.setattr(_gpio, "_factory_class", factory_class)
    monkeypatch.setattr(_gpio, "_gpiochip_problem", lambda: None)
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    return names


def statuses(appliance: Appliance) -> list[tuple[str, DriverStatus]]:
    return [(s.name, s.status) for s in appliance.statuses]


async def test_a_reload_to_devices_needing_no_pins_works_where_no_pin_library_starts(
    tried: list[str], tmp_path: Path
):
    appliance = Appliance(config("mock", MOCK_RELAY), hardware=Gpio("mock"))
    appliance.build()
    try:
        await appliance.apply(config("lgpio", SENSORS.format(tmp_path=tmp_path)))
        assert statuses(appliance) == [
            ("Load", DriverStatus.RUNNING),
            ("Disk", DriverStatus.RUNNING),
        ]
        assert appliance.hardware.open_error is None  # type: ignore[attr-defined]
    finally:
        appliance.close()
    assert tried == []


async def test_a_reload_to_no_devices_works_where_no_pin_library_starts(tried: list[str]):
    appliance = Appliance(config("mock", MOCK_RELAY), hardware=Gpio("mock"))
    appliance.build()
    try:
        await appliance.apply(config("auto", ""))
        assert appliance.running == {}
    finally:
        appliance.close()
    assert tried == []


async def test_a_reload_whose_pin_factory_cannot_start_tries_it_once_and_says_why(
    tried: list[str], tmp_path: Path
):
    appliance = Appliance(config("mock", MOCK_RELAY), hardware=Gpio("mock"))
    appliance.build()
    try:
        new = config("lgpio", SENSORS.format(tmp_path=tmp_path) + PIN_DEVICES)
        with pytest.raises(
            HardwareError, match="cannot start the lgpio pin factory: lgpio refused"
        ):
            await appliance.apply(new)
        assert statuses(appliance) == [
            ("Load", DriverStatus.RUNNING),
            ("Disk", DriverStatus.RUNNING),
            ("Roof", DriverStatus.START_ERROR),
            ("Lamp", DriverStatus.START_ERROR),
        ]
        reasons = {s.error for s in appliance.statuses if s.status is DriverStatus.START_ERROR}
        assert reasons == {"cannot start the lgpio pin factory: lgpio refused"}
        assert sorted(appliance.running) == ["Disk", "Load"]
    finally:
        appliance.close()
    assert tried == ["lgpio"]  # once, not once per device


async def test_after_a_reload_whose_pin_factory_failed_devices_needing_no_pins_still_build(
    tried: list[str], tmp_path: Path
):
    appliance = Appliance(config("mock", MOCK_RELAY), hardware=Gpio("mock"))
    appliance.build()
    try:
        with pytest.raises(HardwareError):
            await appliance.apply(config("lgpio", PIN_DEVICES))
        # Same [gpio] table: the back end (and why it failed) is kept.
        await appliance.apply(config("lgpio", SENSORS.format(tmp_path=tmp_path)))
        assert statuses(appliance) == [
            ("Load", DriverStatus.RUNNING),
            ("Disk", DriverStatus.RUNNING),
        ]
    finally:
        appliance.close()
    assert tried == ["lgpio"]
