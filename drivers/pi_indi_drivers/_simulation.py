"""What a sensor is and what mock mode lets a client set: plain data, no gpiozero.

A :class:`Sensor` is anything a polled driver reads (a gpiozero device made
by the back end, a file in sysfs, a kernel sensor); :class:`SimulatedReading`
and :class:`SimulatedInput` are what a driver offers the mock control device
in mock mode. Kept apart from the gpiozero adapter (``_gpio``) so plugins and
the simulation need not import gpiozero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Sensor", "SimulatedInput", "SimulatedReading"]


@dataclass(slots=True)
class SimulatedInput:
    """An input pin a client may drive in mock mode."""

    pin: str
    devicename: str
    label: str


@dataclass(slots=True)
class SimulatedReading:
    """A sensor reading a client may set in mock mode.

    ``apply`` is called on the event loop with the new value (already checked
    against ``minimum``..``maximum``).
    """

    devicename: str
    name: str
    label: str
    unit: str
    minimum: float
    maximum: float
    value: float
    apply: Callable[[float], None] = field(repr=False)


@dataclass(slots=True)
class Sensor:
    """A sensor and how to read it: a gpiozero device made by the back end, or anything else.

    ``read()`` blocks (a smoothed sensor may wait for its samples, a file is
    read), so call it off the event loop; whatever goes wrong comes out as an
    exception. ``simulate``, when given, sets the value later reads give; it is
    called on the event loop, and only in mock mode: a driver may always give
    it, and the back end offers it to clients only when the pins are
    simulated (:attr:`GpioDriver.mock <pi_indi_drivers.api.GpioDriver.mock>`).
    """

    device: Any
    read: Callable[[], float] = field(repr=False)
    simulate: Callable[[float], None] | None = field(default=None, repr=False)
