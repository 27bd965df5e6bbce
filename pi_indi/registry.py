"""Finding drivers and hardware back ends: entry points, and what a driver is given.

Bundled drivers are plugins like any other (mopidy's extension records): they
are registered under the entry-point group ``pi_indi.drivers`` and the core
never imports one by module path. A config table names a driver by its entry
point name (``driver = "led"``) or, for a one-off local driver, as
``"module:Class"``.

A driver class that can be built from a config table has two extra class
attributes:

- ``options_class``: a frozen dataclass of its options, which
  :mod:`pi_indi.config` checks each table against (fields made with
  :func:`pi_indi.config.option`);
- ``from_config(context)``: a class method building the driver from a
  :class:`DriverContext`.

A plain ``IPyDriver`` subclass without them is built with no arguments.

Hardware (the pin factory, pin names, the mock pins) is reached through a
back end registered under ``pi_indi.hardware``; the bundled one is ``gpio``,
the only code that imports gpiozero.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pi_indi.driver import IPyDriver

__all__ = [
    "DRIVER_GROUP",
    "HARDWARE_GROUP",
    "SIMULATION_GROUP",
    "DriverContext",
    "DriverRecord",
    "DriverStatus",
    "Hardware",
    "bundled_driver_names",
    "find_driver",
    "iter_drivers",
    "load_hardware",
]

logger = logging.getLogger(__name__)

DRIVER_GROUP = "pi_indi.drivers"
HARDWARE_GROUP = "pi_indi.hardware"
#: The driver that lets clients drive what a mock-mode back end simulates.
SIMULATION_GROUP = "pi_indi.simulation"


class Hardware(Protocol):
    """What the core needs from a hardware back end (the bundled one is gpiozero's).

    A back end may also have these, which the appliance looks for with
    ``getattr`` (so they are not members of this protocol):

    - ``open_error``: an attribute, ``None`` or the
      :class:`~pi_indi.errors.HardwareError` from the last time the pin
      library failed to start. A back end that has it starts its pin library
      itself, with the first device that needs pins, and keeps there why it
      could not; the appliance then never calls :meth:`open`, and a config
      whose devices need no pins runs where no pin library can start. A back
      end without it is opened before any driver is built, and again after a
      reload that replaced it.
    - ``hold_outputs(hold: bool) -> None``: from now on (``True``), releasing
      a device leaves its output pins driven at their levels instead of
      turning them back into inputs; ``False`` goes back to freeing them. The
      appliance calls it with ``True`` before the drivers put their outputs in
      their safe states on the way out (a stop, or a server that cannot
      listen), and with ``False`` once it serves, so that a device a reload
      stops gives its pins back to the one replacing it. :meth:`close` leaves
      the outputs driven in any case.
    - ``forget_device(devicename: str) -> None``: drop what the back end keeps
      for a device that was stopped or failed to start (its simulated inputs).
    - ``simulated_inputs`` (a mapping) and ``simulated_readings`` (a
      sequence): in mock mode, what the drivers offered clients to set; the
      appliance builds the control device for them with
      :func:`simulation_driver`.
    """

    #: True when the pins are simulated (gpiozero's mock pin factory).
    mock: bool

    def resolve_pin(self, spec: int | str) -> str:
        """The canonical name of a pin in any spelling ("GPIO17" for 17, "BOARD11", ...).

        Raises:
            ValueError: there is no such GPIO pin on this board; the text says why.
        """

    def open(self) -> None:
        """Start the pin factory; called before any driver is built, unless there is ``open_error``.

        Raises:
            pi_indi.errors.HardwareError: the pin library cannot be started.
        """

    def close(self) -> None:
        """Release the pins and the pin factory, leaving the outputs driven at their levels."""


@dataclass(slots=True)
class DriverContext:
    """Everything a driver built from a config table is given.

    Attributes:
        devicename: the INDI device name from the table's ``name``.
        options: an instance of the driver's ``options_class``.
        hardware: the hardware back end (the bundled drivers expect the gpio one).
        saved_state: the state the driver last saved, when restoring is on.
        save_state: call with a small mapping of plain values (TOML types) to
            persist it; it is written atomically, off the event loop.
        settings: the settings clients changed and the driver saved (labels,
            pulse durations), whether or not output states are restored.
        save_settings: call with a small mapping of plain values to persist
            the settings (in ``settings.toml`` of the state directory).
        load_settings: read the saved settings again from where
            ``save_settings`` writes them (CONFIG_LOAD); None when there are none.
    """

    devicename: str
    options: Any
    hardware: Any
    saved_state: Mapping[str, Any] | None = None
    save_state: Callable[[Mapping[str, Any]], None] = field(default=lambda state: None)
    settings: Mapping[str, Any] | None = None
    save_settings: Callable[[Mapping[str, Any]], None] = field(default=lambda settings: None)
    load_settings: Callable[[], Mapping[str, Any] | None] | None = None


class DriverStatus(enum.StrEnum):
    """Where a configured driver got to (mopidy's extension statuses)."""

    LOADED = "loaded"
    DISABLED = "disabled"
    LOAD_ERROR = "load error"
    CONFIG_ERROR = "config error"
    START_ERROR = "start error"
    RUNNING = "running"


@dataclass(slots=True)
class DriverRecord:
    """A driver known by name: where it comes from and whether it loaded."""

    name: str
    target: str
    distribution: str | None = None
    cls: type[Any] | None = None
    status: DriverStatus = DriverStatus.LOADED
    error: str | None = None

    @property
    def summary(self) -> str:
        """The first line of the driver class's docstring."""
        if self.cls is None or not self.cls.__doc__:
            return ""
        return self.cls.__doc__.strip().splitlines()[0]


@functools.cache
def _entry_points(group: str) -> tuple[EntryPoint, ...]:
    # Read once per process: each entry_points() call reads the metadata of
    # every installed distribution, and a config names a driver per device.
    return tuple(sorted(entry_points(group=group), key=lambda ep: ep.name))


@functools.cache
def _distribution_of(ep: EntryPoint) -> str | None:
    # Parsing a distribution's METADATA is not cheap: once per entry point.
    return ep.dist.name if ep.dist is not None else None


def _load_entry_point(ep: EntryPoint) -> DriverRecord:
    record = DriverRecord(name=ep.name, target=ep.value, distribution=_distribution_of(ep))
    try:
        cls = ep.load()
    except Exception as exc:  # noqa: BLE001 - any failure is the plugin's, and is reported
        record.status = DriverStatus.LOAD_ERROR
        record.error = f"{type(exc).__name__}: {exc}"
        return record
    _check_driver_class(record, cls)
    return record


def _check_driver_class(record: DriverRecord, cls: Any) -> None:
    from pi_indi.driver import IPyDriver

    if not (isinstance(cls, type) and issubclass(cls, IPyDriver)):
        record.status = DriverStatus.LOAD_ERROR
        record.error = f"{record.target} is not an IPyDriver subclass"
        return
    options = getattr(cls, "options_class", None)
    if options is not None and not dataclasses.is_dataclass(options):
        record.status = DriverStatus.LOAD_ERROR
        record.error = f"{record.target}.options_class is not a dataclass"
        return
    record.cls = cls


def iter_drivers() -> Iterator[DriverRecord]:
    """Every driver registered under ``pi_indi.drivers``, loaded, in name order."""
    for ep in _entry_points(DRIVER_GROUP):
        yield _load_entry_point(ep)


def bundled_driver_names() -> list[str]:
    """The names registered under ``pi_indi.drivers`` (without loading them)."""
    return [ep.name for ep in _entry_points(DRIVER_GROUP)]


def find_driver(name: str) -> DriverRecord | None:
    """The driver a config table names: an entry point name, or ``module:Class``.

    Returns None when no entry point has that name (and it is not
    ``module:Class``); a record with a LOAD_ERROR status when it exists but
    cannot be loaded.
    """
    if ":" in name:
        module_name, _, attr = name.partition(":")
        record = DriverRecord(name=name, target=name)
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except Exception as exc:  # noqa: BLE001 - reported as the driver's status
            record.status = DriverStatus.LOAD_ERROR
            record.error = f"{type(exc).__name__}: {exc}"
            return record
        _check_driver_class(record, cls)
        return record
    for ep in _entry_points(DRIVER_GROUP):
        if ep.name == name:
            return _load_entry_point(ep)
    return None


def simulation_driver(hardware: Any) -> IPyDriver | None:
    """The control device for what *hardware* simulates, once every driver is built.

    None unless the back end is in mock mode and simulates something (its
    ``simulated_inputs`` and ``simulated_readings``). The driver class is the
    one registered under ``pi_indi.simulation``, built with the back end.
    """
    if not getattr(hardware, "mock", False):
        return None
    if not (
        getattr(hardware, "simulated_inputs", None) or getattr(hardware, "simulated_readings", None)
    ):
        return None
    for ep in _entry_points(SIMULATION_GROUP):
        driver: IPyDriver = ep.load()(hardware)
        return driver
    return None


def load_hardware(name: str = "gpio", **kwargs: Any) -> Hardware:
    """Build the hardware back end registered under ``pi_indi.hardware`` as *name*.

    Raises:
        LookupError: no back end of that name is installed.
    """
    for ep in _entry_points(HARDWARE_GROUP):
        if ep.name == name:
            factory = ep.load()
            hardware: Hardware = factory(**kwargs)
            return hardware
    raise LookupError(f"no hardware back end {name!r} is installed (entry points {HARDWARE_GROUP})")
