"""The distribution's shape: both import roots and the console script."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pi_indi


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
