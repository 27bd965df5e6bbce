"""Sensors read on a timer: distance, light, MCP3xxx ADC channels, and the Pi's own.

Each driver reads its sensor every ``interval`` seconds in a worker thread
(``run_in_executor``: a smoothed sensor may wait for samples, a file read may
stall), never on the event loop, and shows the readings as read-only numbers.
A reading that fails puts the vectors in Alert with a message saying why; the
driver goes on reading, and the next good reading puts them back to Ok.

In mock mode each reading can be set from the "Mock GPIO" device, and the
simulation goes through gpiozero wherever its mock pins can carry it (a
trigger pin's echo for the distance, a charging pin for the light, a
simulated chip on the SPI pins for the ADC).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pi_indi.config import option
from pi_indi.properties import NumberMember, NumberVector, PropertyVector
from pi_indi_drivers._base import AUX_INTERFACE, INPUT_INTERFACE, GpioDriver
from pi_indi_drivers._simulation import Sensor, SimulatedReading

__all__ = [
    "MCP_CHANNELS",
    "CPUTemperatureDriver",
    "CPUTemperatureOptions",
    "DiskUsageDriver",
    "DiskUsageOptions",
    "DistanceSensorDriver",
    "DistanceSensorOptions",
    "LightSensorDriver",
    "LightSensorOptions",
    "LoadAverageDriver",
    "LoadAverageOptions",
    "MCP3xxxDriver",
    "MCP3xxxOptions",
    "PolledSensorDriver",
    "Reading",
]

logger = logging.getLogger(__name__)


#: After a client sets a simulated reading (mock mode) the sensor is read this
#: often (s), for _SETTLE_TIME seconds: at once, and a smoothed sensor (a
#: median of samples) again until its samples have caught up.
_SETTLE_PERIOD = 0.1
_SETTLE_TIME = 3.0


def _interval(default: float) -> Any:
    return option(default, help="seconds between readings", min=0.05, max=86400.0, unit="s")


@dataclass(slots=True)
class Reading:
    """A sensor and the vector showing it; *members* turns a read into member values (public).

    A *shared* reading shows the value read for the reading before it (one
    sensor shown by two vectors): the sensor is read once.
    """

    sensor: Sensor
    vector: NumberVector
    members: Callable[[float], dict[str, float]]
    shared: bool = False


class PolledSensorDriver(GpioDriver):
    """A device of sensors read on a timer, off the event loop (public: ``pi_indi_drivers.api``).

    A subclass implements :meth:`make`: it makes its sensors (``self.gpio.create``
    for gpiozero ones, or a :class:`~pi_indi_drivers.api.Sensor` of its own
    with ``device=None`` and a ``read`` function), appends a :class:`Reading`
    per vector to ``self.readings``, offers mock-mode values with
    :meth:`simulate`, and returns its vectors. The readings are taken every
    ``options.interval`` seconds (libindi's ``POLLING_PERIOD``, which clients
    may change), in a worker thread; a sensor that fails puts its vectors in
    Alert with the reason, once, and is read again at the next period. A
    simulated reading set from the mock control device is read at once (and
    for a few seconds every 0.1 s, for a smoothed sensor's samples to catch
    up), not at the next period.
    """

    interface = AUX_INTERFACE | INPUT_INTERFACE

    def build(self) -> list[PropertyVector[Any]]:
        """Make the sensors, then register their simulated readings (mock mode)."""
        self.readings: list[Reading] = []
        self.simulated: list[SimulatedReading] = []
        self._settle_until = 0.0
        try:
            vectors = self.make()
        except Exception:
            self.close_hardware()
            raise
        for reading in self.simulated:
            self.gpio.simulate_reading(reading)
        return vectors

    def make(self) -> list[PropertyVector[Any]]:
        """Make the sensors and fill :attr:`readings`; return every vector."""
        raise NotImplementedError

    def simulate(
        self,
        sensor: Sensor,
        name: str,
        label: str,
        *,
        unit: str,
        minimum: float,
        maximum: float,
        value: float,
    ) -> None:
        """Offer *sensor*'s simulated reading to the mock control device (mock mode only)."""
        if sensor.simulate is not None:
            self.simulated.append(
                SimulatedReading(
                    devicename=self.context.devicename,
                    name=name,
                    label=label,
                    unit=unit,
                    minimum=minimum,
                    maximum=maximum,
                    value=value,
                    apply=functools.partial(self._apply_simulated, sensor.simulate),
                )
            )

    def _apply_simulated(self, apply: Callable[[float], None], value: float) -> None:
        apply(value)  # what it raises, the mock control device shows as an Alert
        # Shown at once, not at the next period (which may be minutes away).
        self._settle_until = time.monotonic() + _SETTLE_TIME
        poll_changed = getattr(self, "_poll_changed", None)
        if poll_changed is not None:
            poll_changed.set()

    def option_vectors(self) -> list[PropertyVector[Any]]:
        """Adds libindi's ``POLLING_PERIOD``: the ``interval`` in ms, changed by clients."""
        default = self.options.interval * 1000
        saved = self.settings.get("polling_period_ms")
        if isinstance(saved, bool) or not isinstance(saved, (int, float)):
            saved = None
        # defaultdevice.cpp: PERIOD_MS "Period (ms)" "%.f" 10-600000 step 1000, "Polling",
        # "Options", IP_RW; the bounds widened to take what the config allows.
        low, high = min(10.0, default), max(600_000.0, default)
        period = float(saved) if saved is not None and low <= saved <= high else default
        self._poll_changed = asyncio.Event()
        self.polling = NumberVector(
            name="POLLING_PERIOD",
            label="Polling",
            group="Options",
            perm="rw",
            state="Idle",
            numbermembers=[
                NumberMember("PERIOD_MS", "Period (ms)", "%.f", low, high, 1000, period)
            ],
        )
        self.handle("POLLING_PERIOD", self._on_polling)
        return [*super().option_vectors(), self.polling]

    async def _on_polling(self, event: Any) -> None:
        self.polling["PERIOD_MS"] = event.getfloatvalue("PERIOD_MS")
        self.settings["polling_period_ms"] = self.polling.getfloatvalue("PERIOD_MS")
        self.save_settings()
        self._poll_changed.set()  # the next reading is due at the new period
        await self.polling.send_setVector(state="Ok")

    @property
    def interval(self) -> float:
        """Seconds between readings: ``POLLING_PERIOD``, from ``interval`` at first."""
        return float(self.polling.getfloatvalue("PERIOD_MS")) / 1000

    def read(self) -> list[float]:
        """Read every sensor; blocks, so it runs in a worker thread."""
        values: list[float] = []
        for reading in self.readings:
            values.append(values[-1] if reading.shared and values else reading.sensor.read())
        return values

    async def run(self) -> None:
        """Read every ``interval`` seconds until the driver stops."""
        loop = asyncio.get_running_loop()
        # Told once (not at every reading) until a reading succeeds again.
        guard = self.hardware_errors(
            *(reading.vector for reading in self.readings),
            failure="cannot read the sensor",
            once=True,
        )
        while True:
            # Cleared before the read: a change while reading reads again at once.
            self._poll_changed.clear()
            async with guard:
                values = await loop.run_in_executor(None, self.read)
            if not guard.failed:
                await self._publish(values)
            wait = self.interval
            if time.monotonic() < self._settle_until:
                wait = min(wait, _SETTLE_PERIOD)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._poll_changed.wait()

    def close_hardware(self) -> None:
        """Close the sensors' gpiozero devices (a sensor with no device has none)."""
        for reading in self.readings:
            if not reading.shared and reading.sensor.device is not None:
                self.gpio.release(reading.sensor.device)

    async def _publish(self, values: list[float]) -> None:
        for reading, value in zip(self.readings, values, strict=True):
            vector = reading.vector
            for name, number in reading.members(value).items():
                # Rounded as shown, so noise below the format sends nothing.
                vector[name] = vector.data[name].format_number(number)
            members_changed = any(m.changed for m in vector.data.values())
            if members_changed or vector.state != "Ok":
                await vector.send_setVector(state="Ok")


