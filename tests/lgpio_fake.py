"""A stand-in for lgpio's GPIO calls, recording what is done to each line.

Strict where lgpio (and the kernel under it) is: a line must be claimed before
it is read, written or debounced, and only an output can be written or run
PWM. Install it with :func:`install` (a pytest ``monkeypatch`` undoes it).
"""

from __future__ import annotations

from typing import Any

import gpiozero.pins.local
import pytest

#: gpio_get_mode's bits (lgpio's; gpiozero's LGPIOPin.GPIO_IS_*).
GPIO_IS_OUT = 1 << 1
#: The line flags a claim may give, as gpio_get_mode reports them back.
LINE_FLAGS = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7)

#: A Raspberry Pi 5's revision.
PI_5 = 0xD04170


class _Callback:
    def cancel(self) -> None:
        pass


class FakeLgpio:
    """Just enough of lgpio for gpiozero's LGPIOFactory, recording every call on a line."""

    def __init__(self, lgpio: Any) -> None:
        self.error = lgpio.error
        self.calls: list[tuple[Any, ...]] = []
        #: claimed lines: "input", "output" or "alert"
        self.modes: dict[int, str] = {}
        self.flags: dict[int, int] = {}
        #: the level each output drives
        self.levels: dict[int, int] = {}
        #: the level each input sees (what is wired to it); 0 unless set
        self.outside: dict[int, int] = {}

    # -- chip --

    def gpiochip_open(self, chip: int) -> int:
        self.calls.append(("gpiochip_open", chip))
        return 5

    def gpiochip_close(self, handle: int) -> int:
        self.calls.append(("gpiochip_close",))
        self.modes.clear()
        return 0

    # -- claims --

    def gpio_claim_input(self, handle: int, gpio: int, flags: int = 0) -> int:
        self.calls.append(("gpio_claim_input", gpio, flags))
        self.modes[gpio] = "input"
        self.flags[gpio] = flags
        return 0

    def gpio_claim_output(self, handle: int, gpio: int, level: int = 0, flags: int = 0) -> int:
        self.calls.append(("gpio_claim_output", gpio, int(level), flags))
        # As real lgpio on a kernel chip does (seen in the kernel's gpio
        # trace): a line this handle already holds as an output keeps its level.
        if self.modes.get(gpio) != "output":
            self.levels[gpio] = int(level)
        self.modes[gpio] = "output"
        self.flags[gpio] = flags
        return 0

    def gpio_claim_alert(
        self, handle: int, gpio: int, edges: int, flags: int = 0, notify: Any = None
    ) -> int:
        self.calls.append(("gpio_claim_alert", gpio, edges, flags))
        self.modes[gpio] = "alert"
        self.flags[gpio] = flags
        return 0

    def gpio_free(self, handle: int, gpio: int) -> int:
        self.calls.append(("gpio_free", gpio))
        self._claimed(gpio)
        del self.modes[gpio]
        return 0

    # -- use --

    def gpio_get_mode(self, handle: int, gpio: int) -> int:
        # Line info: it answers for a line nobody claimed as well.
        out = GPIO_IS_OUT if self.modes.get(gpio) == "output" else 0
        return out | (self.flags.get(gpio, 0) & LINE_FLAGS)

    def gpio_read(self, handle: int, gpio: int) -> int:
        self._claimed(gpio)
        if self.modes[gpio] == "output":
            return self.levels[gpio]
        return self.outside.get(gpio, 0)

    def gpio_write(self, handle: int, gpio: int, level: int) -> int:
        self.calls.append(("gpio_write", gpio, int(level)))
        self._output(gpio)
        self.levels[gpio] = int(level)
        return 0

    def tx_pwm(self, handle: int, gpio: int, frequency: float, duty: float, *args: int) -> int:
        self.calls.append(("tx_pwm", gpio, frequency, duty))
        self._output(gpio)
        return 0

    def gpio_set_debounce_micros(self, handle: int, gpio: int, micros: int) -> int:
        self.calls.append(("gpio_set_debounce_micros", gpio, micros))
        self._claimed(gpio)
        return 0

    def callback(self, handle: int, gpio: int, edges: int, func: Any) -> Any:
        return _Callback()

    # -- checks --

    def _claimed(self, gpio: int) -> None:
        if gpio not in self.modes:
            raise self.error("GPIO not allocated")

    def _output(self, gpio: int) -> None:
        self._claimed(gpio)
        if self.modes[gpio] != "output":
            raise self.error("GPIO not output")

    def for_line(self, gpio: int) -> list[tuple[Any, ...]]:
        """The calls made on line *gpio*, in order."""
        return [call for call in self.calls if len(call) > 1 and call[1] == gpio]

    def drives(self, gpio: int) -> list[int]:
        """Every level line *gpio* was driven at, in order (claims, writes, steady PWM)."""
        levels = []
        for call in self.for_line(gpio):
            if call[0] in ("gpio_claim_output", "gpio_write"):
                levels.append(call[2])
            elif call[0] == "tx_pwm" and call[2] and call[3] in (0, 100):
                levels.append(1 if call[3] == 100 else 0)
        return levels


def install(monkeypatch: pytest.MonkeyPatch) -> FakeLgpio:
    """Put a FakeLgpio in lgpio's place, on what looks like a Raspberry Pi 5."""
    lgpio = pytest.importorskip("lgpio")  # gpiozero's LGPIOFactory imports it
    fake = FakeLgpio(lgpio)
    for name in dir(fake):
        if name.startswith(("gpio", "tx_", "callback")):
            monkeypatch.setattr(lgpio, name, getattr(fake, name))
    monkeypatch.setattr(gpiozero.pins.local, "get_pi_revision", lambda: PI_5)
    return fake
