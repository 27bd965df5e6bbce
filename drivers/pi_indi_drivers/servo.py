"""Hobby servos (gpiozero Servo, AngularServo), one INDI device per config table.

The device has:

- ``SERVO_POSITION`` (Servo): number ``VALUE``, -1 (min) to 1 (max), or
  ``SERVO_ANGLE`` (AngularServo): number ``ANGLE`` in degrees, within
  ``min_angle``..``max_angle``;
- ``SERVO_ATTACH``: switch, rw, OneOfMany, ``ATTACH``/``DETACH``. Detached,
  the servo gets no pulses and goes limp (gpiozero's value None); attaching
  drives it to the position shown, and so does setting a new position.

Servos are driven by software PWM unless the pin factory is pigpio (which
does not run on a Pi 5); see the module's comment on PWMSoftwareFallback.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

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

__all__ = ["AngularServoDriver", "AngularServoOptions", "ServoDriver", "ServoOptions"]

logger = logging.getLogger(__name__)

# gpiozero 2.0.1 warns PWMSoftwareFallback ("To reduce servo jitter, use the
# pigpio pin factory") for every Servo on another factory (2.0.1.post3 no
# longer does). pigpio cannot run on a Pi 5 and lgpio's software PWM is what
# this service uses, so the advice is not actionable: the warning is dropped
# when the servo is made, and the choice is logged once, at INFO.
_JITTER_WARNING = r"To reduce servo jitter"


def _pulse_problems(opts: ServoOptions | AngularServoOptions) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if opts.min_pulse_width >= opts.max_pulse_width:
        found.append(("min_pulse_width", "must be less than max_pulse_width"))
    if opts.max_pulse_width >= opts.frame_width:
        found.append(("max_pulse_width", "must be less than frame_width"))
    return found


@dataclass(frozen=True, kw_only=True)
class ServoOptions:
    """The options of the servo driver."""

    pin: str = option(help="the servo's signal pin", pin=True)
    initial_value: float | None = option(
        None,
        help="position at start, -1 to 1 (when no saved state is restored); absent: detached",
        min=-1,
        max=1,
    )
    min_pulse_width: float = option(
        1.0, help="pulse width at the minimum position", min=0.1, max=10, unit="ms"
    )
    max_pulse_width: float = option(
        2.0, help="pulse width at the maximum position", min=0.1, max=10, unit="ms"
    )
    frame_width: float = option(20.0, help="time between pulses", min=2, max=100, unit="ms")
    restore: bool = option(True, help="start from the saved position when [state] restore is on")

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong across fields, as (key, message) pairs."""
        return _pulse_problems(self)


