"""The distribution's shape: both import roots and the console script."""

from __future__ import annotations

import importlib
import shlex
import subprocess
import sys
from pathlib import Path

import pi_indi

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "pi-indi.service"


def test_both_source_roots_import():
    drivers = importlib.import_module("pi_indi_drivers")
    assert drivers.__all__ == []
    assert pi_indi.IPyDriver.__name__ == "IPyDriver"


def test_cli_help_and_version():
    out = subprocess.run(
        [sys.executable, "-m", "pi_indi", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"pi-indi {pi_indi.__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "pi_indi", "run", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert "expected MODULE:CALLABLE" in out.stderr


def _unit_command(key: str) -> list[str]:
    (line,) = [line for line in UNIT.read_text().splitlines() if line.startswith(f"{key}=")]
    return shlex.split(line.removeprefix(f"{key}="))


def test_the_unit_reloads_with_pi_indi_reload_of_the_file_it_serves():
    start = _unit_command("ExecStart")
    reload = _unit_command("ExecReload")
    # A plain kill -HUP would make `systemctl reload` succeed before the file was read.
    assert reload[:4] == ["/usr/bin/pi-indi", "reload", "--pid", "$MAINPID"]
    assert reload[0] == start[0]
    assert reload[reload.index("--config") + 1] == start[start.index("--config") + 1]


def test_the_unit_does_not_restart_on_what_a_restart_cannot_fix():
    from pi_indi import cli

    # An invalid config, and a pin library that cannot start here.
    statuses = _unit_command("RestartPreventExitStatus")
    assert sorted(statuses) == sorted([str(cli.EX_CONFIG), str(cli.EX_UNAVAILABLE)])
