"""A DC motor through an H-bridge (gpiozero Motor), one INDI device per config table.

The device has:

- ``MOTOR_SPEED``: number ``SPEED``, -1 (full backward) to 1 (full forward);
  without PWM (``pwm = false``) only -1, 0 and 1;
- ``MOTOR_STOP``: switch, rw, AtMostOne, one member ``STOP``: a button that
  stops the motor (speed 0); it reads Off again once done.

The motor always stops when the service stops, and by default does not
restart at the saved speed (``restore = false``): a motor that starts by
itself is a hazard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pi_indi.config import option
from pi_indi.properties import (
    NumberMember,
    NumberVector,
    PropertyVector,
    SwitchMember,
    SwitchVector,
)
from pi_indi_drivers._base import AUX_INTERFACE
from pi_indi_drivers._output import OutputDriver, saved_number

__all__ = ["MotorDriver", "MotorOptions"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class MotorOptions:
    """The options of the motor driver."""

    forward: str = option(help="the H-bridge input that drives the motor forward", pin=True)
    backward: str = option(help="the H-bridge input that drives the motor backward", pin=True)
    enable: str | None = option(
        None, help="the H-bridge enable pin, held on while the motor runs (optional)", pin=True
    )
    pwm: bool = option(
        True, help="vary the speed with PWM on forward/backward; false: speed is -1, 0 or 1"
    )
    restore: bool = option(
        False, help="restart at the saved speed when [state] restore is on (off: always stopped)"
    )

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong across fields, as (key, message) pairs."""
        pins = [self.forward, self.backward] + ([self.enable] if self.enable else [])
        if len(set(pins)) != len(pins):
            return [("backward", "forward, backward and enable must be different pins")]
        return []


class MotorDriver(OutputDriver):
    """A DC motor (gpiozero Motor): speed -1..1 and a stop button."""

    options_class = MotorOptions
    interface = AUX_INTERFACE

    def build(self) -> list[PropertyVector[Any]]:
        """Make the motor, its speed number and its stop button."""
        opts: MotorOptions = self.options
        speed = saved_number(self.restoring, "speed", 0.0, -1, 1)
        if not opts.pwm and speed not in (-1, 0, 1):
            speed = 0.0
        kwargs: dict[str, Any] = {"forward": opts.forward, "backward": opts.backward}
        if opts.enable is not None:
            kwargs["enable"] = opts.enable
        self.motor = self.create("Motor", pwm=opts.pwm, **kwargs)
        if speed:
            self.motor.value = speed
        self.speed = NumberVector(
            name="MOTOR_SPEED",
            label="Speed",
            group=self.group,
            perm="rw",
            state="Ok",
            numbermembers=[
                NumberMember(
                    "SPEED",
                    "Speed (-1 to 1)",
                    "%.2f",
                    -1,
                    1,
                    0.01 if opts.pwm else 1,
                    speed,
                )
            ],
        )
        self.stop_button = SwitchVector(
            name="MOTOR_STOP",
            label="Stop",
            group=self.group,
            perm="rw",
            rule="AtMostOne",
            state="Idle",
            switchmembers=[SwitchMember("STOP", "Stop")],
        )
        self.handle(self.speed.name, self._on_speed)
        self.handle(self.stop_button.name, self._on_stop)
        return [self.speed, self.stop_button]

    async def _on_speed(self, event: Any) -> None:
        speed = event.getfloatvalue("SPEED")
        if not self.options.pwm and speed not in (-1, 0, 1):
            await self.refuse(self.speed, "without PWM the speed is -1, 0 or 1")
            return

        def apply() -> None:
            self.motor.value = speed

        if not await self.attempt(self.speed, apply):
            return
        self.speed["SPEED"] = speed
        self.persist()
        await self.speed.send_setVector(state="Ok")

    async def _on_stop(self, event: Any) -> None:
        if event.get("STOP") != "On":
            # Releasing the button: nothing to do but acknowledge it.
            await self.stop_button.send_setVector(state="Ok")
            return
        if not await self.attempt(self.stop_button, self.motor.stop):
            return
        self.speed["SPEED"] = 0
        self.stop_button["STOP"] = "Off"  # a button: it reads Off once done
        self.persist()
        await self.stop_button.send_setVector(state="Ok")
        await self.speed.send_setVector(state="Ok")

    # -- OutputDriver --

    def snapshot(self) -> dict[str, Any]:
        """The speed, -1..1."""
        return {"speed": self.speed.getfloatvalue("SPEED")}

    def to_safe_state(self) -> None:
        """Stop the motor."""
        self.motor.stop()
