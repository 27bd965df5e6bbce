"""The gpiozero back end: the only module that imports gpiozero.

Drivers never import gpiozero; they ask :class:`Gpio` for devices by gpiozero
class name (``gpio.create("LED", pin="GPIO17")``), so the pin factory is always
the injected one (never the global ``Device.pin_factory``), every device is
closed when the service stops, and gpiozero's errors come out as
:class:`~pi_indi.errors.HardwareError` with a message fit for a user.

On the mock pin factory the pins are PWM-capable, input pins can be driven by
an INDI client through the control device (:meth:`Gpio.control_driver`), and
sensors read simulated values that the same device sets.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import gpiozero
from gpiozero.pins.mock import (
    MockChargingPin,
    MockFactory,
    MockPin,
    MockPWMPin,
    MockSPIDevice,
    MockTriggerPin,
)

from pi_indi.errors import HardwareError

if TYPE_CHECKING:
    from pi_indi.driver import IPyDriver

__all__ = ["FACTORIES", "Gpio", "Sensor", "SimulatedInput", "SimulatedReading"]

logger = logging.getLogger(__name__)

#: The pin factory names a config may give ("auto" lets gpiozero choose).
FACTORIES = ("auto", "lgpio", "rpigpio", "pigpio", "native", "mock")

#: The board the mock factory simulates unless told otherwise: a Raspberry Pi 5.
DEFAULT_MOCK_REVISION = "d04170"

#: The speed of sound gpiozero's DistanceSensor assumes, in m/s.
SPEED_OF_SOUND = 343.26

#: Seconds a read waits for a smoothed sensor's first full queue of samples.
FIRST_READING_TIMEOUT = 3.0


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
    """A sensor made by :class:`Gpio`: the gpiozero device and how to read it.

    ``read()`` blocks (a smoothed sensor may wait for its samples, a file is
    read), so call it off the event loop; whatever goes wrong comes out as an
    exception. ``simulate`` is set in mock mode only: it sets the value later
    reads give, and is called on the event loop.
    """

    device: Any
    read: Callable[[], float] = field(repr=False)
    simulate: Callable[[float], None] | None = field(default=None, repr=False)


def _smoothed(device: Any, attribute: str, timeout: float = FIRST_READING_TIMEOUT) -> float:
    # gpiozero's SmoothedInputDevice.value waits with no timeout until its
    # queue of samples is full (GPIOQueue.value); a sensor that never answers
    # (an HC-SR04 with no echo) would hold the reading thread for ever. So wait
    # for that queue first, with a timeout. The queue is gpiozero's private
    # attribute: this is the one place that knows about it.
    full = getattr(getattr(device, "_queue", None), "full", None)
    if full is not None and not device.partial and not full.wait(timeout):
        raise HardwareError(f"no reading from the {type(device).__name__} yet: is it wired?")
    return float(getattr(device, attribute))


def _echo_time(metres: float) -> float:
    """How long an HC-SR04's echo lasts for an object *metres* away."""
    return 2.0 * max(metres, 0.0) / SPEED_OF_SOUND


def _charge_time(level: float, limit: float) -> float:
    """How long a LightSensor's capacitor takes to charge at light *level* (0..1)."""
    return (1.0 - min(max(level, 0.0), 1.0)) * limit


class _SimulatedFile:
    """A file in the mock's temporary directory standing in for a /sys or /proc file."""

    def __init__(self, directory: str, prefix: str, text: str) -> None:
        fd, self.path = tempfile.mkstemp(prefix=prefix, dir=directory)
        os.close(fd)
        self.write(text)

    def write(self, text: str) -> None:
        # Replaced whole, so a read in another thread never sees half a file.
        new = self.path + ".new"
        with open(new, "w", encoding="ascii") as f:
            f.write(text)
        os.replace(new, self.path)


