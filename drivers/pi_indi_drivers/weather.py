"""A weather device Ekos can use: sensors of this server grouped as libindi's WeatherInterface.

Ekos' observatory module parks the mount and closes the roof when a weather
device says the weather is unsafe. This driver makes one from the sensors
other devices on the same server already serve: each parameter is a number
it snoops on (``"DEVICE.VECTOR.MEMBER"``), with an OK range and a warning
zone, as libindi's ``WeatherInterface`` has them
(``libs/indibase/indiweatherinterface.cpp`` in indilib/indi):

- ``WEATHER_UPDATE`` (number, rw, "Update", "Main Control"): ``PERIOD``
  "Period (s)", ``%.f``, 0..3600 step 60; how often the parameters are
  checked (0: only on ``WEATHER_REFRESH``).
- ``WEATHER_REFRESH`` (switch, rw, AtMostOne, "Weather"): ``REFRESH``: check now.
- ``WEATHER_OVERRIDE`` (switch, rw, AnyOfMany, "Safety"): ``OVERRIDE``
  "Override Status": the status reads Ok whatever the weather.
- ``WEATHER_PARAMETERS`` (number, ro, "Parameters", group "Parameters"): one
  member per parameter, ``%4.2f``, its min and max the OK range.
- ``WEATHER_STATUS`` (light, "Status", "Main Control"): one light per
  critical parameter; the vector's state is the worst of them.
- one number vector per parameter, named as it (rw, group "Parameters"):
  ``MIN_OK`` "OK range min", ``MAX_OK`` "OK range max", ``PERC_WARN`` "% for
  Warning".

A value outside the OK range is Alert; one within ``PERC_WARN`` percent of
the range from an edge is Busy (libindi's warning zone, which it skips at an
edge of 0, as wind speeds start there); else Ok. A parameter whose source is
in Alert (its sensor cannot be read: the value it carries is old) or was
deleted, or that is not heard from for ``stale_seconds``, is Alert too, and
so is ``WEATHER_PARAMETERS``: a weather device that cannot see the sky must
not say it is safe. Sensors send only what changes, so a steady one is asked
for its values again when silent for a third of ``stale_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from pi_indi import (
    LightMember,
    LightVector,
    NumberMember,
    NumberVector,
    SwitchMember,
    SwitchVector,
)
from pi_indi.protocol import number_to_wire
from pi_indi_drivers.api import (
    WEATHER_INTERFACE,
    GpioDriver,
    PropertyVector,
    option,
    snooped_number,
)

__all__ = ["WeatherDriver", "WeatherOptions", "parameter_state"]

#: libindi's groups for a weather device (INDI::Weather: MAIN_CONTROL_TAB, "Parameters").
STATUS_GROUP = "Main Control"
PARAMETERS_GROUP = "Parameters"


def parameter_state(value: float | None, low: float, high: float, warn_percent: float) -> str:
    """Libindi's ``checkParameterState``: Alert outside low..high, Busy near an edge, else Ok.

    The warning zone is *warn_percent* of the range at each end, skipped at
    an edge of 0 as libindi skips it. No value (nothing heard) is Alert.
    """
    if value is None or value < low or value > high:
        return "Alert"
    zone = (high - low) * warn_percent / 100
    if (value < low + zone and low != 0) or (value > high - zone and high != 0):
        return "Busy"
    return "Ok"


_WORST = {"Idle": 0, "Ok": 1, "Busy": 2, "Alert": 3}


@dataclass(frozen=True, kw_only=True)
class WeatherOptions:
    """A ``[[device]]`` table with ``driver = "weather"``."""

    sources: tuple[str, ...] = option(
        help='each parameter\'s source: "DEVICE.VECTOR.MEMBER" of a device on this server'
    )
    parameters: tuple[str, ...] = option(
        (), help="each parameter's INDI name (default WEATHER_<MEMBER>)"
    )
    labels: tuple[str, ...] = option((), help="each parameter's label (default its name)")
    ok_min: tuple[float, ...] = option(help="each parameter's lowest safe value")
    ok_max: tuple[float, ...] = option(help="each parameter's highest safe value")
    warn_percent: tuple[float, ...] = option(
        (), help="each parameter's warning zone, % of its range at each end (default 15)"
    )
    critical: tuple[str, ...] = option(
        (), help="the parameters whose state is the weather status (default all)"
    )
    update_period: float = option(
        60.0, help="seconds between checks; 0: only on refresh", min=0, max=3600, unit="s"
    )
    stale_seconds: float = option(
        600.0,
        help="a parameter not heard from this long is Alert (asked again at a third of it)",
        min=15,
        unit="s",
    )

    def names(self) -> list[str]:
        """Every parameter's INDI name."""
        if self.parameters:
            return list(self.parameters)
        return [f"WEATHER_{source.rsplit('.', 1)[-1]}" for source in self.sources]

    def problems(self) -> list[tuple[str, str]]:
        """Checks across keys: as many entries as sources, ranges the right way round."""
        found: list[tuple[str, str]] = []
        count = len(self.sources)
        if not count:
            found.append(("sources", "names no parameter"))
        for i, source in enumerate(self.sources):
            parts = source.split(".")
            if len(parts) != 3 or not all(part.strip() for part in parts):
                found.append((f"sources[{i}]", f"{source!r} is not DEVICE.VECTOR.MEMBER"))
        for key in ("parameters", "labels", "warn_percent"):
            given = len(getattr(self, key))
            if given and given != count:
                found.append((key, f"has {given} entries for {count} sources"))
        for key in ("ok_min", "ok_max"):
            given = len(getattr(self, key))
            if given != count:
                found.append((key, f"has {given} entries for {count} sources"))
        for i, (low, high) in enumerate(zip(self.ok_min, self.ok_max, strict=False)):
            if not low < high:
                found.append((f"ok_min[{i}]", f"{low} is not below ok_max[{i}] = {high}"))
        for i, percent in enumerate(self.warn_percent):
            if not 0 <= percent <= 100:
                found.append((f"warn_percent[{i}]", f"{percent} is not within 0..100"))
        names = self.names()
        if len(set(names)) != len(names):
            found.append(("parameters", "names a parameter twice"))
        reserved = {"WEATHER_UPDATE", "WEATHER_REFRESH", "WEATHER_OVERRIDE"}
        reserved |= {"WEATHER_PARAMETERS", "WEATHER_STATUS", "CONNECTION", "DRIVER_INFO"}
        for name in names:
            if name in reserved:
                found.append(("parameters", f"{name!r} is the name of another property"))
        for i, name in enumerate(self.critical):
            if name not in names:
                found.append((f"critical[{i}]", f"{name!r} is not one of {', '.join(names)}"))
        return found