def _number_vector(name: str, label: str, group: str, members: list[NumberMember]) -> NumberVector:
    return NumberVector(
        name=name, label=label, group=group, perm="ro", state="Idle", numbermembers=members
    )


# -- DistanceSensor ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DistanceSensorOptions:
    """Options of the ``distance_sensor`` driver (an HC-SR04)."""

    echo: str = option(help="the pin wired to the sensor's ECHO (through a divider)", pin=True)
    trigger: str = option(help="the pin wired to the sensor's TRIG", pin=True)
    max_distance: float = option(
        1.0, help="the largest distance measured; further is shown as this", min=0.02, max=5.0
    )
    queue_len: int = option(9, help="how many readings are averaged (median)", min=1, max=100)
    interval: float = _interval(1.0)


class DistanceSensorDriver(PolledSensorDriver):
    """An HC-SR04 ultrasonic distance sensor (gpiozero ``DistanceSensor``), in metres.

    Example:
        .. code-block:: toml

            [[device]]
            driver = "distance_sensor"
            name = "Dust cap distance"
            echo = 24
            trigger = 23
            max_distance = 2.0
    """

    options_class = DistanceSensorOptions

    def make(self) -> list[PropertyVector[Any]]:
        """The sensor and ``DISTANCE``."""
        opts = self.options
        start = opts.max_distance / 2
        sensor = self.gpio.create_distance_sensor(
            opts.echo,
            opts.trigger,
            distance=start,
            max_distance=opts.max_distance,
            queue_len=opts.queue_len,
        )
        vector = _number_vector(
            "DISTANCE",
            "Distance",
            self.group,
            [NumberMember("DISTANCE", "Distance (m)", "%.3f", 0, opts.max_distance, 0, 0)],
        )
        self.readings.append(Reading(sensor, vector, lambda metres: {"DISTANCE": metres}))
        self.simulate(
            sensor,
            "DISTANCE",
            "Distance",
            unit="m",
            minimum=0.0,
            maximum=opts.max_distance,
            value=start,
        )
        return [vector]


