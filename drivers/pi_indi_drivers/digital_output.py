"""Digital outputs: LEDs, relays and buzzers, one INDI device per config table.

Each pin in ``pins`` is output *n* (from 1) with libindi's OutputInterface
names (``libs/indibase/indioutputinterface.cpp``), which KStars, Ekos and
libindi drivers such as Universal ROR know:

- ``DIGITAL_OUTPUT_n``: switch, rw, AtMostOne, ``OFF``/``ON``;
- ``PULSE_i`` (``i = n - 1``: libindi numbers them from 0), group "Pulse
  Mode": number ``DURATION`` in ms (0-60000), a setting: switching the output
  ON with a duration above 0 turns it off again after that long (the vector
  is Busy meanwhile); 0 is a plain on;
- ``DIGITAL_OUTPUT_LABELS``: text, rw, one member per output named
  ``DIGITAL_OUTPUT_n``: a client edit is applied and saved;

and, pi-indi's own, ``BLINK_n``: numbers ``ON_TIME``/``OFF_TIME`` in seconds:
blink until the next ``DIGITAL_OUTPUT_n`` request.

Blinking is gpiozero's own (``blink(background=True)``, on gpiozero's thread);
a pulse is timed on the event loop, so neither blocks it.
"""

from __future__ import annotations

import asyncio
import functools
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

__all__ = [
    "BuzzerDriver",
    "DigitalOutputDriver",
    "DigitalOutputOptions",
    "LEDDriver",
    "RelayDriver",
]

logger = logging.getLogger(__name__)

#: The longest pulse, in ms (libindi's PULSE_i DURATION maximum).
MAX_PULSE_MS = 60_000.0
#: The shortest and longest blink phase, in seconds.
MIN_BLINK_S = 0.01
MAX_BLINK_S = 3600.0

Mode = Literal["off", "on", "pulse", "blink"]


