"""Digital inputs: buttons, plain inputs, PIR motion sensors and line sensors.

Each input is shown the way libindi's InputInterface
(``libs/indibase/indiinputinterface.cpp``) shows one (``DIGITAL_INPUT_<n>``, a
read-only OneOfMany OFF/ON switch, and ``DIGITAL_INPUT_LABELS``, rw: a client
edit is applied and saved)
plus a light per input (``INPUT_STATE``) and a count of activations
(``INPUT_COUNT``); a button also has a "held" light (``INPUT_HELD``).

Updates are driven by gpiozero's ``when_activated`` / ``when_deactivated`` /
``when_held`` callbacks, never by polling: each callback hands the edge to the
event loop (:meth:`GpioDriver.from_thread`), where one task applies the edges
in the order they came and sends the changed vectors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pi_indi.config import option
from pi_indi.properties import (
    LightMember,
    LightVector,
    NumberMember,
    NumberVector,
    PropertyVector,
    SwitchMember,
    SwitchVector,
)
from pi_indi_drivers._base import AUX_INTERFACE, INPUT_INTERFACE, GpioDriver

__all__ = [
    "ButtonDriver",
    "ButtonOptions",
    "DigitalInputDriver",
    "DigitalInputOptions",
    "LineSensorDriver",
    "LineSensorOptions",
    "MotionSensorDriver",
    "MotionSensorOptions",
]

logger = logging.getLogger(__name__)

# What a gpiozero callback reports, handed to the event loop with the input's index.
ACTIVATED = "activated"
DEACTIVATED = "deactivated"
HELD = "held"


def _pins_problems(pins: tuple[str, ...], labels: tuple[str, ...]) -> list[tuple[str, str]]:
    problems = []
    if not pins:
        problems.append(("pins", "needs at least one pin"))
    if labels and len(labels) != len(pins):
        problems.append(("labels", f"has {len(labels)} labels for {len(pins)} pins"))
    seen = set()
    for pin in pins:
        if pin in seen:
            problems.append(("pins", f"has {pin} twice"))
        seen.add(pin)
    return problems


@dataclass(frozen=True, kw_only=True)
class DigitalInputOptions:
    """Options of the ``digital_input`` driver."""

    pins: tuple[str, ...] = option(help="the input pins, one INDI input each", pin=True)
    labels: tuple[str, ...] = option(
        (), help="a label per pin, shown by clients (default: Input 1, Input 2, ...)"
    )
    pull_up: bool = option(
        False, help="pull the pin up, so it is active when low (default: pulled down, active high)"
    )
    active_state: bool | None = option(
        None,
        help="for a pin with no pull resistor (floating): true if high means active;"
        " when given, pull_up is not used",
    )
    bounce_time: float | None = option(
        None, help="seconds during which edges after an edge are ignored (debouncing)", min=0.0
    )

    def problems(self) -> list[tuple[str, str]]:
        """Cross-field checks: at least one pin, one label per pin, no pin twice."""
        return _pins_problems(self.pins, self.labels)


@dataclass(frozen=True, kw_only=True)
class ButtonOptions(DigitalInputOptions):
    """Options of the ``button`` driver."""

    pull_up: bool = option(
        True,
        help="pull the pin up, so a button wired to ground is pressed when low"
        " (false: pulled down, pressed when high)",
    )
    hold_time: float = option(
        1.0, help="seconds a button must stay pressed to count as held", min=0.01, unit="s"
    )


@dataclass(frozen=True, kw_only=True)
class _SampledInputOptions:
    """What the motion and line sensors share: one pin, sampled by gpiozero."""

    pin: str = option(help="the sensor's output pin", pin=True)
    pull_up: bool = option(False, help="pull the pin up, so it is active when low")
    active_state: bool | None = option(
        None,
        help="for a pin with no pull resistor (floating): true if high means active;"
        " when given, pull_up is not used",
    )


@dataclass(frozen=True, kw_only=True)
class MotionSensorOptions(_SampledInputOptions):
    """Options of the ``motion_sensor`` driver (a PIR sensor)."""

    label: str = option("Motion", help="the label clients show")
    queue_len: int = option(1, help="how many samples are averaged", min=1, max=1000)
    sample_rate: float = option(10.0, help="samples per second", min=0.1, max=1000.0, unit="Hz")
    threshold: float = option(
        0.5, help="the average of the samples above which there is motion", min=0.0, max=1.0
    )


@dataclass(frozen=True, kw_only=True)
class LineSensorOptions(_SampledInputOptions):
    """Options of the ``line_sensor`` driver (a TCRT5000-style reflective sensor)."""

    label: str = option("Line", help="the label clients show")
    queue_len: int = option(5, help="how many samples are averaged", min=1, max=1000)
    sample_rate: float = option(100.0, help="samples per second", min=0.1, max=1000.0, unit="Hz")
    threshold: float = option(
        0.5, help="the average of the samples above which there is no line", min=0.0, max=1.0
    )


class _Input:
    """One input: its gpiozero device and what the client was last told."""

    def __init__(self, number: int, pin: str, label: str, device: Any, on: bool) -> None:
        self.number = number
        self.pin = pin
        self.label = label
        self.device = device
        self.on = on
        self.held = False
        self.count = 0

    @property
    def member(self) -> str:
        return f"INPUT_{self.number}"

    @property
    def vector(self) -> str:
        return f"DIGITAL_INPUT_{self.number}"


class _InputDriver(GpioDriver):
    """What the four digital input drivers share."""

    interface = AUX_INTERFACE | INPUT_INTERFACE
    #: The gpiozero class of each input.
    gpiozero_class: ClassVar[str]
    #: The label of input n when the config gives none.
    default_label: ClassVar[str] = "Input"
    #: What the counter counts.
    count_label: ClassVar[str] = "Activations"
    #: The state is only known once sampled (a smoothed input: reading it may block).
    smoothed: ClassVar[bool] = False
    #: ON is gpiozero's "inactive" (a line sensor sees a line when not active).
    inverted: ClassVar[bool] = False
    #: The device reports being held (a button).
    holds: ClassVar[bool] = False

    # -- what subclasses say --

    def pin_labels(self) -> list[tuple[str, str]]:
        """The (pin, label) of each input, in order."""
        pins: tuple[str, ...] = self.options.pins
        labels: tuple[str, ...] = self.options.labels or tuple(
            f"{self.default_label} {n}" for n in range(1, len(pins) + 1)
        )
        return list(zip(pins, labels, strict=True))

    def device_options(self) -> dict[str, Any]:
        """The gpiozero keyword arguments besides the pin."""
        floating = self.options.active_state is not None
        return {
            "pull_up": None if floating else self.options.pull_up,
            "active_state": self.options.active_state,
        }

    # -- GpioDriver --

    def build(self) -> list[PropertyVector[Any]]:
        """Make a gpiozero device per pin, hook its callbacks, and the vectors."""
        self._edges: asyncio.Queue[tuple[_Input, str]] = asyncio.Queue()
        self.inputs: list[_Input] = []
        try:
            for number, (pin, default) in enumerate(self.pin_labels(), 1):
                label = self.label_for("DIGITAL_INPUT_LABELS", f"DIGITAL_INPUT_{number}", default)
                device = self.gpio.create(self.gpiozero_class, pin=pin, **self.device_options())
                # A smoothed input's state is read in run(): reading it here could block.
                on = False if self.smoothed else self._is_on(bool(device.is_active))
                item = _Input(number, pin, label, device, on)
                self.inputs.append(item)
                device.when_activated = self._callback(item, ACTIVATED)
                device.when_deactivated = self._callback(item, DEACTIVATED)
                if self.holds:
                    device.when_held = self._callback(item, HELD)
        except Exception:
            self.close_hardware()
            raise
        for item in self.inputs:
            self.gpio.simulate_input(item.pin, self.context.devicename, item.label)
        state = "Idle" if self.smoothed else "Ok"
        vectors: list[PropertyVector[Any]] = [
            SwitchVector(
                name=item.vector,
                label=item.label,
                group=self.group,
                perm="ro",
                rule="OneOfMany",
                state=state,
                switchmembers=[
                    SwitchMember("OFF", "Off", "Off" if item.on else "On"),
                    SwitchMember("ON", "On", "On" if item.on else "Off"),
                ],
            )
            for item in self.inputs
        ]
        self.lights = LightVector(
            name="INPUT_STATE",
            label="Inputs",
            group=self.group,
            state=state,
            lightmembers=[
                LightMember(item.member, item.label, "Ok" if item.on else "Idle")
                for item in self.inputs
            ],
        )
        self.counts = NumberVector(
            name="INPUT_COUNT",
            label=self.count_label,
            group=self.group,
            perm="ro",
            state="Ok",
            numbermembers=[
                NumberMember(item.member, item.label, "%.0f", 0, 0, 1, 0) for item in self.inputs
            ],
        )
        self.reset_switch = SwitchVector(
            name="INPUT_COUNT_RESET",
            label=f"Reset {self.count_label.lower()}",
            group=self.group,
            perm="rw",
            rule="AtMostOne",
            state="Idle",
            switchmembers=[SwitchMember("RESET", "Reset", "Off")],
        )
        self.handle("INPUT_COUNT_RESET", self._reset_counts)
        vectors += [self.lights, self.counts, self.reset_switch]
        if self.holds:
            self.held_lights = LightVector(
                name="INPUT_HELD",
                label="Held",
                group=self.group,
                state="Ok",
                lightmembers=[LightMember(item.member, item.label, "Idle") for item in self.inputs],
            )
            vectors.append(self.held_lights)
        vectors.append(
            self.labels_vector(
                "DIGITAL_INPUT_LABELS",
                "Digital Labels",
                [(item.vector, f"Input #{item.number}", item.label) for item in self.inputs],
            )
        )
        return vectors

    async def run(self) -> None:
        """Learn each input's state, then apply the edges as they come."""
        loop = asyncio.get_running_loop()
        for item in self.inputs:
            # Edges before now were dropped (the loop was not known yet), and a
            # smoothed input's state is only known once it has samples.
            # A failed read is shown (Alert) and the edges still come.
            vector = self.device[item.vector]
            async with self.hardware_errors(vector, failure=f"cannot read {item.pin}") as guard:
                active = await loop.run_in_executor(None, self.gpio.read_active, item.device)
            if guard.failed:
                continue
            await self._apply(item, self._is_on(active), count=False, force=True)
        while True:
            item, kind = await self._edges.get()
            if kind == HELD:
                await self._set_held(item, held=True)
            else:
                await self._apply(item, self._is_on(kind == ACTIVATED), count=True)

    def close_hardware(self) -> None:
        """Close the input devices (their pins become free)."""
        for item in self.inputs:
            self.gpio.release(item.device)

    # -- the edges --

    def _is_on(self, active: bool) -> bool:
        return active != self.inverted

    def _callback(self, item: _Input, kind: str) -> Callable[[], None]:
        def fire() -> None:  # on a gpiozero thread: hand it over, nothing else
            self.from_thread(self._edges.put_nowait, (item, kind))

        return fire

    async def _apply(self, item: _Input, on: bool, *, count: bool, force: bool = False) -> None:
        vector = self.device[item.vector]
        if on == item.on and not force:
            return
        item.on = on
        vector["ON"] = "On" if on else "Off"
        vector["OFF"] = "Off" if on else "On"
        await vector.send_setVector(state="Ok")
        self.lights[item.member] = "Ok" if on else "Idle"
        await self.lights.send_setVector(state="Ok", allvalues=False)
        if on and count:
            item.count += 1
            self.counts[item.member] = item.count
            await self.counts.send_setVector(state="Ok", allvalues=False)
        if not on and item.held:
            await self._set_held(item, held=False)

    async def _set_held(self, item: _Input, *, held: bool) -> None:
        if held and not item.on:
            return  # released before the hold reached the loop
        item.held = held
        self.held_lights[item.member] = "Ok" if held else "Idle"
        await self.held_lights.send_setVector(state="Ok", allvalues=False)

    async def _reset_counts(self, event: Any) -> None:
        for item in self.inputs:
            item.count = 0
            self.counts[item.member] = 0
        await self.counts.send_setVector(state="Ok")
        self.reset_switch["RESET"] = "Off"
        await self.reset_switch.send_setVector(state="Ok")