# -- LightSensor -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LightSensorOptions:
    """Options of the ``light_sensor`` driver (an LDR and a capacitor)."""

    pin: str = option(help="the pin between the LDR and the capacitor", pin=True)
    queue_len: int = option(5, help="how many readings are averaged (median)", min=1, max=100)
    charge_time_limit: float = option(
        0.01,
        help="seconds the capacitor may take to charge; slower counts as dark",
        min=0.0001,
        max=1.0,
        unit="s",
    )
    interval: float = _interval(1.0)


class LightSensorDriver(PolledSensorDriver):
    """A light-dependent resistor timed through a capacitor (gpiozero ``LightSensor``).

    Example:
        .. code-block:: toml

            [[device]]
            driver = "light_sensor"
            name = "Sky brightness"
            pin = 18
    """

    options_class = LightSensorOptions

    def make(self) -> list[PropertyVector[Any]]:
        """The sensor and ``LIGHT_LEVEL``."""
        opts = self.options
        sensor = self.gpio.create_light_sensor(
            opts.pin,
            level=0.5,
            queue_len=opts.queue_len,
            charge_time_limit=opts.charge_time_limit,
        )
        vector = _number_vector(
            "LIGHT_LEVEL",
            "Light",
            self.group,
            [NumberMember("LEVEL", "Level (0 dark, 1 bright)", "%.3f", 0, 1, 0, 0)],
        )
        self.readings.append(Reading(sensor, vector, lambda level: {"LEVEL": level}))
        self.simulate(sensor, "LEVEL", "Light level", unit="", minimum=0.0, maximum=1.0, value=0.5)
        return [vector]


