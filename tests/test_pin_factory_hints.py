"""Off a Pi: one line per pin library, no library warnings, and the way to simulate the pins."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import gpiozero
import pytest

from pi_indi.errors import HardwareError
from pi_indi_drivers import _gpio
from pi_indi_drivers._gpio import Gpio

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def not_a_pi(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every pin library warns, as gpiozero's do when they fall back, then finds no Pi."""
    names: list[str] = []

    def factory_class(name: str) -> Any:
        def start() -> Any:
            names.append(name)
            warnings.warn(
                f"Falling back from {name}: no\nboard revision", gpiozero.PinFactoryFallback,
                stacklevel=1,
            )  # fmt: skip
            raise gpiozero.PinUnknownPi("unable to determine Pi revision")

        return start

    monkeypatch.setattr(_gpio, "_factory_class", factory_class)
    monkeypatch.setattr(_gpio, "_local_revision", lambda: None)
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    return names


def open_error(gpio: Gpio) -> str:
    with pytest.raises(HardwareError) as caught:
        gpio.open()
    return str(caught.value)


def test_a_named_factory_off_a_pi_names_mock_both_ways(not_a_pi: list[str]):
    message = open_error(Gpio("lgpio"))
    assert message.startswith("cannot start the lgpio pin factory: not a Raspberry Pi")
    assert "--mock" in message
    assert 'pin_factory = "mock"' in message
    assert "\n" not in message


def test_auto_off_a_pi_ends_with_how_to_simulate_the_pins(not_a_pi: list[str]):
    lines = open_error(Gpio("auto")).splitlines()
    assert not_a_pi == ["lgpio", "rpigpio", "pigpio", "native"]
    assert lines[0] == "no pin factory could start here:"
    assert len(lines) == 6
    assert "--mock" in lines[-1]
    assert 'pin_factory = "mock"' in lines[-1]


def test_the_libraries_warnings_are_logged_at_debug_not_shown(
    not_a_pi: list[str], caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG, logger="pi_indi_drivers")
    open_error(Gpio("auto"))  # filterwarnings("error"): one that got out would raise
    logged = [r for r in caplog.records if "PinFactoryFallback" in r.getMessage()]
    assert len(logged) == 4
    assert {r.levelno for r in logged} == {logging.DEBUG}


def test_a_pin_missing_on_the_simulated_board_says_it_is_simulated():
    with pytest.raises(ValueError, match=r"on a simulated Raspberry Pi 5B$"):
        Gpio("mock").resolve_pin("GPIO99")


def test_off_a_pi_pins_are_checked_on_the_simulated_board(not_a_pi: list[str]):
    with pytest.raises(
        ValueError, match=r"BOARD1 is not a GPIO pin on a simulated Raspberry Pi 5B$"
    ):
        Gpio("auto").resolve_pin("BOARD1")


def test_on_a_pi_its_own_board_is_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(_gpio, "_local_revision", lambda: "c03111")  # a Pi 4B
    with pytest.raises(ValueError, match=r"on a Raspberry Pi 4B$"):
        Gpio("lgpio").resolve_pin("GPIO99")