class ButtonDriver(_InputDriver):
    """Push buttons (gpiozero ``Button``): pressed, held, and a press count per button.

    Example:
        .. code-block:: toml

            [[device]]
            driver = "button"
            name = "Focus buttons"
            pins = [5, 6]
            labels = ["Focus in", "Focus out"]
            hold_time = 0.5
    """

    options_class = ButtonOptions
    gpiozero_class = "Button"
    default_label = "Button"
    count_label = "Presses"
    holds = True

    def device_options(self) -> dict[str, Any]:
        """Adds the debounce and hold times."""
        return {
            **super().device_options(),
            "bounce_time": self.options.bounce_time,
            "hold_time": self.options.hold_time,
        }


class DigitalInputDriver(_InputDriver):
    """Plain digital inputs (gpiozero ``DigitalInputDevice``): a limit switch, a rain sensor.

    Example:
        .. code-block:: toml

            [[device]]
            driver = "digital_input"
            name = "Roof switches"
            pins = [20, 21]
            labels = ["Roof open", "Roof closed"]
            pull_up = true
    """

    options_class = DigitalInputOptions
    gpiozero_class = "DigitalInputDevice"

    def device_options(self) -> dict[str, Any]:
        """Adds the debounce time."""
        return {**super().device_options(), "bounce_time": self.options.bounce_time}


