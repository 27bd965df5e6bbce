"""An example pi-indi driver plugin: one number read from a file, scaled and offset.

Written as a third party would write a plugin: it imports only
``pi_indi_drivers.api`` and public ``pi_indi`` names, and its distribution
registers :class:`FileSensorDriver` under the entry-point group
``pi_indi.drivers`` as ``file_sensor``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pi_indi import NumberMember, NumberVector
from pi_indi_drivers.api import (
    AUX_INTERFACE,
    HardwareError,
    PolledSensorDriver,
    PropertyVector,
    Reading,
    Sensor,
    option,
)

__all__ = ["FileSensorDriver", "FileSensorOptions"]

__version__ = "0.1.0"


@dataclass(frozen=True, kw_only=True)
class FileSensorOptions:
    """Options of the ``file_sensor`` driver."""

    path: str = option(
        help="the file holding one number, such as /sys/class/thermal/thermal_zone0/temp"
    )
    scale: float = option(1.0, help="what the number read is multiplied by")
    offset: float = option(0.0, help="what is added to the number once scaled")
    label: str = option("Value", help="what clients call the value")
    unit: str = option("", help="the unit of the value shown, such as °C")
    minimum: float = option(0.0, help="the smallest value clients expect (and mock mode allows)")
    maximum: float = option(100.0, help="the largest value clients expect (and mock mode allows)")
    format: str = option("%.2f", help="the printf format clients show the value with")
    interval: float = option(5.0, help="seconds between readings", min=0.05, max=86400.0, unit="s")

    def problems(self) -> list[tuple[str, str]]:
        """A path, a scale that is not 0, minimum below maximum, a number format."""
        problems = []
        if not self.path.strip():
            problems.append(("path", "is empty: give the file to read"))
        if self.scale == 0:
            problems.append(("scale", "is 0: every reading would be the offset"))
        if self.minimum >= self.maximum:
            problems.append(
                ("maximum", f"is {self.maximum}: it must be above minimum ({self.minimum})")
            )
        try:
            _member(self).format_number(self.minimum)
        except (TypeError, ValueError) as exc:
            problems.append(("format", f"{self.format!r} is not a number format: {exc}"))
        return problems


def _member(options: FileSensorOptions) -> NumberMember:
    label = f"{options.label} ({options.unit})" if options.unit else options.label
    return NumberMember(
        "VALUE", label, options.format, options.minimum, options.maximum, 0, _start(options)
    )


def _start(options: FileSensorOptions) -> float:
    # What is shown until the first reading: 0, or the nearest end of the range.
    return min(max(0.0, options.minimum), options.maximum)


class FileSensorDriver(PolledSensorDriver):
    """A number read from a file (sysfs, /proc), shown as ``value * scale + offset``.

    A file that cannot be read, or does not hold a number, puts ``FILE_VALUE``
    in Alert with the reason; the next good reading puts it back to Ok.

    In mock mode (``pi-indi serve --mock``) the reading is offered on the
    "Mock GPIO" device: once a client sets it there, that value is shown
    instead of the file's. A file missing when the device is made (a Pi's
    sysfs path on a laptop) is then not read at all: the simulated value is
    shown from the start.

    Example:
        .. code-block:: toml

            [[device]]
            driver = "file_sensor"
            name = "Enclosure temperature"
            path = "/sys/class/thermal/thermal_zone0/temp"
            scale = 0.001
            unit = "°C"
    """

    options_class = FileSensorOptions
    interface = AUX_INTERFACE

    #: The value a client set from the "Mock GPIO" device (mock mode only),
    #: shown instead of the file's; it outlives a DISCONNECT/CONNECT.
    mock_value: float | None = None

    def make(self) -> list[PropertyVector[Any]]:
        """The sensor (no gpiozero device: a function reading the file) and ``FILE_VALUE``."""
        opts: FileSensorOptions = self.options
        # Simulation is always offered: the back end takes it only in mock
        # mode, so only there can a client set a value (and _simulate run).
        if self.mock and self.mock_value is None and not os.path.exists(opts.path):
            self.mock_value = _start(opts)
        sensor = Sensor(device=None, read=self._read, simulate=self._simulate)
        member = _member(opts)
        vector = NumberVector(
            name="FILE_VALUE",
            label=opts.label,
            group=self.group,
            perm="ro",
            state="Idle",
            numbermembers=[member],
        )
        self.readings.append(Reading(sensor, vector, lambda value: {"VALUE": value}))
        self.simulate(
            sensor,
            "VALUE",
            opts.label,
            unit=opts.unit,
            minimum=opts.minimum,
            maximum=opts.maximum,
            value=_start(opts),
        )
        return [vector]

    def _simulate(self, value: float) -> None:
        # Called on the event loop; _read (a worker thread) sees one float
        # or None, replaced whole.
        self.mock_value = value

    def _read(self) -> float:
        simulated = self.mock_value
        if simulated is not None:
            return simulated
        opts: FileSensorOptions = self.options
        try:
            with open(opts.path, encoding="utf-8") as file:
                text = file.read(256)
        except OSError as exc:
            raise HardwareError(f"cannot read {opts.path}: {exc.strerror or exc}") from exc
        try:
            number = float(text.split()[0])
        except (IndexError, ValueError) as exc:
            raise HardwareError(f"{opts.path} does not hold a number: {text[:40]!r}") from exc
        return number * opts.scale + opts.offset