# -- MCP3xxx -----------------------------------------------------------------------------

_SOFTWARE_SPI = ("clock_pin", "mosi_pin", "miso_pin", "select_pin")


@dataclass(frozen=True, kw_only=True)
class MCP3xxxOptions:
    """Options of the ``mcp3xxx`` driver (an MCP3xxx analogue-to-digital converter)."""

    chip: Literal[
        "MCP3001",
        "MCP3002",
        "MCP3004",
        "MCP3008",
        "MCP3201",
        "MCP3202",
        "MCP3204",
        "MCP3208",
        "MCP3301",
        "MCP3302",
        "MCP3304",
    ] = option("MCP3008", help="the chip, as gpiozero names it")
    channels: tuple[int, ...] = option(
        (0,), help="the channels to read, one ANALOG_INPUT each", min=0, max=7
    )
    labels: tuple[str, ...] = option(
        (), help="a label per channel (default: Channel 0, Channel 1, ...)"
    )
    differential: bool = option(
        False, help="read each channel against its pair (0 against 1, 1 against 0, ...)"
    )
    max_voltage: float = option(
        3.3, help="the reference voltage: the voltage read as 1", min=0.01, max=10.0, unit="V"
    )
    port: int = option(
        0,
        help="the hardware SPI port (only 0: for SPI1 give its pins as software SPI pins)",
        min=0,
        max=0,
    )
    device: int = option(0, help="the chip select of hardware SPI (CE0 or CE1)", min=0, max=1)
    clock_pin: str | None = option(None, help="software SPI: the clock pin (SCLK)", pin=True)
    mosi_pin: str | None = option(None, help="software SPI: the chip's DIN pin", pin=True)
    miso_pin: str | None = option(None, help="software SPI: the chip's DOUT pin", pin=True)
    select_pin: str | None = option(None, help="software SPI: the chip select pin", pin=True)
    interval: float = _interval(1.0)

    def problems(self) -> list[tuple[str, str]]:
        """Channels the chip has, one label per channel, all four software SPI pins or none."""
        problems = []
        count = MCP_CHANNELS[self.chip]
        if not self.channels:
            problems.append(("channels", "needs at least one channel"))
        for channel in self.channels:
            if channel >= count:
                problems.append(
                    ("channels", f"{channel}: the {self.chip} has channels 0 to {count - 1}")
                )
        if len(set(self.channels)) != len(self.channels):
            problems.append(("channels", "has a channel twice"))
        if count == 1 and self.channels and self.channels != (0,):
            problems.append(("channels", f"the {self.chip} has one input: give channels = [0]"))
        if self.labels and len(self.labels) != len(self.channels):
            problems.append(
                ("labels", f"has {len(self.labels)} labels for {len(self.channels)} channels")
            )
        given = [name for name in _SOFTWARE_SPI if getattr(self, name) is not None]
        if given and len(given) != len(_SOFTWARE_SPI):
            missing = ", ".join(name for name in _SOFTWARE_SPI if name not in given)
            problems.append((given[0], f"software SPI needs all four pins: {missing} missing"))
        return problems

    def spi_args(self) -> dict[str, Any]:
        """The SPI arguments for gpiozero: the four pins, or the port and device."""
        if self.clock_pin is not None:
            return {name: getattr(self, name) for name in _SOFTWARE_SPI}
        return {"port": self.port, "device": self.device}


#: How many channels each chip has (from the datasheets): the x01 chips have
#: one differential input, the MCP3302 and MCP3304 four and eight channels.
MCP_CHANNELS: dict[str, int] = {
    "MCP3001": 1,
    "MCP3002": 2,
    "MCP3004": 4,
    "MCP3008": 8,
    "MCP3201": 1,
    "MCP3202": 2,
    "MCP3204": 4,
    "MCP3208": 8,
    "MCP3301": 1,
    "MCP3302": 4,
    "MCP3304": 8,
}