class _SmoothedInputDriver(_InputDriver):
    smoothed = True

    def pin_labels(self) -> list[tuple[str, str]]:
        """The one pin, with its label."""
        return [(self.options.pin, self.options.label)]

    def device_options(self) -> dict[str, Any]:
        """Adds the sampling options."""
        return {
            **super().device_options(),
            "queue_len": self.options.queue_len,
            "sample_rate": self.options.sample_rate,
            "threshold": self.options.threshold,
        }


class MotionSensorDriver(_SmoothedInputDriver):
    """A PIR motion sensor (gpiozero ``MotionSensor``): ON while there is motion.

    Example:
        .. code-block:: toml

            [[device]]
            driver = "motion_sensor"
            name = "Observatory PIR"
            pin = 4
    """

    options_class = MotionSensorOptions
    gpiozero_class = "MotionSensor"
    count_label = "Detections"


class LineSensorDriver(_SmoothedInputDriver):
    """A line sensor (gpiozero ``LineSensor``): ON while it sees a line.

    gpiozero's line sensor is active when it sees no line (``when_line`` is
    ``when_deactivated``); here ON means a line, as its label says.

    Example:
        .. code-block:: toml

            [[device]]
            driver = "line_sensor"
            name = "Dome home mark"
            pin = 19
            label = "Home mark"
    """

    options_class = LineSensorOptions
    gpiozero_class = "LineSensor"
    count_label = "Detections"
    inverted = True