@dataclass(frozen=True, kw_only=True)
class DigitalOutputOptions:
    """The options of the LED, relay and buzzer drivers."""

    pins: tuple[str, ...] = option(help="the output pins, one INDI output each", pin=True)
    labels: tuple[str, ...] = option(
        (), help="a label per pin, in the same order (default: 'LED 1', 'LED 2', ...)"
    )
    active_high: bool = option(
        True, help="true: on drives the pin high; false: on drives it low (active-low boards)"
    )
    initial_value: bool = option(
        False, help="whether the outputs start on (when no saved state is restored)"
    )
    safe_state: Literal["off", "on"] = option(
        "off", help="what every output is set to when the service stops"
    )
    restore: bool = option(
        True, help="start from the saved output state when [state] restore is on"
    )
    blink_on_time: float = option(
        0.5, help="BLINK_n ON_TIME at start", min=MIN_BLINK_S, max=MAX_BLINK_S, unit="s"
    )
    blink_off_time: float = option(
        0.5, help="BLINK_n OFF_TIME at start", min=MIN_BLINK_S, max=MAX_BLINK_S, unit="s"
    )

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong across fields, as (key, message) pairs."""
        found: list[tuple[str, str]] = []
        if not self.pins:
            found.append(("pins", "needs at least one pin"))
        elif len(set(self.pins)) != len(self.pins):
            found.append(("pins", "lists the same pin twice"))
        if self.labels and len(self.labels) != len(self.pins):
            found.append(("labels", f"has {len(self.labels)} labels for {len(self.pins)} pins"))
        return found


@dataclass(eq=False)
class _Output:
    number: int
    pin: str
    device: Any
    switch: SwitchVector
    pulse: NumberVector
    blink: NumberVector
    mode: Mode = "off"
    pulse_task: asyncio.Task[None] | None = None

    def show(self, mode: Mode) -> None:
        """Record *mode* and set DIGITAL_OUTPUT_n to match (both Off while blinking)."""
        self.mode = mode
        lit = mode in ("on", "pulse")
        self.switch["ON"] = "On" if lit else "Off"
        self.switch["OFF"] = "On" if mode == "off" else "Off"


class DigitalOutputDriver(OutputDriver):
    """Digital outputs (gpiozero DigitalOutputDevice): on/off, timed pulses, blinking.

    Subclasses pick the gpiozero class and the default label.
    """

    options_class = DigitalOutputOptions
    #: The gpiozero class each pin is made with.
    device_class: ClassVar[str] = "DigitalOutputDevice"
    #: The default label of output n is "<noun> <n>".
    noun: ClassVar[str] = "Output"

    outputs: list[_Output]

    def build(self) -> list[PropertyVector[Any]]:
        """Make one gpiozero device and three vectors per pin, plus the labels."""
        opts: DigitalOutputOptions = self.options
        saved = self.restoring
        self.outputs = []
        labels: list[tuple[str, str, str]] = []
        durations = self.settings.get("pulse_ms")
        if not isinstance(durations, dict):
            durations = {}
        for number, pin in enumerate(opts.pins, start=1):
            name = f"DIGITAL_OUTPUT_{number}"
            default = opts.labels[number - 1] if opts.labels else f"{self.noun} {number}"
            label = self.label_for("DIGITAL_OUTPUT_LABELS", name, default)
            entry = saved.get(pin)
            if not isinstance(entry, dict):
                entry = {}
            mode = entry.get("mode", "on" if opts.initial_value else "off")
            if mode not in ("on", "off", "blink"):
                mode = "off"
            on_time = saved_number(entry, "on_time", opts.blink_on_time, MIN_BLINK_S, MAX_BLINK_S)
            off_time = saved_number(
                entry, "off_time", opts.blink_off_time, MIN_BLINK_S, MAX_BLINK_S
            )
            duration = saved_number(durations, f"PULSE_{number - 1}", 0.0, 0.0, MAX_PULSE_MS)
            device = self.create(
                self.device_class,
                pin=pin,
                active_high=opts.active_high,
                initial_value=mode == "on",
            )
            output = _Output(
                number=number,
                pin=pin,
                device=device,
                switch=self._switch_vector(number, label),
                pulse=self._pulse_vector(number, label, duration),
                blink=self._blink_vector(number, label, on_time, off_time),
            )
            output.show(mode)
            if mode == "blink":
                device.blink(on_time=on_time, off_time=off_time, background=True)
                output.switch.state = "Busy"
                output.blink.state = "Busy"
            self.outputs.append(output)
            labels.append((name, f"{self.noun} #{number}", label))
            self.handle(output.switch.name, functools.partial(self._on_switch, output))
            self.handle(output.pulse.name, functools.partial(self._on_pulse, output))
            self.handle(output.blink.name, functools.partial(self._on_blink, output))
        # In libindi's order: the outputs, their pulse durations; then pi-indi's
        # blinking; the labels last.
        vectors: list[PropertyVector[Any]] = [output.switch for output in self.outputs]
        vectors += [output.pulse for output in self.outputs]
        vectors += [output.blink for output in self.outputs]
        vectors.append(self.labels_vector("DIGITAL_OUTPUT_LABELS", "Labels", labels))
        return vectors

    def _switch_vector(self, number: int, label: str) -> SwitchVector:
        return SwitchVector(
            name=f"DIGITAL_OUTPUT_{number}",
            label=label,
            group=self.group,
            perm="rw",
            rule="AtMostOne",
            state="Ok",
            switchmembers=[SwitchMember("OFF", "Off"), SwitchMember("ON", "On")],
        )

    def _pulse_vector(self, number: int, label: str, duration: float) -> NumberVector:
        # libindi: PULSE_<i> from 0, group "Pulse Mode", DURATION 0-60000 ms, step 100.
        return NumberVector(
            name=f"PULSE_{number - 1}",
            label=label,
            group="Pulse Mode",
            perm="rw",
            state="Idle",
            numbermembers=[
                NumberMember(
                    "DURATION", "Duration (ms)", "%.0f", 0, MAX_PULSE_MS, 100, membervalue=duration
                )
            ],
        )

    def _blink_vector(
        self, number: int, label: str, on_time: float, off_time: float
    ) -> NumberVector:
        return NumberVector(
            name=f"BLINK_{number}",
            label=f"{label} blink",
            group=self.group,
            perm="rw",
            state="Idle",
            numbermembers=[
                NumberMember("ON_TIME", "On (s)", "%.2f", MIN_BLINK_S, MAX_BLINK_S, 0.1, on_time),
                NumberMember(
                    "OFF_TIME", "Off (s)", "%.2f", MIN_BLINK_S, MAX_BLINK_S, 0.1, off_time
                ),
            ],
        )

    # -- requests --

    async def _on_switch(self, output: _Output, event: Any) -> None:
        # AtMostOne: {"ON": "On"} or {"OFF": "On"} spell out the other member;
        # a request that leaves both Off means off.
        on = requested_on(event)
        if on is None:
            await output.switch.send_setVectorMembers(members=("OFF", "ON"))  # as it is
            return
        if on == (output.mode in ("on", "pulse")) and output.mode != "blink":
            # As libindi's OutputInterface: no change, no command (a pulse runs on).
            await output.switch.send_setVector(state="Ok")
            return
        await self._end_actions(output, "cancelled by a new command")
        if not await self.attempt(output.switch, output.device.on if on else output.device.off):
            return
        duration = output.pulse.getfloatvalue("DURATION")
        if not on or duration <= 0:
            output.show("on" if on else "off")
            self.persist()
            await output.switch.send_setVector(state="Ok")
            return
        # libindi's pulse mode: ON with a duration > 0 turns off after it.
        loop = asyncio.get_running_loop()
        end = loop.time() + duration / 1000
        output.show("pulse")
        self.persist()
        await output.switch.send_setVector(state="Ok")
        await output.pulse.send_setVector(state="Busy")
        # Timed from the moment the output went on; started after the replies
        # so that the end can never overtake them.
        output.pulse_task = self.start_task(self._end_pulse(output, end - loop.time()))

    async def _on_pulse(self, output: _Output, event: Any) -> None:
        # A setting, as in libindi: used by the next ON, saved for the next start.
        output.pulse["DURATION"] = event.getfloatvalue("DURATION")
        durations = self.settings.setdefault("pulse_ms", {})
        durations[output.pulse.name] = output.pulse.getfloatvalue("DURATION")
        self.save_settings()
        await output.pulse.send_setVector(state="Ok")

    async def _end_pulse(self, output: _Output, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))
        output.pulse_task = None
        # The output may still be on: both vectors show the failure.
        async with self.hardware_errors(output.pulse, output.switch) as guard:
            output.device.off()
        if guard.failed:
            return
        output.show("off")
        self.persist()
        await output.switch.send_setVector(state="Ok")
        await output.pulse.send_setVector(state="Ok")

    async def _on_blink(self, output: _Output, event: Any) -> None:
        blink = output.blink
        on_time = event.getfloatvalue("ON_TIME") if "ON_TIME" in event else None
        off_time = event.getfloatvalue("OFF_TIME") if "OFF_TIME" in event else None
        on_time = blink.getfloatvalue("ON_TIME") if on_time is None else on_time
        off_time = blink.getfloatvalue("OFF_TIME") if off_time is None else off_time
        await self._end_actions(output, "replaced by blinking")
        async with self.hardware_errors(blink) as guard:
            self.gpio.ensure_open(output.device)  # else blink() fails later, in its thread
            output.device.blink(on_time=on_time, off_time=off_time, background=True)
        if guard.failed:
            return
        output.show("blink")
        blink["ON_TIME"] = on_time
        blink["OFF_TIME"] = off_time
        self.persist()
        await output.switch.send_setVector(state="Busy")
        await blink.send_setVector(state="Busy")

    async def _end_actions(self, output: _Output, why: str) -> None:
        """Stop a running pulse (and show that blinking stops) before a new command."""
        task, output.pulse_task = output.pulse_task, None
        if task is not None and not task.done():
            task.cancel()
            await output.pulse.send_setVector(state="Idle", message=f"pulse {why}")
        if output.mode == "blink":
            await output.blink.send_setVector(state="Idle")

    # -- OutputDriver --

    def snapshot(self) -> dict[str, Any]:
        """Per pin: the mode ("on", "off" or "blink"; a pulse saves its end, "off")."""
        return {
            output.pin: {
                "mode": "off" if output.mode == "pulse" else output.mode,
                "on_time": output.blink.getfloatvalue("ON_TIME"),
                "off_time": output.blink.getfloatvalue("OFF_TIME"),
            }
            for output in self.outputs
        }

    def to_safe_state(self) -> None:
        """Every output to ``safe_state`` (pulses cancelled, blinking stopped)."""
        on = self.options.safe_state == "on"
        for output in self.outputs:
            if output.pulse_task is not None:
                output.pulse_task.cancel()
                output.pulse_task = None
            try:
                if on:
                    output.device.on()
                else:
                    output.device.off()
            except Exception:  # the other outputs must still be made safe
                logger.exception("%s: could not make %s safe", self.context.devicename, output.pin)


class LEDDriver(DigitalOutputDriver):
    """LEDs on GPIO pins (gpiozero LED): on/off, timed pulses and blinking."""

    device_class = "LED"
    noun = "LED"


class RelayDriver(DigitalOutputDriver):
    """Relays and other on/off loads (gpiozero DigitalOutputDevice): on/off, pulses, blinking."""

    device_class = "DigitalOutputDevice"
    noun = "Relay"


class BuzzerDriver(DigitalOutputDriver):
    """Active buzzers (gpiozero Buzzer): on/off, timed beeps and repeated beeping."""

    device_class = "Buzzer"
    noun = "Buzzer"