@dataclass(frozen=True, kw_only=True)
class AngularServoOptions:
    """The options of the angular servo driver."""

    pin: str = option(help="the servo's signal pin", pin=True)
    initial_angle: float | None = option(
        None,
        help="angle at start (when no saved state is restored); absent: detached",
        unit="°",
    )
    min_angle: float = option(-90.0, help="the angle at the minimum pulse width", unit="°")
    max_angle: float = option(90.0, help="the angle at the maximum pulse width", unit="°")
    min_pulse_width: float = option(
        1.0, help="pulse width at min_angle", min=0.1, max=10, unit="ms"
    )
    max_pulse_width: float = option(
        2.0, help="pulse width at max_angle", min=0.1, max=10, unit="ms"
    )
    frame_width: float = option(20.0, help="time between pulses", min=2, max=100, unit="ms")
    restore: bool = option(True, help="start from the saved angle when [state] restore is on")

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong across fields, as (key, message) pairs."""
        found = _pulse_problems(self)
        if self.min_angle == self.max_angle:
            found.append(("max_angle", "must differ from min_angle"))
        elif self.initial_angle is not None:
            low, high = sorted((self.min_angle, self.max_angle))
            if not low <= self.initial_angle <= high:
                found.append(("initial_angle", f"is outside {low:g}..{high:g}"))
        return found


class ServoDriver(OutputDriver):
    """A servo (gpiozero Servo): position -1..1, attach and detach."""

    options_class: ClassVar[type[Any]] = ServoOptions
    interface = AUX_INTERFACE
    #: The position vector and member, and the saved-state key.
    vector_name: ClassVar[str] = "SERVO_POSITION"
    member_name: ClassVar[str] = "VALUE"

    def build(self) -> list[PropertyVector[Any]]:
        """Make the servo, its position number and its attach switch."""
        opts = self.options
        low, high, initial = self._range()
        saved = self.restoring
        default = initial if initial is not None else (low + high) / 2
        position = saved_number(saved, "position", default, low, high)
        attached = saved.get("attached", initial is not None)
        if not isinstance(attached, bool):
            attached = initial is not None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_JITTER_WARNING, category=Warning)
            self.servo = self._create(opts, position if attached else None)
        if type(self.gpio.factory).__name__ != "PiGPIOFactory":
            logger.info("%s: servo pulses are software-timed", self.context.devicename)
        self.position = NumberVector(
            name=self.vector_name,
            label=self._label(),
            group=self.group,
            perm="rw",
            state="Ok",
            numbermembers=[self._member(low, high, position)],
        )
        self.attach = SwitchVector(
            name="SERVO_ATTACH",
            label="Pulses",
            group=self.group,
            perm="rw",
            rule="OneOfMany",
            state="Ok",
            switchmembers=[
                SwitchMember("ATTACH", "Attached", "On" if attached else "Off"),
                SwitchMember("DETACH", "Detached", "Off" if attached else "On"),
            ],
        )
        self.handle(self.position.name, self._on_position)
        self.handle(self.attach.name, self._on_attach)
        return [self.position, self.attach]

    # -- what AngularServoDriver changes --

    def _range(self) -> tuple[float, float, float | None]:
        return -1.0, 1.0, self.options.initial_value

    def _label(self) -> str:
        return "Position"

    def _member(self, low: float, high: float, value: float) -> NumberMember:
        return NumberMember("VALUE", "Value (-1 to 1)", "%.2f", low, high, 0.01, value)

    def _create(self, opts: Any, value: float | None) -> Any:
        return self.create(
            "Servo",
            pin=opts.pin,
            initial_value=value,
            min_pulse_width=opts.min_pulse_width / 1000,
            max_pulse_width=opts.max_pulse_width / 1000,
            frame_width=opts.frame_width / 1000,
        )

    def _drive(self, value: float | None) -> None:
        self.servo.value = value

    # -- requests --

    @property
    def attached(self) -> bool:
        """Whether the servo gets pulses (SERVO_ATTACH is ATTACH)."""
        return bool(self.attach["ATTACH"] == "On")

    def _show_attached(self, attached: bool) -> None:
        self.attach["ATTACH"] = "On" if attached else "Off"
        self.attach["DETACH"] = "Off" if attached else "On"

    async def _on_position(self, event: Any) -> None:
        value = event.getfloatvalue(self.member_name)
        if not await self.attempt(self.position, lambda: self._drive(value)):
            return
        self.position[self.member_name] = value
        self._show_attached(True)
        self.persist()
        await self.position.send_setVector(state="Ok")
        await self.attach.send_setVector(state="Ok")

    async def _on_attach(self, event: Any) -> None:
        attach = event.get("ATTACH") == "On"
        value = self.position.getfloatvalue(self.member_name) if attach else None
        if not await self.attempt(self.attach, lambda: self._drive(value)):
            return
        self._show_attached(attach)
        self.persist()
        await self.attach.send_setVector(state="Ok")

    # -- OutputDriver --

    def snapshot(self) -> dict[str, Any]:
        """Whether the servo is attached, and its position (value or angle)."""
        return {
            "attached": self.attached,
            "position": self.position.getfloatvalue(self.member_name),
        }

    def to_safe_state(self) -> None:
        """Detach: no more pulses, so the servo holds nothing when the service stops."""
        self._drive(None)


class AngularServoDriver(ServoDriver):
    """A servo set by angle (gpiozero AngularServo): angle in degrees, attach and detach."""

    options_class = AngularServoOptions
    vector_name = "SERVO_ANGLE"
    member_name = "ANGLE"

    def _range(self) -> tuple[float, float, float | None]:
        opts: AngularServoOptions = self.options
        low, high = sorted((opts.min_angle, opts.max_angle))
        return low, high, opts.initial_angle

    def _label(self) -> str:
        return "Angle"

    def _member(self, low: float, high: float, value: float) -> NumberMember:
        # A reversed servo (min_angle > max_angle) still takes low..high.
        return NumberMember("ANGLE", "Angle (°)", "%.1f", low, high, 1, value)

    def _create(self, opts: Any, value: float | None) -> Any:
        return self.create(
            "AngularServo",
            pin=opts.pin,
            initial_angle=value,
            min_angle=opts.min_angle,
            max_angle=opts.max_angle,
            min_pulse_width=opts.min_pulse_width / 1000,
            max_pulse_width=opts.max_pulse_width / 1000,
            frame_width=opts.frame_width / 1000,
        )

    def _drive(self, value: float | None) -> None:
        self.servo.angle = value