def _warn(opts: WeatherOptions, i: int) -> float:
    return opts.warn_percent[i] if opts.warn_percent else 15.0


@dataclass(slots=True)
class _Parameter:
    name: str
    label: str
    device: str
    vector: str
    member: str
    low: float
    high: float
    warn: float
    value: float | None = None
    heard: float | None = None  # monotonic time of the last value
    lost: str = ""  # why there is no value (the source deleted, in Alert)


class WeatherDriver(GpioDriver):
    """A weather station from this server's sensors, as libindi's WeatherInterface."""

    options_class = WeatherOptions
    interface = WEATHER_INTERFACE
    group = STATUS_GROUP

    def build(self) -> list[PropertyVector[Any]]:
        """The parameters and their ranges (ranges a client set are kept), and the status."""
        opts: WeatherOptions = self.options
        old = {p.name: p for p in getattr(self, "params", [])}
        self.params: list[_Parameter] = []
        names = opts.names()
        for i, source in enumerate(opts.sources):
            device, vector, member = source.split(".")
            name = names[i]
            kept = old.get(name)
            self.params.append(
                _Parameter(
                    name=name,
                    label=opts.labels[i] if opts.labels else name,
                    device=device,
                    vector=vector,
                    member=member,
                    low=kept.low if kept else opts.ok_min[i],
                    high=kept.high if kept else opts.ok_max[i],
                    warn=kept.warn
                    if kept
                    else (opts.warn_percent[i] if opts.warn_percent else 15.0),
                    value=kept.value if kept else None,
                    heard=kept.heard if kept else None,
                    lost=kept.lost if kept else "",
                )
            )
        critical = set(opts.critical) or set(names)
        self.period_vector = NumberVector(
            "WEATHER_UPDATE",
            "Update",
            STATUS_GROUP,
            "rw",
            "Idle",
            [NumberMember("PERIOD", "Period (s)", "%.f", 0, 3600, 60, opts.update_period)],
        )
        self.refresh_vector = SwitchVector(
            "WEATHER_REFRESH",
            "Weather",
            STATUS_GROUP,
            "rw",
            "AtMostOne",
            "Idle",
            [SwitchMember("REFRESH", "Refresh")],
        )
        self.override_vector = SwitchVector(
            "WEATHER_OVERRIDE",
            "Safety",
            STATUS_GROUP,
            "rw",
            "AnyOfMany",
            "Idle",
            [SwitchMember("OVERRIDE", "Override Status")],
        )
        self.parameters_vector = NumberVector(
            "WEATHER_PARAMETERS",
            "Parameters",
            PARAMETERS_GROUP,
            "ro",
            "Ok",
            [
                NumberMember(p.name, p.label, "%4.2f", p.low, p.high, 0, p.value or 0.0)
                for p in self.params
            ],
        )
        self.status_vector = LightVector(
            "WEATHER_STATUS",
            "Status",
            STATUS_GROUP,
            "Idle",
            [LightMember(p.name, p.label) for p in self.params if p.name in critical],
        )
        self.ranges = {
            p.name: NumberVector(
                p.name,
                p.label,
                PARAMETERS_GROUP,
                "rw",
                "Idle",
                [
                    NumberMember("MIN_OK", "OK range min", "%4.2f", -1e6, 1e6, 0, p.low),
                    NumberMember("MAX_OK", "OK range max", "%4.2f", -1e6, 1e6, 0, p.high),
                    NumberMember("PERC_WARN", "% for Warning", "%g", 0, 100, 1, p.warn),
                ],
            )
            for p in self.params
        }
        self.handle("WEATHER_UPDATE", self._on_update)
        self.handle("WEATHER_REFRESH", self._on_refresh)
        self.handle("WEATHER_OVERRIDE", self._on_override)
        for name in self.ranges:
            self.handle(name, self._on_range)
        return [
            self.period_vector,
            self.refresh_vector,
            self.override_vector,
            self.status_vector,
            self.parameters_vector,
            *self.ranges.values(),
        ]

    #: Set to check at once (a refresh, a new period, a new range).
    _check_now: asyncio.Event | None = None

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._check_now = asyncio.Event()
        # Sensors send only what changes: a steady one is asked for its values
        # again when silent for a third of stale_seconds (the framework's
        # snoop timeout, at least 5 s), so it goes stale only if it stops answering.
        again = max(5.0, self.options.stale_seconds / 3)
        for source in sorted({(p.device, p.vector) for p in self.params}):
            self.snoop(*source, timeout=again)

    # -- what the sensors say --

    async def snoopevent(self, event: Any) -> None:
        """Keep each parameter's latest value and when it came, or why it is lost."""
        for p in self.params:
            said = snooped_number(event, p.device, p.vector, p.member)
            if said is None:
                continue
            had = p.value is not None
            p.value, p.lost = said
            p.heard = time.monotonic() if p.value is not None else None
            if had != (p.value is not None) and self._check_now is not None:
                # A parameter found (the first reading) or lost (its sensor in
                # Alert, or deleted) is checked at once; values wait for the period.
                self._check_now.set()

    # -- the checks --

    async def run(self) -> None:
        """Check the parameters every ``PERIOD`` seconds, or when refreshed."""
        assert self._check_now is not None  # noqa: S101
        while True:
            await self.check()
            self._check_now.clear()
            period = self.period_vector.getfloatvalue("PERIOD")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(period if period > 0 else None):
                    await self._check_now.wait()

    async def check(self) -> None:
        """Set the parameters' values and the status lights from what was heard."""
        now = time.monotonic()
        stale = self.options.stale_seconds
        states: dict[str, str] = {}
        missing: list[str] = []
        for p in self.params:
            fresh = p.heard is not None and now - p.heard <= stale
            value = p.value if fresh else None
            if value is None:
                missing.append(f"{p.label} ({p.lost})" if p.lost else p.label)
            if value is not None:
                self.parameters_vector[p.name] = self.parameters_vector.data[p.name].format_number(
                    value
                )
            states[p.name] = parameter_state(value, p.low, p.high, p.warn)
        overall = "Idle"
        for name, light in self.status_vector.data.items():
            light.membervalue = states[name]
            if _WORST[states[name]] > _WORST[overall]:
                overall = states[name]
        if self.override_vector["OVERRIDE"] == "On":
            overall = "Ok"
        await self.parameters_vector.send_setVector(
            state="Alert" if missing else "Ok",
            message=f"[WARNING] no reading of {', '.join(missing)}" if missing else "",
        )
        await self.status_vector.send_setVector(state=overall)

    async def _on_update(self, event: Any) -> None:
        self.period_vector["PERIOD"] = event.getfloatvalue("PERIOD")
        await self.period_vector.send_setVector(state="Ok")
        self._wake()

    async def _on_refresh(self, event: Any) -> None:
        self.refresh_vector["REFRESH"] = "Off"
        await self.refresh_vector.send_setVector(state="Ok")
        self._wake()

    async def _on_override(self, event: Any) -> None:
        on = event.get("OVERRIDE", self.override_vector["OVERRIDE"]) == "On"
        self.override_vector["OVERRIDE"] = "On" if on else "Off"
        if on:
            await self.device.send_device_message(
                "[WARNING] Weather override is enabled. Observatory is not safe."
                " Turn off override as soon as possible."
            )
        await self.override_vector.send_setVector(state="Busy" if on else "Idle")
        self._wake()

    async def _on_range(self, event: Any) -> None:
        vector = self.ranges[event.vectorname]
        for name in ("MIN_OK", "MAX_OK", "PERC_WARN"):
            if name in event:
                vector[name] = event.getfloatvalue(name)
        low, high = vector.getfloatvalue("MIN_OK"), vector.getfloatvalue("MAX_OK")
        if not low < high:
            vector.state = "Alert"
            await vector.send_setVector(message=f"[ERROR] {low:g} is not below {high:g}")
            return
        p = next(p for p in self.params if p.name == event.vectorname)
        p.low, p.high, p.warn = low, high, vector.getfloatvalue("PERC_WARN")
        member = self.parameters_vector.data[p.name]
        member.min, member.max = number_to_wire(low), number_to_wire(high)
        await vector.send_setVector(state="Ok")
        await self.parameters_vector.send_defVector()  # the new range, for clients
        self._wake()

    def _wake(self) -> None:
        if self._check_now is not None:
            self._check_now.set()
