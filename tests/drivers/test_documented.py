"""Every bundled driver's options have help, and its page's TOML examples are valid and build."""

from __future__ import annotations

import dataclasses

import pytest

from pi_indi.registry import bundled_driver_names, find_driver
from pi_indi_drivers._base import GpioDriver
from pi_indi_drivers._gpio import Gpio
from tests.drivers.conftest import documented_devices, make_context
from tests.helpers import DRIVER_PAGES


@pytest.mark.parametrize("name", bundled_driver_names())
def test_every_option_has_help(name: str):
    record = find_driver(name)
    assert record is not None
    assert record.cls is not None
    for field in dataclasses.fields(record.cls.options_class):
        assert field.metadata["help"], field.name


@pytest.mark.parametrize("page", sorted(set(DRIVER_PAGES.values())))
def test_the_documented_examples_are_valid_and_build(gpio: Gpio, page: str):
    devices = documented_devices(page)
    documented = {name for name, on in DRIVER_PAGES.items() if on == page}
    assert {d.driver for d in devices} <= documented
    assert devices
    for device in devices:
        assert device.record is not None
        assert device.record.cls is not None
        driver = device.record.cls.from_config(make_context(gpio, device.name, device.options))
        assert isinstance(driver, GpioDriver)
        driver.shutdown()
