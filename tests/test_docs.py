"""The example config and the docs cannot rot: every driver and every key is covered."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from pi_indi.config import GpioConfig, ServerConfig, StateConfig, load_config
from pi_indi.registry import bundled_driver_names, find_driver
from tests.helpers import DRIVER_PAGES

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "pi_indi" / "example.toml"


@pytest.mark.parametrize("path", ["deploy/pi-indi.example.toml", "docs/examples/pi-indi.toml"])
def test_the_example_config_is_one_file_in_three_places(path: str):
    assert (ROOT / path).resolve() == EXAMPLE.resolve()


def test_the_example_config_is_valid_and_uses_every_bundled_driver():
    config = load_config(EXAMPLE)
    assert sorted({d.driver for d in config.devices}) == bundled_driver_names()
    assert all(d.record is not None and d.record.cls is not None for d in config.devices)


def test_every_bundled_driver_has_a_page():
    assert sorted(DRIVER_PAGES) == bundled_driver_names()


@pytest.mark.parametrize("driver", sorted(DRIVER_PAGES))
def test_every_option_is_documented_on_the_driver_page(driver: str):
    record = find_driver(driver)
    assert record is not None
    assert record.cls is not None
    page = (ROOT / "docs" / "drivers" / f"{DRIVER_PAGES[driver]}.md").read_text()
    assert f"`{driver}`" in page
    missing = [
        f.name
        for f in dataclasses.fields(record.cls.options_class)
        if not re.search(rf"`{re.escape(f.name)}`", page)
    ]
    assert missing == []


@pytest.mark.parametrize("table", [ServerConfig, GpioConfig, StateConfig])
def test_every_core_key_is_in_the_configuration_reference(table: type):
    page = (ROOT / "docs" / "configuration.md").read_text()
    for f in dataclasses.fields(table):
        assert f"| `{f.name}` |" in page, f.name


def test_the_driver_pages_are_linked_from_the_reference():
    page = (ROOT / "docs" / "configuration.md").read_text()
    for name in set(DRIVER_PAGES.values()):
        assert f"(drivers/{name}.md)" in page