class _MockMCP3xxx(MockSPIDevice):  # type: ignore[misc]
    """The chip's side of an MCP3xxx conversation on mock pins, for simulated voltages.

    Once selected, the chip waits for a start bit, reads the single-ended or
    differential bit and the channel bits (one on the 3x02, three on the
    others), then clocks out the conversion: a don't-care bit, a null bit (and
    a sign bit on the 33xx) and the result. The 3x01 chips take no command and
    answer at once. gpiozero's own tests have a fuller MockMCP3xxx family.
    """

    rx_buf: list[int]

    def __init__(self, chip: str, vref: float, *pins: Any, pin_factory: Any) -> None:
        super().__init__(*pins, pin_factory=pin_factory)
        self.vref = vref
        self.bits = 10 if chip.startswith("MCP30") else 12
        self.signed = chip.startswith("MCP33")
        self.no_command = chip.endswith("1")
        self.channel_bits = 1 if chip.endswith("2") and not self.signed else 3
        self.voltages = [0.0] * 8
        self._stage = "idle"
        self._single = True

    def on_start(self) -> None:
        super().on_start()
        self._stage = "start"
        if self.no_command:
            self._stage = "done"
            self._convert(self.voltages[0] - self.voltages[1], differential=True)

    def on_bit(self) -> None:
        received = self.rx_buf
        if self._stage == "start":
            if received[-1]:
                self._stage = "mode"
                self.rx_buf = []
        elif self._stage == "mode":
            self._single = bool(received[-1])
            self._stage = "channel"
            self.rx_buf = []
        elif self._stage == "channel" and len(received) == self.channel_bits:
            channel = self.rx_word()
            self._stage = "done"
            if self._single:
                self._convert(self.voltages[channel], differential=False)
            else:
                volts = self.voltages[channel] - self.voltages[channel ^ 1]
                self._convert(volts, differential=True)

    def _convert(self, volts: float, *, differential: bool) -> None:
        lowest = -self.vref if self.signed and differential else 0.0
        volts = min(max(volts, lowest), self.vref)
        span = 2 ** (self.bits + 1)
        raw = int((volts / self.vref + 1) / 2 * (span - 1) - span // 2)
        if raw < 0:
            raw += span
        padding = (3 if self.no_command else 2) + self.signed
        self.tx_word(raw, self.bits + padding)


def _local_revision() -> str | None:
    """This Raspberry Pi's board revision (hex), or None when this is not a Pi.

    Read the way gpiozero's local pin factories read it (pins/local.py), but
    without starting a pin factory: ``gpiozero.pi_info()`` would start one,
    trying every pin library in turn, with a warning for each.
    """
    try:
        with open("/proc/device-tree/system/linux,revision", "rb") as f:
            return f"{int.from_bytes(f.read(4), 'big'):x}"
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Revision"):
                    revision = line.partition(":")[2].strip().lower()
                    # Over-volted boards have the warranty bit set in front.
                    return revision[-6:] if len(revision) > 6 else revision
    except OSError:
        pass
    return None


def _factory_class(name: str) -> Any:
    for ep in entry_points(group="gpiozero_pin_factories"):
        if ep.name == name:
            return ep.load()
    raise HardwareError(f"gpiozero has no pin factory {name!r}")


#: The top-level modules whose exceptions come from the hardware: gpiozero and
#: the pin libraries under it (lgpio, pigpio, RPi.GPIO, spidev and smbus raise
#: their own types, or RuntimeError, for a line that is busy or gone).
_HARDWARE_MODULES = frozenset({"gpiozero", "lgpio", "pigpio", "RPi", "spidev", "smbus", "smbus2"})


def _hardware_reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, PermissionError):
        return f"{text or 'permission denied'} (is the service user in the gpio group?)"
    if isinstance(exc, gpiozero.PinPWMUnsupported):
        return f"{text or 'PWM is not supported'} (use a pin that can do PWM)"
    if isinstance(exc, gpiozero.DeviceClosed):
        return f"{text or 'the device is closed'}: the pin was released"
    return text or type(exc).__name__


def _reader(device: Any, attribute: str) -> Callable[[], float]:
    return lambda: float(getattr(device, attribute))


def _millidegrees(celsius: float) -> str:
    return f"{round(celsius * 1000)}\n"


def _loadavg(load: float) -> str:
    return f"{load:.2f} {load:.2f} {load:.2f} 1/100 1000\n"