class MCP3xxxDriver(PolledSensorDriver):
    """Channels of an MCP3xxx ADC (gpiozero ``MCP3008`` and friends) on SPI.

    Example:
        .. code-block:: toml

            [[device]]
            driver = "mcp3xxx"
            name = "Analog inputs"
            chip = "MCP3008"
            channels = [0, 1]
            labels = ["Battery", "Dew sensor"]
            max_voltage = 3.3
    """

    options_class = MCP3xxxOptions

    def make(self) -> list[PropertyVector[Any]]:
        """Per channel a sensor, ``ANALOG_INPUT_<n>`` and ``ANALOG_READING_<n>``; the labels."""
        opts = self.options
        labels = opts.labels or tuple(f"Channel {channel}" for channel in opts.channels)
        sensors = self.gpio.create_mcp3xxx(
            opts.chip,
            opts.channels,
            differential=opts.differential,
            max_voltage=opts.max_voltage,
            **opts.spi_args(),
        )
        # Only a 33xx chip read differentially gives negative values.
        signed = opts.chip.startswith("MCP33") and (opts.differential or opts.chip == "MCP3301")
        low = -1 if signed else 0
        label_members = []
        standard: list[PropertyVector[Any]] = []
        own: list[PropertyVector[Any]] = []
        for n, (channel, default, sensor) in enumerate(
            zip(opts.channels, labels, sensors, strict=True), 1
        ):
            name = f"ANALOG_INPUT_{n}"
            label = self.label_for("ANALOG_INPUT_LABELS", name, default)
            # libindi's ANALOG_INPUT_<n>: one member of the vector's name, "%.2f";
            # here it is the voltage.
            vector = _number_vector(
                name,
                label,
                self.group,
                [NumberMember(name, label, "%.2f", low * opts.max_voltage, opts.max_voltage, 0, 0)],
            )
            # pi-indi's own: the voltage to the mV and the raw fraction of max_voltage.
            reading = _number_vector(
                f"ANALOG_READING_{n}",
                label,
                self.group,
                [
                    NumberMember(
                        "VOLTAGE",
                        "Voltage (V)",
                        "%.3f",
                        low * opts.max_voltage,
                        opts.max_voltage,
                        0,
                        0,
                    ),
                    NumberMember("VALUE", "Value (fraction of full scale)", "%.4f", low, 1, 0, 0),
                ],
            )
            self.readings.append(Reading(sensor, vector, functools.partial(self._volts, name)))
            self.readings.append(Reading(sensor, reading, self._members, shared=True))
            standard.append(vector)
            own.append(reading)
            label_members.append((name, f"Analog #{n}", label))
            self.simulate(
                sensor,
                f"CHANNEL_{channel}",
                f"{label} voltage",
                unit="V",
                minimum=0.0,
                maximum=opts.max_voltage,
                value=0.0,
            )
        return [
            *standard,
            *own,
            self.labels_vector("ANALOG_INPUT_LABELS", "Analog Labels", label_members),
        ]

    def _volts(self, name: str, value: float) -> dict[str, float]:
        return {name: value * self.options.max_voltage}

    def _members(self, value: float) -> dict[str, float]:
        return {"VOLTAGE": value * self.options.max_voltage, "VALUE": value}


# -- CPUTemperature, LoadAverage, DiskUsage ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CPUTemperatureOptions:
    """Options of the ``cpu_temperature`` driver."""

    sensor_file: str = option(
        "/sys/class/thermal/thermal_zone0/temp",
        help="the file giving the temperature in thousandths of a degree",
    )
    interval: float = _interval(5.0)


