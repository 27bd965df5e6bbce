"""PWM outputs: dimmable LEDs, dew heaters, fans; one pin per config table.

The device has:

- ``DIGITAL_OUTPUT_1``: switch, rw, AtMostOne, ``OFF``/``ON`` (the standard
  output names, so KStars and Ekos show it as an output);
- ``PULSE_0``: libindi's pulse mode (group "Pulse Mode", ``DURATION`` 0-60000
  ms): ON with a duration above 0 turns the output off again after it;
- ``DIGITAL_OUTPUT_LABELS``: text, rw, member ``DIGITAL_OUTPUT_1`` (libindi's);
- ``PWM_OUTPUT_1``: numbers ``DUTY_CYCLE`` (0-100 %) and ``FREQUENCY`` (Hz).

A duty cycle above 0 runs the output at that level and turns it ON; 0 turns
it OFF. OFF stops the output but ``DUTY_CYCLE`` keeps the level ON returns to
(100 % when it is 0). A new frequency applies at once, on or off.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pi_indi.config import option
from pi_indi.properties import (
    NumberMember,
    NumberVector,
    PropertyVector,
    SwitchMember,
    SwitchVector,
)
from pi_indi_drivers._output import OutputDriver, requested_on, saved_number

__all__ = ["PWMLEDDriver", "PWMOptions", "PWMOutputDriver"]

logger = logging.getLogger(__name__)

#: lgpio's software PWM runs from 0.1 Hz to 10 kHz; below 1 Hz is blinking.
MIN_FREQUENCY = 1.0
MAX_FREQUENCY = 10_000.0
#: The longest pulse, in ms (libindi's PULSE_i DURATION maximum).
MAX_PULSE_MS = 60_000.0


@dataclass(frozen=True, kw_only=True)
class PWMOptions:
    """The options of the PWM LED and PWM output drivers."""

    pin: str = option(help="the PWM output pin", pin=True)
    active_high: bool = option(
        True, help="true: full duty drives the pin high; false: it drives it low"
    )
    initial_duty: float = option(
        0.0,
        help="duty cycle at start (when no saved state is restored); above 0 the output starts on",
        min=0,
        max=100,
        unit="%",
    )
    frequency: float = option(
        100.0, help="PWM frequency at start", min=MIN_FREQUENCY, max=MAX_FREQUENCY, unit="Hz"
    )
    safe_state: Literal["off", "on"] = option(
        "off", help="when the service stops: off (duty 0) or on (at DUTY_CYCLE)"
    )
    restore: bool = option(
        True, help="start from the saved duty, frequency and on/off when [state] restore is on"
    )


class PWMOutputDriver(OutputDriver):
    """A PWM output (gpiozero PWMOutputDevice): on/off, duty cycle and frequency."""

    options_class = PWMOptions
    #: The gpiozero class the pin is made with.
    device_class: ClassVar[str] = "PWMOutputDevice"
    #: The label of DIGITAL_OUTPUT_1.
    noun: ClassVar[str] = "PWM output"

    def build(self) -> list[PropertyVector[Any]]:
        """Make the PWM device, its on/off switch and its duty/frequency numbers."""
        opts: PWMOptions = self.options
        saved = self.restoring
        duty = saved_number(saved, "duty", opts.initial_duty, 0, 100)
        frequency = saved_number(saved, "frequency", opts.frequency, MIN_FREQUENCY, MAX_FREQUENCY)
        on = saved.get("on", duty > 0)
        if not isinstance(on, bool):
            on = duty > 0
        if on and duty == 0:
            duty = 100.0
        self.pwm = self.create(
            self.device_class,
            pin=opts.pin,
            active_high=opts.active_high,
            initial_value=duty / 100 if on else 0.0,
            frequency=frequency,
        )
        label = self.label_for("DIGITAL_OUTPUT_LABELS", "DIGITAL_OUTPUT_1", self.noun)
        self.switch = SwitchVector(
            name="DIGITAL_OUTPUT_1",
            label=label,
            group=self.group,
            perm="rw",
            rule="AtMostOne",
            state="Ok",
            switchmembers=[
                SwitchMember("OFF", "Off", "Off" if on else "On"),
                SwitchMember("ON", "On", "On" if on else "Off"),
            ],
        )
        self.numbers = NumberVector(
            name="PWM_OUTPUT_1",
            label="PWM",
            group=self.group,
            perm="rw",
            state="Ok",
            numbermembers=[
                NumberMember("DUTY_CYCLE", "Duty cycle (%)", "%.1f", 0, 100, 1, duty),
                NumberMember(
                    "FREQUENCY",
                    "Frequency (Hz)",
                    "%.1f",
                    MIN_FREQUENCY,
                    MAX_FREQUENCY,
                    1,
                    frequency,
                ),
            ],
        )
        durations = self.settings.get("pulse_ms")
        self.pulse = NumberVector(
            name="PULSE_0",
            label=label,
            group="Pulse Mode",
            perm="rw",
            state="Idle",
            numbermembers=[
                NumberMember(
                    "DURATION",
                    "Duration (ms)",
                    "%.0f",
                    0,
                    MAX_PULSE_MS,
                    100,
                    saved_number(
                        durations if isinstance(durations, dict) else {},
                        "PULSE_0",
                        0.0,
                        0.0,
                        MAX_PULSE_MS,
                    ),
                )
            ],
        )
        self.pulse_task: asyncio.Task[None] | None = None
        self.handle(self.switch.name, self._on_switch)
        self.handle(self.numbers.name, self._on_numbers)
        self.handle(self.pulse.name, self._on_pulse)
        labels = self.labels_vector(
            "DIGITAL_OUTPUT_LABELS", "Labels", [("DIGITAL_OUTPUT_1", "Output #1", label)]
        )
        return [self.switch, self.pulse, self.numbers, labels]

    @property
    def is_on(self) -> bool:
        """Whether DIGITAL_OUTPUT_1 is ON."""
        return bool(self.switch["ON"] == "On")

    def _show(self, on: bool) -> None:
        self.switch["ON"] = "On" if on else "Off"
        self.switch["OFF"] = "Off" if on else "On"

    async def _on_pulse(self, event: Any) -> None:
        # libindi's pulse mode: a setting, used by the next ON.
        self.pulse["DURATION"] = event.getfloatvalue("DURATION")
        self.settings["pulse_ms"] = {"PULSE_0": self.pulse.getfloatvalue("DURATION")}
        self.save_settings()
        await self.pulse.send_setVector(state="Ok")

    async def _cancel_pulse(self) -> None:
        task, self.pulse_task = self.pulse_task, None
        if task is not None and not task.done():
            task.cancel()
            await self.pulse.send_setVector(state="Idle", message="pulse cancelled")

    async def _end_pulse(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.pulse_task = None
        async with self.hardware_errors(self.pulse, self.switch) as guard:
            self.pwm.value = 0.0
        if guard.failed:
            return
        self._show(False)
        self.persist()
        await self.switch.send_setVector(state="Ok")
        await self.pulse.send_setVector(state="Ok")

    async def _on_switch(self, event: Any) -> None:
        on = requested_on(event)
        if on is None:
            await self.switch.send_setVectorMembers(members=("OFF", "ON"))  # as it is
            return
        if on and self.is_on:
            # As libindi's OutputInterface: no change, no command (a pulse runs on).
            await self.switch.send_setVector(state="Ok")
            return
        await self._cancel_pulse()
        duty = self.numbers.getfloatvalue("DUTY_CYCLE")
        if on and duty == 0:
            duty = 100.0

        def apply() -> None:
            self.pwm.value = duty / 100 if on else 0.0

        if not await self.attempt(self.switch, apply):
            return
        self._show(on)
        self.numbers["DUTY_CYCLE"] = duty
        self.persist()
        await self.switch.send_setVector(state="Ok")
        await self.numbers.send_setVector(state="Ok")
        duration = self.pulse.getfloatvalue("DURATION")
        if on and duration > 0:
            await self.pulse.send_setVector(state="Busy")
            self.pulse_task = self.start_task(self._end_pulse(duration / 1000))

    async def _on_numbers(self, event: Any) -> None:
        frequency = event.getfloatvalue("FREQUENCY") if "FREQUENCY" in event else None
        duty = event.getfloatvalue("DUTY_CYCLE") if "DUTY_CYCLE" in event else None

        def apply() -> None:
            if frequency is not None:
                self.pwm.frequency = frequency
            if duty is not None:
                self.pwm.value = duty / 100

        if not await self.attempt(self.numbers, apply):
            return
        if frequency is not None:
            self.numbers["FREQUENCY"] = frequency
        if duty is not None:
            self.numbers["DUTY_CYCLE"] = duty
            self._show(duty > 0)
        self.persist()
        await self.numbers.send_setVector(state="Ok")
        await self.switch.send_setVector(state="Ok")

    # -- OutputDriver --

    def snapshot(self) -> dict[str, Any]:
        """Whether the output is on, its duty cycle (%) and frequency (Hz)."""
        return {
            "on": self.is_on,
            "duty": self.numbers.getfloatvalue("DUTY_CYCLE"),
            "frequency": self.numbers.getfloatvalue("FREQUENCY"),
        }

    def to_safe_state(self) -> None:
        """``safe_state`` "off": duty 0; "on": the DUTY_CYCLE level (100 % when 0)."""
        if self.pulse_task is not None:
            self.pulse_task.cancel()
            self.pulse_task = None
        if self.options.safe_state == "on":
            duty = self.numbers.getfloatvalue("DUTY_CYCLE") or 100.0
            self.pwm.value = duty / 100
        else:
            self.pwm.off()


class PWMLEDDriver(PWMOutputDriver):
    """A dimmable LED (gpiozero PWMLED): on/off, brightness (duty cycle) and frequency."""

    device_class = "PWMLED"
    noun = "LED"
