"""The public API for appliance driver plugins: import from here, and only from here.

A plugin is a Python distribution that registers its driver classes under
the entry-point group ``pi_indi.drivers``; ``pi-indi list-drivers`` lists
them, and a ``[[device]]`` table with ``driver = "<entry point name>"``
builds one. What a driver declares and is given:

- **Options.** ``options_class``: a frozen dataclass whose fields are made
  with :func:`option` (default, help line, range, unit, whether it is a
  pin). ``check-config`` checks a table against it, with every problem at
  once; ``show-config`` shows it. A ``problems()`` method adds checks across
  fields (return ``[(key, message), ...]``); a ``hardware_notes()`` method
  says what the hardware still needs (a sensor the kernel has not found, and
  the overlay line that enables it), which ``check-config`` and
  ``show-config`` print as notes: the config stays valid.
- **Context.** The driver is built with a :class:`DriverContext`: its device
  name, its options, the hardware back end, and its saved state and
  settings with the functions that save them.
- **Status.** Where a configured driver got to is a :class:`DriverStatus`;
  a driver that cannot start raises :class:`HardwareError` (or any error),
  which becomes ``start error`` with the reason, and the other devices are
  served.
- **Hardware.** :attr:`GpioDriver.mock` says whether the pins and sensors
  are simulated. The bundled back end (``context.hardware``, ``self.gpio`` in
  a :class:`GpioDriver`) opens the pin library on the first device that
  needs pins: a driver that makes no gpiozero device never starts one.
  gpiozero devices are made with ``self.gpio.create("LED", pin=...)`` and
  released in :meth:`GpioDriver.close_hardware`; calls into them go through
  :meth:`GpioDriver.attempt` or ``async with self.hardware_errors(vector)``.
- **Base classes.** :class:`GpioDriver` for one device built from one table
  (``CONNECTION``, ``DRIVER_INFO``, ``CONFIG_PROCESS``, ``DEBUG``, request
  handlers per vector); :class:`PolledSensorDriver` for sensors read on a
  timer off the event loop (``POLLING_PERIOD``), each a :class:`Sensor` shown
  by a :class:`Reading`; in mock mode, :class:`SimulatedReading` values that
  clients set from the Mock GPIO device.
- **Environment.** :func:`dew_point` (Magnus), and :func:`snooped_number`,
  which reads one number of another device from a snooped event and says
  when it is lost (deleted, in Alert, not a number): what the weather
  device and the dew heater are built on.

Everything in ``__all__`` is kept stable: a change to it is a breaking
change, said so in the changelog. Modules whose names start with ``_`` are
not part of it. ``docs/writing-drivers.md`` teaches it, with
``examples/plugin`` as a plugin package written as a third party would.
"""

from __future__ import annotations

from pi_indi.config import option
from pi_indi.errors import HardwareError
from pi_indi.properties import PropertyVector
from pi_indi.registry import DriverContext, DriverStatus
from pi_indi_drivers._base import (
    AUX_INTERFACE,
    INPUT_INTERFACE,
    OUTPUT_INTERFACE,
    POWER_INTERFACE,
    WEATHER_INTERFACE,
    GpioDriver,
    HardwareGuard,
)
from pi_indi_drivers._environment import dew_point, snooped_number
from pi_indi_drivers._simulation import Sensor, SimulatedInput, SimulatedReading
from pi_indi_drivers.sensors import PolledSensorDriver, Reading

__all__ = [
    "AUX_INTERFACE",
    "INPUT_INTERFACE",
    "OUTPUT_INTERFACE",
    "POWER_INTERFACE",
    "WEATHER_INTERFACE",
    "DriverContext",
    "DriverStatus",
    "GpioDriver",
    "HardwareError",
    "HardwareGuard",
    "PolledSensorDriver",
    "PropertyVector",
    "Reading",
    "Sensor",
    "SimulatedInput",
    "SimulatedReading",
    "dew_point",
    "option",
    "snooped_number",
]
