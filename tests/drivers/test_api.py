"""The public plugin API: one module, importable without gpiozero, with no import circle."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pi_indi_drivers
import pi_indi_drivers.api as api

DRIVERS = Path(pi_indi_drivers.__file__).parent


def test_every_public_name_is_there():
    for name in api.__all__:
        assert getattr(api, name) is not None, name
    assert issubclass(api.PolledSensorDriver, api.GpioDriver)


def test_the_api_imports_without_gpiozero():
    # A plugin (and the simulation) must not need the pin library to load.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pi_indi_drivers.api; assert 'gpiozero' not in sys.modules, 'gpiozero'",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_gpiozero_adapter_does_not_build_the_simulation_device():
    # The appliance builds the mock control device (entry point
    # pi_indi.simulation) from what the back end simulates.
    assert "pi_indi_drivers.mock_control" not in _imports(DRIVERS / "_gpio.py")
    assert "gpiozero" not in " ".join(_imports(DRIVERS / "_simulation.py"))


@pytest.mark.parametrize("module", ["kernel_sensors", "weather", "dew_heater"])
def test_the_newer_drivers_use_the_public_api_only(module: str):
    # Written as a plugin would be: pi_indi_drivers.api, and pi_indi's public names.
    imported = _imports(DRIVERS / f"{module}.py")
    ours = {name for name in imported if name.startswith("pi_indi")}
    assert ours <= {"pi_indi", "pi_indi.protocol", "pi_indi_drivers.api"}, ours
