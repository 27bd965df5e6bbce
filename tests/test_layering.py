"""The layers hold: gpiozero behind one module, drivers reached only as plugins."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_only_the_gpio_back_end_imports_gpiozero():
    importers = [
        str(path.relative_to(ROOT))
        for path in sources("pi_indi", "drivers/pi_indi_drivers")
        if any(m == "gpiozero" or m.startswith("gpiozero.") for m in imported_modules(path))
    ]
    assert importers == ["drivers/pi_indi_drivers/_gpio.py"]


def test_the_core_never_imports_a_driver_by_module_path():
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources("pi_indi")
        if any(m.startswith("pi_indi_drivers") for m in imported_modules(path))
    ]
    assert offenders == []
