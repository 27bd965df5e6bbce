"""Mock pins keep a bounded history: gpiozero's MockPin appends every change to
``states`` forever, so a client toggling a simulated pin would grow memory without end."""

from __future__ import annotations

from typing import Any

from gpiozero.pins.mock import (
    MockChargingPin,
    MockPin,
    MockPWMPin,
    MockSPIClockPin,
    MockSPISelectPin,
    MockTriggerPin,
)

TOGGLES = 100_000
#: What the history may hold at most (the back end keeps MOCK_PIN_HISTORY).
MOCK_PIN_HISTORY = 1000


def toggle_output(pin: Any) -> None:
    pin.function = "output"
    for n in range(TOGGLES):
        pin.state = n % 2


def test_a_toggled_mock_output_keeps_a_bounded_history(gpio):
    pin = gpio.factory.pin("GPIO17")
    assert isinstance(pin, MockPWMPin)
    toggle_output(pin)
    assert 1 < len(pin.states) <= MOCK_PIN_HISTORY
    assert pin.states[-1].state == (TOGGLES - 1) % 2


def test_a_driven_mock_input_keeps_a_bounded_history(gpio):
    pin = gpio.factory.pin("GPIO22")
    for _ in range(TOGGLES // 2):
        pin.drive_high()
        pin.drive_low()
    assert 1 < len(pin.states) <= MOCK_PIN_HISTORY


def test_every_mock_pin_class_is_bounded(gpio):
    # The classes the mock back end and gpiozero's MockSPIDevice ask for.
    for name, cls in [
        ("GPIO5", MockPin),
        ("GPIO6", MockChargingPin),
        ("GPIO13", MockTriggerPin),
        ("GPIO11", MockSPIClockPin),
        ("GPIO8", MockSPISelectPin),
    ]:
        pin = gpio.factory.pin(name, pin_class=cls)
        assert isinstance(pin, cls)
        assert type(pin).__name__ == cls.__name__
        pin.function = "output"
        for n in range(3 * MOCK_PIN_HISTORY):
            pin._change_state(bool(n % 2))
        assert len(pin.states) <= MOCK_PIN_HISTORY, name


def test_the_history_length_is_what_the_back_end_says():
    from pi_indi_drivers import _gpio

    assert 100 <= _gpio.MOCK_PIN_HISTORY <= MOCK_PIN_HISTORY


def test_gpiozero_test_helpers_still_work(gpio):
    pin = gpio.factory.pin("GPIO17")
    pin.function = "output"
    pin.clear_states()
    pin.state = 1
    pin.state = 0
    pin.assert_states([0, 1, 0])
    assert [s.state for s in pin.states] == [0, 1, 0]
    pin.clear_states()
    assert len(pin.states) == 1
    toggle_output(pin)
    pin.clear_states()
    assert len(pin.states) == 1
    pin.state = 0
    pin.assert_states([1, 0])
    assert len(pin.states) == 2