class Gpio:
    """gpiozero behind a small interface: the pin factory, pin names, devices.

    Args:
        pin_factory: one of :data:`FACTORIES`.
        mock_revision: the Pi revision (hex) the mock factory simulates.
    """

    def __init__(self, pin_factory: str = "auto", mock_revision: str | None = None) -> None:
        if pin_factory not in FACTORIES:
            raise ValueError(f"pin_factory must be one of {', '.join(FACTORIES)}")
        self.pin_factory = pin_factory
        self.mock = pin_factory == "mock"
        self.mock_revision = mock_revision or DEFAULT_MOCK_REVISION
        self.factory: Any = None
        self.devices: list[Any] = []
        self.simulated_inputs: dict[str, SimulatedInput] = {}
        self.simulated_readings: list[SimulatedReading] = []
        self._board: Any = None
        self._lock = threading.Lock()
        self._mock_dir: str | None = None
        self._mock_spi: list[Any] = []

    # -- pins --

    def board(self) -> Any:
        """The board's description: the real one on a Pi, else the simulated one."""
        if self.factory is not None:
            return self.factory.board_info
        if self._board is None:
            revision = None if self.mock else _local_revision()
            if revision is not None:
                try:
                    self._board = gpiozero.pi_info(revision)
                except gpiozero.GPIOZeroError:
                    logger.debug("unknown board revision %s", revision)
            if self._board is None:
                self._board = gpiozero.pi_info(self.mock_revision)
        return self._board

    def board_problem(self) -> str | None:
        """Why pins cannot be checked against the board (an unknown revision), or None."""
        try:
            self.board()
        except gpiozero.GPIOZeroError as exc:
            return f"{exc}: not a Raspberry Pi revision gpiozero knows (such as d04170, a Pi 5)"
        return None

    def resolve_pin(self, spec: int | str) -> str:
        """The canonical name ("GPIO17") of a pin given in any gpiozero spelling.

        ``17``, ``"17"``, ``"GPIO17"``, ``"BCM17"``, ``"BOARD11"``, ``"J8:11"``
        and ``"WPI0"`` are all GPIO17.

        Raises:
            ValueError: the board has no such GPIO pin.
        """
        if isinstance(spec, bool) or not isinstance(spec, (int, str)):
            raise ValueError(f"a pin is a number or a name like 'GPIO17', not {spec!r}")
        try:
            return str(self.board().to_gpio(spec))
        except gpiozero.GPIOZeroError as exc:
            raise ValueError(f"{exc} on a {self.board().model}") from None

    # -- life cycle --

    def open(self) -> None:
        """Start the pin factory.

        Raises:
            HardwareError: the pin library cannot be started here.
        """
        if self.factory is not None:
            return
        try:
            if self.mock:
                self.factory = MockFactory(revision=self.mock_revision, pin_class=MockPWMPin)
            elif self.pin_factory == "auto":
                self.factory = gpiozero.Device._default_pin_factory()
            else:
                self.factory = _factory_class(self.pin_factory)()
        except HardwareError:
            raise
        except Exception as exc:
            raise HardwareError(
                f"cannot start the {self.pin_factory} pin factory: {exc}"
                ' (on a machine that is not a Raspberry Pi, use pin_factory = "mock")'
            ) from exc
        logger.info("pin factory: %s", type(self.factory).__name__)

    def create(self, class_name: str, /, **kwargs: Any) -> Any:
        """Build the gpiozero device *class_name* on this back end's pin factory.

        Raises:
            HardwareError: gpiozero refused (a pin in use, not PWM-capable,
                a bad value); the message says which device and why.
        """
        if self.factory is None:
            self.open()
        cls = getattr(gpiozero, class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, gpiozero.Device)):
            raise HardwareError(f"gpiozero has no device {class_name!r}")
        try:
            device = cls(**kwargs, pin_factory=self.factory)
        except (gpiozero.GPIOZeroError, OSError, ValueError, TypeError) as exc:
            raise HardwareError(f"{class_name}: {exc}") from exc
        with self._lock:
            self.devices.append(device)
        return device

    def release(self, device: Any) -> None:
        """Close one device made by :meth:`create` (its pins become free)."""
        with self._lock:
            if device in self.devices:
                self.devices.remove(device)
        try:
            device.close()
        except Exception:  # closing must go on for the others
            logger.exception("closing %r failed", device)

    def close(self) -> None:
        """Close every device and the pin factory."""
        with self._lock:
            devices, self.devices = self.devices, []
        for device in reversed(devices):
            try:
                device.close()
            except Exception:  # closing must go on for the others
                logger.exception("closing %r failed", device)
        for mock_spi in self._mock_spi:
            mock_spi.close()
        self._mock_spi.clear()
        if self._mock_dir is not None:
            shutil.rmtree(self._mock_dir, ignore_errors=True)
            self._mock_dir = None
        if self.factory is not None:
            try:
                if self.mock:
                    self.factory.reset()
                self.factory.close()
            except Exception:  # closing must go on
                logger.exception("closing the pin factory failed")
            self.factory = None

    def as_hardware_error(self, exc: BaseException) -> HardwareError | None:
        """*exc* as a :class:`HardwareError` when it came from the hardware, else None.

        The hardware's errors are gpiozero's (a pin busy or missing, PWM not
        supported, a device closed under its driver, a bad value), the pin
        libraries' own, and ``OSError`` and ``ValueError`` (a sensor file
        gone, a line lost). Anything else is a bug, not the hardware. This is
        the one place that knows gpiozero's exception types; drivers ask here.

        Returns:
            *exc* itself when it is a HardwareError; else a new one whose
            message is fit for a user and whose ``__cause__`` is *exc*.
        """
        if isinstance(exc, HardwareError):
            return exc
        if not (
            isinstance(exc, (gpiozero.GPIOZeroError, OSError, ValueError))
            or type(exc).__module__.partition(".")[0] in _HARDWARE_MODULES
        ):
            return None
        error = HardwareError(_hardware_reason(exc))
        error.__cause__ = exc
        return error

    def ensure_open(self, device: Any) -> None:
        """Raise now if *device* was closed, for calls that would fail only later.

        ``blink()`` on a closed device returns and then fails in gpiozero's
        blink thread, where no driver can see it.

        Raises:
            HardwareError: the device is closed.
        """
        if getattr(device, "closed", False):
            raise HardwareError(f"{type(device).__name__} is closed: the pin was released")

    # -- sensors (made so that, in mock mode, simulated values flow through gpiozero) --

    def create_distance_sensor(
        self, echo: str, trigger: str, *, distance: float = 0.5, **kwargs: Any
    ) -> Sensor:
        """An HC-SR04 ``DistanceSensor``; its ``read()`` gives metres.

        In mock mode the trigger pin is a ``MockTriggerPin`` whose echo lasts
        as long as sound takes to go *distance* metres and back; ``simulate``
        sets that distance.

        Raises:
            HardwareError: gpiozero refused the pins or the options.
        """
        if not self.mock:
            device = self._distance_sensor(echo=echo, trigger=trigger, **kwargs)
            return Sensor(device, lambda: _smoothed(device, "distance"))
        # The factory's default pin class is MockPWMPin, and a trigger pin is
        # not one: gpiozero refuses a cached pin whose PWM-ness differs from
        # the class it asks for, so the default is MockPin while these are made.
        with self._mock_pin_class(MockPin):
            echo_pin = self._mock_pin(echo)
            trigger_pin = self._mock_pin(
                trigger, pin_class=MockTriggerPin, echo_pin=echo_pin, echo_time=_echo_time(distance)
            )
            device = self._distance_sensor(echo=echo, trigger=trigger, **kwargs)

        def simulate(metres: float) -> None:
            trigger_pin.echo_time = _echo_time(metres)

        return Sensor(device, lambda: _smoothed(device, "distance"), simulate)

    def _distance_sensor(self, **kwargs: Any) -> Any:
        # gpiozero warns on every pin factory but pigpio (which does not run on
        # a Pi 5) that readings would be more accurate with pigpio. Nothing a
        # user can act on; the readings are smoothed anyway. Not shown.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gpiozero.PWMSoftwareFallback)
            return self.create("DistanceSensor", **kwargs)

    def create_light_sensor(self, pin: str, *, level: float = 0.5, **kwargs: Any) -> Sensor:
        """An LDR-and-capacitor ``LightSensor``; its ``read()`` gives 0 (dark) to 1.

        In mock mode the pin is a ``MockChargingPin`` whose charge time gives
        light *level*; ``simulate`` sets that level.

        Raises:
            HardwareError: gpiozero refused the pin or the options.
        """
        if not self.mock:
            device = self.create("LightSensor", pin=pin, **kwargs)
            return Sensor(device, lambda: _smoothed(device, "value"))
        limit = float(kwargs.get("charge_time_limit", 0.01))
        with self._mock_pin_class(MockPin):
            charging = self._mock_pin(
                pin, pin_class=MockChargingPin, charge_time=_charge_time(level, limit)
            )
            device = self.create("LightSensor", pin=pin, **kwargs)

        def simulate(value: float) -> None:
            charging.charge_time = _charge_time(value, limit)

        return Sensor(device, lambda: _smoothed(device, "value"), simulate)

    def create_mcp3xxx(
        self,
        chip: str,
        channels: Sequence[int],
        *,
        differential: bool = False,
        max_voltage: float = 3.3,
        voltage: float = 0.0,
        **spi_args: Any,
    ) -> list[Sensor]:
        """One gpiozero ``MCP3xxx`` device per channel; each ``read()`` gives 0..1.

        (-1..1 for a 33xx chip read differentially.) *spi_args* are gpiozero's:
        ``port`` and ``device``, or ``clock_pin``, ``mosi_pin``, ``miso_pin``
        and ``select_pin``. In mock mode a simulated chip answers on the SPI
        pins; each channel's ``simulate`` sets its input voltage.

        Raises:
            HardwareError: gpiozero refused the chip, a channel or the SPI pins.
        """
        single = chip.endswith("1")  # the 3x01 chips have one (differential) input

        def make_all() -> list[Any]:
            devices: list[Any] = []
            try:
                for channel in channels:
                    kwargs = {} if single else {"channel": channel, "differential": differential}
                    devices.append(self.create(chip, max_voltage=max_voltage, **kwargs, **spi_args))
            except HardwareError:
                for device in devices:
                    self.release(device)
                raise
            return devices

        if not self.mock:
            with self._spi_default_factory():
                devices = make_all()
            return [Sensor(device, _reader(device, "value")) for device in devices]
        factory = self._opened()
        with self._mock_pin_class(MockPin), self._spi_default_factory():
            try:
                # The pins gpiozero will use for these arguments (port and
                # device stand for the hardware SPI pins), in its own words.
                pins = factory._extract_spi_args(**spi_args)[0]
                chip_side = _MockMCP3xxx(
                    chip,
                    max_voltage,
                    pins["clock_pin"],
                    pins["mosi_pin"],
                    pins["miso_pin"],
                    pins["select_pin"],
                    pin_factory=factory,
                )
            except (gpiozero.GPIOZeroError, ValueError, TypeError) as exc:
                raise HardwareError(f"{chip}: {exc}") from exc
            try:
                devices = make_all()
            except HardwareError:
                chip_side.close()
                raise
            self._mock_spi.append(chip_side)
        sensors = []
        for channel, device in zip(channels, devices, strict=True):
            chip_side.voltages[channel] = voltage

            def simulate(volts: float, channel: int = channel) -> None:
                chip_side.voltages[channel] = volts

            sensors.append(Sensor(device, _reader(device, "value"), simulate))
        return sensors

    def create_cpu_temperature(
        self, sensor_file: str = "/sys/class/thermal/thermal_zone0/temp", *, celsius: float = 45.0
    ) -> Sensor:
        """A ``CPUTemperature``; its ``read()`` gives degrees Celsius.

        In mock mode it reads a file in a temporary directory, which
        ``simulate`` writes (*sensor_file* is not used).

        Raises:
            HardwareError: the sensor file cannot be read.
        """
        if not self.mock:
            device = self.create("CPUTemperature", sensor_file=sensor_file)
            return Sensor(device, _reader(device, "temperature"))
        file = _SimulatedFile(self._simulation_dir(), "temp-", _millidegrees(celsius))
        device = self.create("CPUTemperature", sensor_file=file.path)
        return Sensor(
            device,
            _reader(device, "temperature"),
            lambda value: file.write(_millidegrees(value)),
        )

    def create_load_average(
        self, load_average_file: str = "/proc/loadavg", *, minutes: int = 5, load: float = 0.25
    ) -> Sensor:
        """A ``LoadAverage`` over 1, 5 or 15 *minutes*; ``read()`` gives the load.

        In mock mode it reads a file in a temporary directory, which
        ``simulate`` writes (*load_average_file* is not used).

        Raises:
            HardwareError: the load average file cannot be read.
        """
        path = load_average_file
        file = None
        if self.mock:
            file = _SimulatedFile(self._simulation_dir(), "loadavg-", _loadavg(load))
            path = file.path
        device = self.create("LoadAverage", load_average_file=path, minutes=minutes)
        sensor = Sensor(device, _reader(device, "load_average"))
        if file is not None:
            sensor.simulate = lambda value: file.write(_loadavg(value))
        return sensor

    def create_disk_usage(self, filesystem: str = "/", *, percent: float = 50.0) -> Sensor:
        """A ``DiskUsage`` of *filesystem*; its ``read()`` gives the percentage used.

        In mock mode the device watches a temporary directory and ``read()``
        gives the simulated percentage, which ``simulate`` sets.

        Raises:
            HardwareError: there is no such filesystem.
        """
        if not self.mock:
            device = self.create("DiskUsage", filesystem=filesystem)
            return Sensor(device, _reader(device, "usage"))
        device = self.create("DiskUsage", filesystem=self._simulation_dir())
        simulated = [percent]

        def simulate(value: float) -> None:
            simulated[0] = value

        return Sensor(device, lambda: simulated[0], simulate)

    def read_active(self, device: Any) -> bool:
        """Whether an input device is active; blocks while a smoothed one gathers samples.

        Call it off the event loop.

        Raises:
            HardwareError: a smoothed input has had no samples for a while.
        """
        return bool(_smoothed(device, "is_active"))

    def _opened(self) -> Any:
        if self.factory is None:
            self.open()
        return self.factory

    @contextlib.contextmanager
    def _mock_pin_class(self, pin_class: Any) -> Iterator[None]:
        factory = self._opened()
        saved = factory.pin_class
        factory.pin_class = pin_class
        try:
            yield
        finally:
            factory.pin_class = saved

    @contextlib.contextmanager
    def _spi_default_factory(self) -> Iterator[None]:
        # gpiozero 2.0.1 makes the bit-banged SPI bus (SPISoftwareBus in
        # pins/spi.py, used by the mock factory and for software SPI pins)
        # without the pin factory it was given, so Device.ensure_pin_factory
        # would start gpiozero's default factory as well. Let it find this
        # one, only while the devices are made; the global is put back after.
        factory = self._opened()
        if gpiozero.Device.pin_factory is not None:
            yield
            return
        gpiozero.Device.pin_factory = factory
        try:
            yield
        finally:
            gpiozero.Device.pin_factory = None

    def _mock_pin(self, name: str, **kwargs: Any) -> Any:
        try:
            return self._opened().pin(name, **kwargs)
        except (gpiozero.GPIOZeroError, ValueError) as exc:
            raise HardwareError(f"{name}: {exc}") from exc

    def _simulation_dir(self) -> str:
        if self._mock_dir is None:
            self._mock_dir = tempfile.mkdtemp(prefix="pi-indi-mock-")
        return self._mock_dir

    # -- mock mode --

    def simulate_input(self, pin: str, devicename: str, label: str) -> None:
        """Let a client drive input *pin* (canonical name) in mock mode."""
        if self.mock:
            self.simulated_inputs[pin] = SimulatedInput(pin, devicename, label)

    def forget_device(self, devicename: str) -> None:
        """Drop a device's simulated inputs and readings (it was stopped or failed)."""
        self.simulated_inputs = {
            pin: sim for pin, sim in self.simulated_inputs.items() if sim.devicename != devicename
        }
        self.simulated_readings = [r for r in self.simulated_readings if r.devicename != devicename]

    def simulate_reading(self, reading: SimulatedReading) -> None:
        """Let a client set a sensor reading in mock mode."""
        if self.mock:
            self.simulated_readings.append(reading)

    def drive_pin(self, pin: str, high: bool) -> None:
        """Drive a mock input pin high or low (mock mode only)."""
        if not self.mock or self.factory is None:
            raise HardwareError("pins can only be driven on the mock pin factory")
        mock_pin = self.factory.pin(pin)
        try:
            if high:
                mock_pin.drive_high()
            else:
                mock_pin.drive_low()
        except AssertionError:
            raise HardwareError(f"{pin} is not an input pin") from None

    def pin_state(self, pin: str) -> bool:
        """The level of a mock pin."""
        return bool(self.factory.pin(pin).state) if self.factory is not None else False

    def control_driver(self) -> IPyDriver | None:
        """The mock control device, when in mock mode and there is something to control."""
        if not self.mock or not (self.simulated_inputs or self.simulated_readings):
            return None
        from pi_indi_drivers.mock_control import MockControlDriver

        return MockControlDriver(self)