class CPUTemperatureDriver(PolledSensorDriver):
    """The Pi's CPU temperature (gpiozero ``CPUTemperature``), in degrees Celsius.

    Example:
        .. code-block:: toml

            [[device]]
            driver = "cpu_temperature"
            name = "Pi temperature"
    """

    options_class = CPUTemperatureOptions
    interface = AUX_INTERFACE

    def make(self) -> list[PropertyVector[Any]]:
        """The sensor and ``CPU_TEMPERATURE``."""
        sensor = self.gpio.create_cpu_temperature(self.options.sensor_file, celsius=45.0)
        vector = _number_vector(
            "CPU_TEMPERATURE",
            "CPU temperature",
            self.group,
            [NumberMember("TEMPERATURE", "Temperature (°C)", "%.1f", -40, 125, 0, 0)],
        )
        self.readings.append(Reading(sensor, vector, lambda celsius: {"TEMPERATURE": celsius}))
        self.simulate(
            sensor,
            "TEMPERATURE",
            "CPU temperature",
            unit="°C",
            minimum=-40.0,
            maximum=125.0,
            value=45.0,
        )
        return [vector]


@dataclass(frozen=True, kw_only=True)
class LoadAverageOptions:
    """Options of the ``load_average`` driver."""

    minutes: int = option(5, help="the load average over 1, 5 or 15 minutes", min=1, max=15)
    load_average_file: str = option("/proc/loadavg", help="the file giving the load averages")
    interval: float = _interval(5.0)

    def problems(self) -> list[tuple[str, str]]:
        """Minutes are 1, 5 or 15."""
        if self.minutes not in (1, 5, 15):
            return [("minutes", f"is {self.minutes}: the load average is over 1, 5 or 15")]
        return []


class LoadAverageDriver(PolledSensorDriver):
    """The system load average (gpiozero ``LoadAverage``).

    Example:
        .. code-block:: toml

            [[device]]
            driver = "load_average"
            name = "Pi load"
            minutes = 1
    """

    options_class = LoadAverageOptions
    interface = AUX_INTERFACE

    def make(self) -> list[PropertyVector[Any]]:
        """The sensor and ``LOAD_AVERAGE``."""
        minutes = self.options.minutes
        sensor = self.gpio.create_load_average(
            self.options.load_average_file, minutes=minutes, load=0.25
        )
        vector = _number_vector(
            "LOAD_AVERAGE",
            "Load average",
            self.group,
            [NumberMember("LOAD", f"Load ({minutes} min)", "%.2f", 0, 0, 0, 0)],
        )
        self.readings.append(Reading(sensor, vector, lambda load: {"LOAD": load}))
        self.simulate(
            sensor, "LOAD", "Load average", unit="", minimum=0.0, maximum=64.0, value=0.25
        )
        return [vector]


@dataclass(frozen=True, kw_only=True)
class DiskUsageOptions:
    """Options of the ``disk_usage`` driver."""

    filesystem: str = option("/", help="a path on the filesystem to watch")
    interval: float = _interval(60.0)


class DiskUsageDriver(PolledSensorDriver):
    """How full a filesystem is (gpiozero ``DiskUsage``), in percent.

    Example:
        .. code-block:: toml

            [[device]]
            driver = "disk_usage"
            name = "Image disk"
            filesystem = "/srv/images"
    """

    options_class = DiskUsageOptions
    interface = AUX_INTERFACE

    def make(self) -> list[PropertyVector[Any]]:
        """The sensor and ``DISK_USAGE``."""
        sensor = self.gpio.create_disk_usage(self.options.filesystem, percent=50.0)
        vector = _number_vector(
            "DISK_USAGE",
            "Disk usage",
            self.group,
            [NumberMember("USAGE", "Used (%)", "%.1f", 0, 100, 0, 0)],
        )
        self.readings.append(Reading(sensor, vector, lambda percent: {"USAGE": percent}))
        self.simulate(
            sensor, "USAGE", "Disk usage", unit="%", minimum=0.0, maximum=100.0, value=50.0
        )
        return [vector]
