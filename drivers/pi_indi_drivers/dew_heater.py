"""A dew heater on a PWM pin, driven from the dew point of snooped sensor readings.

The ambient temperature and relative humidity come from another device served
by the same server (a sensor driver's number vectors, named by the options),
and optionally the temperature of the heated surface (a DS18B20 taped to the
lens). :class:`DewController`, with no I/O and no clock of its own, turns them
into a duty cycle: the dew point by the Magnus formula, then a PI controller
that keeps the surface ``margin`` °C above it, never above ``max_duty``. A
sensor that fails (its vector in Alert, or deleted) or goes stale (nothing from
it for ``stale_seconds``) puts the heater at ``fallback_duty`` and the dew point
in Alert.

The device is exposed as libindi's PowerInterface exposes a dew channel
(``libs/indibase/indipowerinterface.cpp`` in indilib/indi, ``initProperties``),
for one channel: ``AUTO_DEW_CONTROL``, ``DEW_CHANNELS``, ``DEW_DUTY_CYCLES`` and
``DEW_LABELS``, each with the member ``DEW_CHANNEL_1``, in the group "Dew";
plus ``DEW_POINT`` (ro) and ``DEW_MARGIN`` (rw).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from pi_indi import (
    NumberMember,
    NumberVector,
    SwitchMember,
    SwitchVector,
    defNumberVector,
    setNumberVector,
)
from pi_indi_drivers.api import (
    AUX_INTERFACE,
    POWER_INTERFACE,
    GpioDriver,
    PropertyVector,
    dew_point,
    option,
    snooped_number,
)

__all__ = [
    "DewController",
    "DewHeaterDriver",
    "DewHeaterOptions",
    "DewState",
]

logger = logging.getLogger(__name__)


#: The readings the controller uses, by name.
TEMPERATURE, HUMIDITY, SURFACE = "temperature", "humidity", "surface"


@dataclass(frozen=True, slots=True)
class DewState:
    """What :meth:`DewController.update` decided.

    Attributes:
        duty: the heater duty cycle, in % (0 to ``max_duty``; the manual duty
            in manual mode).
        dew_point: the dew point in °C, or None without valid readings.
        target: the surface temperature aimed at (dew point + margin), or None.
        surface: the temperature regulated (the surface sensor's, else the
            ambient one), or None.
        temperature: the ambient temperature in °C, or None.
        humidity: the relative humidity in %, or None.
        fallback: True when the duty is the fallback duty (a sensor failed or
            went stale in automatic mode).
        problem: why the readings cannot be used, or None.
    """

    duty: float
    dew_point: float | None = None
    target: float | None = None
    surface: float | None = None
    temperature: float | None = None
    humidity: float | None = None
    fallback: bool = False
    problem: str | None = None


class DewController:
    """The dew heater's control law: pure, no I/O, the time passed in.

    Readings are given with :meth:`observe` (or dropped with :meth:`forget`
    when their sensor fails); :meth:`update` is called every interval and
    returns a :class:`DewState`. With a surface sensor, the law is PI on the
    error ``(dew point + margin) - surface``: ``duty = gain * error +
    integral``, the integral growing by ``gain / integral_time * error * dt``,
    held while the duty is at ``max_duty`` and the error asks for more (anti
    windup) and kept within ``0..max_duty``; the duty is clamped to
    ``0..max_duty``. Without one, the heater cannot change the temperature it
    is told, so the law is open loop: ``max_duty * (dew point + margin -
    ambient) / margin``, clamped (off while the air is ``margin`` above the
    dew point, ``max_duty`` at the dew point).

    A reading older than ``stale_after`` seconds, or one forgotten, puts the
    duty at ``fallback_duty`` with ``fallback`` set; a reading never received
    counts from the first update, with the heater off until then. In manual
    mode (:meth:`set_manual`) the duty is the one given, the controller off.

    Example:
        >>> c = DewController(margin=3.0, surface_sensor=False)
        >>> c.observe("temperature", 0.0, 10.0)
        >>> c.observe("humidity", 0.0, 90.0)
        >>> round(c.update(0.0).duty)
        48
    """

    def __init__(
        self,
        *,
        margin: float = 3.0,
        max_duty: float = 100.0,
        fallback_duty: float = 50.0,
        gain: float = 20.0,
        integral_time: float = 600.0,
        stale_after: float = 120.0,
        surface_sensor: bool = True,
    ) -> None:
        if not 0 < max_duty <= 100:
            raise ValueError(f"max_duty must be within 0..100, not {max_duty}")
        if not 0 <= fallback_duty <= max_duty:
            raise ValueError(f"fallback_duty must be within 0..{max_duty}, not {fallback_duty}")
        if margin < 0 or gain < 0 or integral_time < 0 or stale_after <= 0:
            raise ValueError("margin, gain and integral_time must be >= 0, stale_after > 0")
        self.margin = margin
        self.max_duty = max_duty
        self.fallback_duty = fallback_duty
        self.gain = gain
        self.integral_time = integral_time
        self.stale_after = stale_after
        self.surface_sensor = surface_sensor
        #: The integral term, in % (0..max_duty).
        self.integral = 0.0
        self._readings: dict[str, tuple[float, float]] = {}
        self._lost: dict[str, str] = {}
        self._started: float | None = None
        self._last: float | None = None
        self._manual: float | None = None

    @property
    def needed(self) -> tuple[str, ...]:
        """The readings the controller needs."""
        return (TEMPERATURE, HUMIDITY, SURFACE) if self.surface_sensor else (TEMPERATURE, HUMIDITY)

    @property
    def manual(self) -> float | None:
        """The manual duty (%), or None in automatic mode."""
        return self._manual

    def set_manual(self, duty: float | None) -> None:
        """Manual mode at *duty* (%, clamped to 0..max_duty); None: back to automatic.

        Back in automatic mode the integral starts from the last manual duty,
        so the heater does not jump.
        """
        if duty is None:
            if self._manual is not None:
                self.integral = _clamp(self._manual, 0.0, self.max_duty)
            self._manual = None
        else:
            self._manual = _clamp(duty, 0.0, self.max_duty)

    def observe(self, name: str, now: float, value: float) -> None:
        """A fresh reading *name* ("temperature", "humidity" or "surface") taken at *now*."""
        if not math.isfinite(value):
            self.forget(name, f"the {name} reading is not a number ({value})")
            return
        self._readings[name] = (now, value)
        self._lost.pop(name, None)

    def forget(self, name: str, reason: str) -> None:
        """Drop reading *name*: its sensor failed (*reason* says how)."""
        self._readings.pop(name, None)
        self._lost[name] = reason

    def _problem(self, now: float) -> str | None:
        assert self._started is not None  # noqa: S101 - set by update()
        for name in self.needed:
            if name in self._lost:
                return self._lost[name]
            seen = self._readings.get(name)
            since = seen[0] if seen is not None else self._started
            if now - since > self.stale_after:
                what = "no" if seen is None else "no fresh"
                return f"{what} {name} reading for {now - since:.0f} s"
        return None

    def update(self, now: float) -> DewState:
        """The duty cycle for time *now* (seconds, any monotonic clock)."""
        if self._started is None:
            self._started = now
        dt = 0.0 if self._last is None else _clamp(now - self._last, 0.0, self.stale_after)
        self._last = now
        problem = self._problem(now)
        waiting = problem is None and any(n not in self._readings for n in self.needed)
        values = {n: v for n, (_, v) in self._readings.items()}
        temperature = values.get(TEMPERATURE)
        humidity = values.get(HUMIDITY)
        dew = target = surface = None
        if problem is None and not waiting and temperature is not None and humidity is not None:
            try:
                dew = dew_point(temperature, humidity)
            except ValueError as exc:
                problem = str(exc)
            else:
                target = dew + self.margin
                surface = values[SURFACE] if self.surface_sensor else temperature

        def state(duty: float, *, fallback: bool = False, controlled: bool = True) -> DewState:
            shown = controlled or self._manual is not None
            return DewState(
                duty=duty,
                dew_point=dew if shown else None,
                target=target if shown else None,
                surface=surface if shown else None,
                temperature=temperature,
                humidity=humidity,
                fallback=fallback,
                problem=problem,
            )

        if self._manual is not None:
            return state(self._manual)
        if problem is not None:
            return state(self.fallback_duty, fallback=True, controlled=False)
        if dew is None or target is None or surface is None:
            return state(0.0)  # no reading yet
        if not self.surface_sensor:
            if self.margin > 0:
                share = (target - surface) / self.margin
            else:
                share = 1.0 if surface <= dew else 0.0
            return state(self.max_duty * _clamp(share, 0.0, 1.0))
        error = target - surface
        if self.integral_time > 0:
            step = self.gain / self.integral_time * error * dt
            saturated = self.gain * error + self.integral >= self.max_duty and error > 0
            if not saturated:
                self.integral = _clamp(self.integral + step, 0.0, self.max_duty)
        return state(_clamp(self.gain * error + self.integral, 0.0, self.max_duty))


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


@dataclass(frozen=True, kw_only=True)
class DewHeaterOptions:
    """Options of the ``dew_heater`` driver."""

    pin: str = option(help="the PWM pin driving the heater's MOSFET gate", pin=True)
    active_high: bool = option(True, help="true: full duty drives the pin high")
    frequency: float = option(100.0, help="PWM frequency", min=1.0, max=10_000.0, unit="Hz")
    sensor_device: str = option(help="the device serving the ambient temperature and humidity")
    temperature_vector: str = option("TEMPERATURE", help="its vector with the temperature (°C)")
    temperature_member: str = option("TEMPERATURE", help="the temperature's member")
    humidity_vector: str = option("HUMIDITY", help="its vector with the relative humidity (%)")
    humidity_member: str = option("HUMIDITY", help="the humidity's member")
    surface_device: str | None = option(
        None,
        help="the device serving the heated surface's temperature (a DS18B20); none: open loop",
    )
    surface_vector: str = option("TEMPERATURE", help="its vector with the surface temperature")
    surface_member: str = option("TEMPERATURE", help="the surface temperature's member")
    margin: float = option(
        3.0, help="how far above the dew point to keep the surface", min=0, max=20, unit="°C"
    )
    max_duty: float = option(
        100.0, help="the most the heater is ever driven", min=1, max=100, unit="%"
    )
    fallback_duty: float = option(
        50.0, help="the duty when a sensor fails or goes stale", min=0, max=100, unit="%"
    )
    stale_seconds: float = option(
        120.0, help="a reading older than this is stale", min=0.5, max=86400, unit="s"
    )
    interval: float = option(
        10.0, help="seconds between control steps", min=0.05, max=3600, unit="s"
    )
    gain: float = option(20.0, help="proportional gain", min=0, max=1000, unit="%/°C")
    integral_time: float = option(
        600.0, help="integral time (0: proportional only)", min=0, max=86400, unit="s"
    )
    label: str = option("Channel 1", help="the channel's label (DEW_LABELS)")
    auto: bool = option(True, help="start in automatic dew control (else manual)")
    heater_on: bool = option(True, help="start with the channel on (DEW_CHANNELS)")
    manual_duty: float = option(0.0, help="the manual duty at start", min=0, max=100, unit="%")
    restore: bool = option(
        True, help="start from the saved mode, duty and margin when [state] restore is on"
    )

    def problems(self) -> list[tuple[str, str]]:
        """The fallback and manual duties within max_duty; names given."""
        found = []
        if self.fallback_duty > self.max_duty:
            found.append(("fallback_duty", f"is above max_duty ({self.max_duty})"))
        if self.manual_duty > self.max_duty:
            found.append(("manual_duty", f"is above max_duty ({self.max_duty})"))
        if not self.sensor_device.strip():
            found.append(("sensor_device", "is empty: name the device serving the readings"))
        if self.stale_seconds <= self.interval:
            found.append(("stale_seconds", f"must be longer than interval ({self.interval} s)"))
        if self.surface_device is not None and not self.surface_device.strip():
            found.append(("surface_device", "is empty: leave it out for no surface sensor"))
        return found


_CHANNEL = "DEW_CHANNEL_1"


class DewHeaterDriver(GpioDriver):
    """A dew heater on a PWM pin, controlled from the dew point of snooped readings.

    Example:
        .. code-block:: toml

            [[device]]
            driver = "dew_heater"
            name = "Dew heater"
            pin = 18
            sensor_device = "Environment"
    """

    options_class = DewHeaterOptions
    interface = AUX_INTERFACE | POWER_INTERFACE
    group = "Dew"

    def __init__(self, context: Any) -> None:
        self._resume: dict[str, Any] | None = None
        self._problem: str | None = None
        self._lock = asyncio.Lock()
        opts: DewHeaterOptions = context.options
        #: (device, vector, member) -> the reading it gives.
        self.sources: dict[tuple[str, str, str], str] = {
            (opts.sensor_device, opts.temperature_vector, opts.temperature_member): TEMPERATURE,
            (opts.sensor_device, opts.humidity_vector, opts.humidity_member): HUMIDITY,
        }
        if opts.surface_device is not None:
            key = (opts.surface_device, opts.surface_vector, opts.surface_member)
            self.sources[key] = SURFACE
        self._heard: dict[tuple[str, str], float] = {}
        self._asked: dict[tuple[str, str], float] = {}
        try:
            super().__init__(context)
        except BaseException:
            self.close_hardware()  # build() failed after claiming the pin
            raise

    # -- GpioDriver --

    def build(self) -> list[PropertyVector[Any]]:
        """Make the PWM device, the controller and the dew vectors."""
        opts: DewHeaterOptions = self.options
        saved: Any = self._resume if self._resume is not None else (self.saved_state or {})
        if not opts.restore and self._resume is None:
            saved = {}
        auto = _saved(saved, "auto", bool, opts.auto)
        on = _saved(saved, "on", bool, opts.heater_on)
        manual = _saved_float(saved, "duty", opts.manual_duty, 0.0, opts.max_duty)
        margin = _saved_float(saved, "margin", opts.margin, 0.0, 20.0)
        self.controller = DewController(
            margin=margin,
            max_duty=opts.max_duty,
            fallback_duty=opts.fallback_duty,
            gain=opts.gain,
            integral_time=opts.integral_time,
            stale_after=opts.stale_seconds,
            surface_sensor=opts.surface_device is not None,
        )
        if not auto:
            self.controller.set_manual(manual)
        self.applied: float | None = None
        self._problem = None
        self.pwm = self.gpio.create(
            "PWMOutputDevice",
            pin=opts.pin,
            active_high=opts.active_high,
            initial_value=0.0,
            frequency=opts.frequency,
        )
        label = self.label_for("DEW_LABELS", _CHANNEL, opts.label)
        # indipowerinterface.cpp: AutoDewSP "AUTO_DEW_CONTROL" "Auto Dew Control", DEW_TAB,
        # IP_RW, ISR_NOFMANY, IPS_IDLE; a member per channel, DEW_CHANNEL_n, labelled.
        self.auto = SwitchVector(
            name="AUTO_DEW_CONTROL",
            label="Auto Dew Control",
            group=self.group,
            perm="rw",
            rule="AnyOfMany",
            state="Idle",
            switchmembers=[SwitchMember(_CHANNEL, label, "On" if auto else "Off")],
        )
        # DewChannelsSP "DEW_CHANNELS" "Toggle Dew", DEW_TAB, IP_RW, ISR_NOFMANY.
        self.channels = SwitchVector(
            name="DEW_CHANNELS",
            label="Toggle Dew",
            group=self.group,
            perm="rw",
            rule="AnyOfMany",
            state="Idle",
            switchmembers=[SwitchMember(_CHANNEL, label, "On" if on else "Off")],
        )
        # DewChannelDutyCycleNP "DEW_DUTY_CYCLES" "Duty Cycles", "<label> (%)", "%.0f", 0-100, 10.
        self.duties = NumberVector(
            name="DEW_DUTY_CYCLES",
            label="Duty Cycles",
            group=self.group,
            perm="rw",
            state="Idle",
            numbermembers=[
                NumberMember(_CHANNEL, f"{label} (%)", "%.0f", 0, 100, 10, 0 if auto else manual)
            ],
        )
        labels = self.labels_vector("DEW_LABELS", "Labels", [(_CHANNEL, "Channel 1", opts.label)])
        self.dew = NumberVector(
            name="DEW_POINT",
            label="Dew point",
            group=self.group,
            perm="ro",
            state="Idle",
            numbermembers=[
                NumberMember("DEW_POINT", "Dew point (°C)", "%.1f", -100, 100, 0, 0),
                NumberMember("TEMPERATURE", "Ambient (°C)", "%.1f", -100, 100, 0, 0),
                NumberMember("HUMIDITY", "Humidity (%)", "%.1f", 0, 100, 0, 0),
                NumberMember("SURFACE_TEMPERATURE", "Surface (°C)", "%.1f", -100, 100, 0, 0),
            ],
        )
        self.margin = NumberVector(
            name="DEW_MARGIN",
            label="Dew margin",
            group=self.group,
            perm="rw",
            state="Ok",
            numbermembers=[NumberMember("DEW_MARGIN", "Margin (°C)", "%.1f", 0, 20, 0.5, margin)],
        )
        self.guard = self.hardware_errors(
            self.duties, failure="cannot set the heater duty", once=True
        )
        self.handle(self.auto.name, self._on_auto)
        self.handle(self.channels.name, self._on_channels)
        self.handle(self.duties.name, self._on_duties)
        self.handle(self.margin.name, self._on_margin)
        return [self.auto, self.channels, self.duties, labels, self.dew, self.margin]

    def to_safe_state(self) -> None:
        """The heater off (duty 0)."""
        if getattr(self, "pwm", None) is not None:
            self.pwm.off()
            self.applied = 0.0

    def close_hardware(self) -> None:
        """Release the PWM pin."""
        pwm, self.pwm = getattr(self, "pwm", None), None
        if pwm is not None:
            self.gpio.release(pwm)

    def before_disconnect(self) -> None:
        """Remember the mode, duty and margin, which CONNECT starts from."""
        self._resume = self.snapshot()

    async def run(self) -> None:
        """Ask for the readings, then a control step every ``interval`` seconds."""
        now = time.monotonic()
        for device in {device for device, _, _ in self.sources}:
            await self.send_getProperties(device)
        for device, vector, _ in self.sources:
            self._asked[(device, vector)] = now
        while True:
            await self.step()
            await asyncio.sleep(self.options.interval)

    # -- the readings --

    async def snoopevent(self, event: Any) -> None:
        """Readings from the sensor devices; their failures and deletions."""
        now = time.monotonic()
        if isinstance(event, (defNumberVector, setNumberVector)):
            self._heard[(event.devicename or "", event.vectorname or "")] = now
        for (device, vector, member), name in self.sources.items():
            said = snooped_number(event, device, vector, member)
            if said is None:
                continue
            value, why = said
            if value is None:
                self.controller.forget(name, why)
            else:
                self.controller.observe(name, now, value)

    async def _ask_again(self, now: float) -> None:
        # A sensor sends only what changes: a steady one is asked again for its
        # values (its definition) when silent for a third of stale_seconds.
        quiet = self.options.stale_seconds / 3
        for dev, vec in {(dev, vec) for dev, vec, _ in self.sources}:
            last = max(
                self._heard.get((dev, vec), -math.inf), self._asked.get((dev, vec), -math.inf)
            )
            if now - last >= quiet:
                self._asked[(dev, vec)] = now
                await self.send_getProperties(dev, vec)

    # -- control --

    @property
    def is_on(self) -> bool:
        """Whether the channel is on (DEW_CHANNELS)."""
        return bool(self.channels[_CHANNEL] == "On")

    async def step(self) -> bool:
        """One control step: the controller's duty to the pin and the vectors.

        Returns:
            False when the pin refused the duty (DEW_DUTY_CYCLES is in Alert).
        """
        async with self._lock:
            now = time.monotonic()
            await self._ask_again(now)
            state = self.controller.update(now)
            duty = state.duty if self.is_on else 0.0
            if duty != self.applied:
                async with self.guard:
                    self.pwm.value = duty / 100
                if self.guard.failed:
                    return False
                self.applied = duty
            await self._show(state)
            return True

    async def _show(self, state: Any) -> None:
        member = self.duties.data[_CHANNEL]
        self.duties[_CHANNEL] = member.format_number(state.duty)
        if self.duties.state == "Alert" or any(m.changed for m in self.duties.data.values()):
            await self.duties.send_setVector(state="Ok")
        values = {
            "DEW_POINT": state.dew_point,
            "TEMPERATURE": state.temperature,
            "HUMIDITY": state.humidity,
            "SURFACE_TEMPERATURE": state.surface,
        }
        for name, value in values.items():
            if value is not None:
                self.dew[name] = self.dew.data[name].format_number(value)
        problem = state.problem
        if problem != self._problem:
            self._problem = problem
            if problem is None:
                await self.dew.send_setVector(state="Ok", message="readings back")
                if self.controller.manual is None:
                    await self.auto.send_setVector(state="Ok", message="automatic control again")
                return
            what = (
                f"heater at the fallback duty {state.duty:g} %"
                if state.fallback
                else "manual duty kept"
            )
            await self.dew.send_setVector(
                state="Alert", message=f"[WARNING] DEW_POINT: {problem}; {what}"
            )
            if state.fallback:
                await self.auto.send_setVector(state="Alert")
            return
        if problem is None and state.dew_point is not None:
            changed = any(m.changed for m in self.dew.data.values())
            if changed or self.dew.state != "Ok":
                await self.dew.send_setVector(state="Ok")

    def snapshot(self) -> dict[str, Any]:
        """The mode, the channel's on/off, the manual duty and the margin (saved state)."""
        manual = self.controller.manual
        return {
            "auto": manual is None,
            "on": self.is_on,
            "duty": manual if manual is not None else self.duties.getfloatvalue(_CHANNEL),
            "margin": self.controller.margin,
        }

    def persist(self) -> None:
        """Save :meth:`snapshot` for the next start."""
        try:
            self.save_state(self.snapshot())
        except Exception:
            logger.exception("%s: could not save the heater state", self.context.devicename)

    # -- requests --

    async def _on_auto(self, event: Any) -> None:
        value = event.get(_CHANNEL)
        if value is not None:
            if value == "On":
                self.controller.set_manual(None)
            elif self.controller.manual is None:
                self.controller.set_manual(self.duties.getfloatvalue(_CHANNEL))
            self.auto[_CHANNEL] = value
            self.persist()
        state = "Ok" if self._problem is None or self.controller.manual is not None else "Alert"
        await self.auto.send_setVector(state=state)
        await self.step()

    async def _on_channels(self, event: Any) -> None:
        value = event.get(_CHANNEL)
        if value is not None:
            self.channels[_CHANNEL] = value
            self.persist()
        await self.channels.send_setVector(state="Ok")
        await self.step()

    async def _on_duties(self, event: Any) -> None:
        if _CHANNEL not in event:
            await self.duties.send_setVector()
            return
        duty = event.getfloatvalue(_CHANNEL)
        if self.controller.manual is None:
            await self.refuse(
                self.duties, "automatic dew control is on: turn AUTO_DEW_CONTROL off first"
            )
            return
        if duty > self.options.max_duty:
            await self.refuse(
                self.duties, f"{duty:g} % is above max_duty ({self.options.max_duty:g} %)"
            )
            return
        self.controller.set_manual(duty)
        self.persist()
        if await self.step():
            await self.duties.send_setVector(state="Ok")

    async def _on_margin(self, event: Any) -> None:
        if "DEW_MARGIN" in event:
            margin = event.getfloatvalue("DEW_MARGIN")
            self.controller.margin = margin
            self.margin["DEW_MARGIN"] = margin
            self.persist()
        await self.margin.send_setVector(state="Ok")
        await self.step()


def _saved(saved: Any, key: str, kind: type, default: Any) -> Any:
    value = saved.get(key) if hasattr(saved, "get") else None
    return value if isinstance(value, kind) else default


def _saved_float(saved: Any, key: str, default: float, low: float, high: float) -> float:
    value = saved.get(key) if hasattr(saved, "get") else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if not math.isfinite(value) or not low <= value <= high:
        return default
    return float(value)
