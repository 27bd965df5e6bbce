"""An RGB LED on three pins (gpiozero RGBLED), one INDI device per config table.

The device has:

- ``DIGITAL_OUTPUT_1``: switch, rw, AtMostOne, ``OFF``/``ON``: the LED's power;
- ``RGB_COLOR``: numbers ``RED``, ``GREEN``, ``BLUE``, each 0-100 %.

Colours are in percent, like the PWM driver's duty cycle. A colour with any
channel above 0 lights the LED at that colour and turns it ON; all 0 turns it
OFF. OFF darkens the LED but ``RGB_COLOR`` keeps the colour ON returns to
(white when it is all 0). Without PWM (``pwm = false``) each channel is 0 or
100.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from pi_indi.config import option
from pi_indi.properties import (
    NumberMember,
    NumberVector,
    PropertyVector,
    SwitchMember,
    SwitchVector,
)
from pi_indi_drivers._output import OutputDriver, requested_on, saved_number

__all__ = ["RGBLEDDriver", "RGBLEDOptions"]

logger = logging.getLogger(__name__)

CHANNELS = ("RED", "GREEN", "BLUE")
WHITE = (100.0, 100.0, 100.0)


@dataclass(frozen=True, kw_only=True)
class RGBLEDOptions:
    """The options of the RGB LED driver."""

    red: str = option(help="the red pin", pin=True)
    green: str = option(help="the green pin", pin=True)
    blue: str = option(help="the blue pin", pin=True)
    active_high: bool = option(
        True, help="true for a common-cathode LED; false for common-anode (on drives low)"
    )
    pwm: bool = option(True, help="dim each colour with PWM; false: each colour is fully on or off")
    initial_color: tuple[float, ...] = option(
        (0.0, 0.0, 0.0),
        help="[red, green, blue] at start, 0-100 % (when no saved state is restored)",
        min=0,
        max=100,
        unit="%",
    )
    safe_state: Literal["off", "on"] = option(
        "off", help="when the service stops: off, or on at the RGB_COLOR colour"
    )
    restore: bool = option(
        True, help="start from the saved colour and power when [state] restore is on"
    )

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong across fields, as (key, message) pairs."""
        found: list[tuple[str, str]] = []
        if len({self.red, self.green, self.blue}) != 3:
            found.append(("red", "red, green and blue must be three different pins"))
        if len(self.initial_color) != 3:
            found.append(
                ("initial_color", f"has {len(self.initial_color)} values, not [red, green, blue]")
            )
        elif not self.pwm and any(c not in (0, 100) for c in self.initial_color):
            found.append(("initial_color", "without PWM each colour is 0 or 100"))
        return found


class RGBLEDDriver(OutputDriver):
    """An RGB LED (gpiozero RGBLED): power on/off and a colour in percent per channel."""

    options_class = RGBLEDOptions

    def build(self) -> list[PropertyVector[Any]]:
        """Make the RGBLED, its power switch and its colour numbers."""
        opts: RGBLEDOptions = self.options
        saved = self.restoring
        default = tuple(opts.initial_color) if len(opts.initial_color) == 3 else (0.0,) * 3
        color = tuple(
            saved_number(saved, name.lower(), value, 0, 100)
            for name, value in zip(CHANNELS, default, strict=True)
        )
        if not opts.pwm:
            color = tuple(100.0 if c >= 50 else 0.0 for c in color)
        on = saved.get("on", any(color))
        if not isinstance(on, bool):
            on = any(color)
        if on and not any(color):
            color = WHITE
        self.led = self.create(
            "RGBLED",
            red=opts.red,
            green=opts.green,
            blue=opts.blue,
            active_high=opts.active_high,
            pwm=opts.pwm,
            initial_value=tuple(c / 100 for c in color) if on else (0, 0, 0),
        )
        self.switch = SwitchVector(
            name="DIGITAL_OUTPUT_1",
            label="Power",
            group=self.group,
            perm="rw",
            rule="AtMostOne",
            state="Ok",
            switchmembers=[
                SwitchMember("OFF", "Off", "Off" if on else "On"),
                SwitchMember("ON", "On", "On" if on else "Off"),
            ],
        )
        step = 1 if opts.pwm else 100
        self.color = NumberVector(
            name="RGB_COLOR",
            label="Colour",
            group=self.group,
            perm="rw",
            state="Ok",
            numbermembers=[
                NumberMember(name, f"{name.title()} (%)", "%.0f", 0, 100, step, value)
                for name, value in zip(CHANNELS, color, strict=True)
            ],
        )
        self.handle(self.switch.name, self._on_switch)
        self.handle(self.color.name, self._on_color)
        return [self.switch, self.color]

    @property
    def is_on(self) -> bool:
        """Whether DIGITAL_OUTPUT_1 is ON."""
        return bool(self.switch["ON"] == "On")

    def _current(self) -> tuple[float, ...]:
        return tuple(self.color.getfloatvalue(name) for name in CHANNELS)

    def _show(self, on: bool, color: tuple[float, ...]) -> None:
        self.switch["ON"] = "On" if on else "Off"
        self.switch["OFF"] = "Off" if on else "On"
        for name, value in zip(CHANNELS, color, strict=True):
            self.color[name] = value

    async def _on_switch(self, event: Any) -> None:
        on = requested_on(event)
        if on is None:
            await self.switch.send_setVectorMembers(members=("OFF", "ON"))  # as it is
            return
        color = self._current()
        if on and not any(color):
            color = WHITE

        def apply() -> None:
            if on:
                self.led.value = tuple(c / 100 for c in color)
            else:
                self.led.off()

        if not await self.attempt(self.switch, apply):
            return
        self._show(on, color)
        self.persist()
        await self.switch.send_setVector(state="Ok")
        await self.color.send_setVector(state="Ok")

    async def _on_color(self, event: Any) -> None:
        color = tuple(
            event.getfloatvalue(name) if name in event else value
            for name, value in zip(CHANNELS, self._current(), strict=True)
        )
        if not self.options.pwm and any(c not in (0, 100) for c in color):
            await self.refuse(self.color, "without PWM each colour is 0 or 100")
            return

        def apply() -> None:
            self.led.value = tuple(c / 100 for c in color)

        if not await self.attempt(self.color, apply):
            return
        self._show(any(color), color)
        self.persist()
        await self.color.send_setVector(state="Ok")
        await self.switch.send_setVector(state="Ok")

    # -- OutputDriver --

    def snapshot(self) -> dict[str, Any]:
        """Whether the LED is on, and its colour (% per channel)."""
        return {
            "on": self.is_on,
            **{name.lower(): self.color.getfloatvalue(name) for name in CHANNELS},
        }

    def to_safe_state(self) -> None:
        """``safe_state`` "off": dark; "on": the RGB_COLOR colour (white when all 0)."""
        if self.options.safe_state == "on":
            color = self._current()
            self.led.value = tuple(c / 100 for c in (color if any(color) else WHITE))
        else:
            self.led.off()
