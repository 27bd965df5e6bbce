"""Sensors the Linux kernel already drives, read from sysfs: IIO, hwmon and 1-Wire DS18B20.

On a Pi the kernel has drivers for the common I²C environment sensors (IIO:
BME280/BMP280, HTU21D/Si7021, BH1750/TSL2591, ADS1015/ADS1115, ...; hwmon:
INA219/INA260, SHT3x/SHT4x, ...), enabled with ``dtoverlay=i2c-sensor,...`` or
a ``new_device`` line, and for DS18B20 thermometers on 1-Wire (``w1-gpio``).
The kernel owns the bus timing and locking; these drivers only read files,
laid out as the kernel's ABI documents describe them:

- IIO (``Documentation/ABI/testing/sysfs-bus-iio``):
  ``/sys/bus/iio/devices/iio:deviceN/`` with ``name`` and per channel
  ``in_<type>[<index>][_<modifier>]_input`` (processed) or ``..._raw`` with
  ``..._scale`` and ``..._offset`` (separate, or shared by type as
  ``in_<type>_scale``): value = (raw + offset) * scale, in IIO units
  (temperature m°C, relative humidity m%, pressure kPa, illuminance lux,
  voltage mV, current mA, power mW).
- hwmon (``Documentation/hwmon/sysfs-interface.rst``):
  ``/sys/class/hwmon/hwmonN/`` with ``name``, ``in<N>_input`` (mV),
  ``curr<N>_input`` (mA), ``power<N>_input`` (µW), ``temp<N>_input`` (m°C),
  ``humidity<N>_input`` (m%RH), optional ``<channel>_label``, and a ``device``
  link to the parent device (an I²C one is named ``<bus>-<address>``,
  ``1-0040``).
- 1-Wire (``Documentation/w1/slaves/w1_therm.rst``):
  ``/sys/bus/w1/devices/28-xxxxxxxxxxxx/temperature`` (m°C), or on older
  kernels ``w1_slave``, two lines ending ``crc=.. YES`` and ``t=23125``.

Each reading is one read-only number vector (``TEMPERATURE``, ``HUMIDITY``,
``PRESSURE`` in hPa, ``ILLUMINANCE``, ``VOLTAGE``, ``CURRENT``, ``POWER``; with
``_<index>`` when a device has several of one kind), plus ``DEW_POINT`` when a
device gives temperature and humidity. A device that is missing or fails is
an Alert with the reason (and how to enable it), read again at every period:
it may appear later. In mock mode every reading can be set from the "Mock
GPIO" device; with no device in sysfs the simulated values are served.

Only ``pi_indi_drivers.api`` and public ``pi_indi`` names are used, as a
plugin would.
"""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pi_indi import NumberMember, NumberVector
from pi_indi_drivers.api import (
    AUX_INTERFACE,
    HardwareError,
    PolledSensorDriver,
    PropertyVector,
    Reading,
    Sensor,
    dew_point,
    option,
)

__all__ = [
    "DS18B20Driver",
    "DS18B20Options",
    "HwmonSensorDriver",
    "HwmonSensorOptions",
    "IIOSensorDriver",
    "IIOSensorOptions",
]


@dataclass(frozen=True, slots=True)
class _Kind:
    """What one kind of reading is served as."""

    vector: str  # TEMPERATURE
    label: str  # Temperature
    unit: str  # °C
    format: str
    minimum: float
    maximum: float
    start: float  # the simulated value at first


_KINDS = {
    "temperature": _Kind("TEMPERATURE", "Temperature", "°C", "%.2f", -55, 125, 20.0),
    "humidity": _Kind("HUMIDITY", "Humidity", "%RH", "%.1f", 0, 100, 50.0),
    "pressure": _Kind("PRESSURE", "Pressure", "hPa", "%.2f", 300, 1100, 1013.25),
    "illuminance": _Kind("ILLUMINANCE", "Illuminance", "lux", "%.2f", 0, 200_000, 100.0),
    "voltage": _Kind("VOLTAGE", "Voltage", "V", "%.4f", -100, 100, 0.0),
    "current": _Kind("CURRENT", "Current", "A", "%.4f", -100, 100, 0.0),
    "power": _Kind("POWER", "Power", "W", "%.3f", 0, 10_000, 0.0),
}
_DEW_POINT = _Kind("DEW_POINT", "Dew point", "°C", "%.2f", -80, 125, 0.0)

#: IIO channel types served, with what turns their IIO unit into the unit served.
_IIO_TYPES = {
    "temp": ("temperature", 0.001),  # m°C
    "humidityrelative": ("humidity", 0.001),  # m%
    "pressure": ("pressure", 10.0),  # kPa -> hPa
    "illuminance": ("illuminance", 1.0),  # lux
    "voltage": ("voltage", 0.001),  # mV
    "current": ("current", 0.001),  # mA
    "power": ("power", 0.001),  # mW
}
#: hwmon attribute types served (sysfs-interface.rst units).
_HWMON_TYPES = {
    "temp": ("temperature", 0.001),  # m°C
    "humidity": ("humidity", 0.001),  # m%RH
    "in": ("voltage", 0.001),  # mV
    "curr": ("current", 0.001),  # mA
    "power": ("power", 1e-6),  # µW
}

# in_voltage0_raw, in_temp_input, in_temp_object_raw, in_voltage0-voltage1_raw
_IIO_CHANNEL = re.compile(
    r"^in_(?P<type>[a-z]+)(?P<index>\d+)?(?:-(?P=type)(?P<index2>\d+))?"
    r"(?:_(?P<modifier>[a-z][a-z0-9_]*?))?_(?P<kind>raw|input)$"
)
_HWMON_CHANNEL = re.compile(r"^(?P<type>[a-z]+)(?P<index>\d+)_input$")
_I2C_DEVICE = re.compile(r"^(?P<bus>\d+)-(?P<address>[0-9a-f]{4})$")
_W1_SERIAL = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{12}$")
#: w1_therm's thermometers: DS18S20, DS1822, DS18B20, DS1825, DS28EA00.
_W1_THERM_FAMILIES = ("10", "22", "28", "3b", "42")

#: Chips Raspberry Pi OS's ``i2c-sensor`` overlay enables by name.
_I2C_SENSOR_OVERLAY = frozenset(
    {
        "adt7410", "aht10", "bh1750", "bme280", "bme680", "bmp085", "bmp180", "bmp280", "ds1621",
        "hdc100x", "hts221", "htu21", "jc42", "lm75", "sht3x", "sht4x", "shtc3", "si7020",
        "tmp102", "tsl4531", "veml6070", "veml7700",
    }
)  # fmt: skip
#: Chips with an overlay of their own.
_OWN_OVERLAY = {"ads1015": "ads1015", "ads1115": "ads1115"}

#: The channels served by default for chips whose channels are known; others
#: serve every channel of a served type found (not the differential ones).
_IIO_DEFAULTS: dict[str, tuple[str, ...]] = {
    "bme280": ("temp", "humidityrelative", "pressure"),
    "bmp280": ("temp", "pressure"),
    "bmp180": ("temp", "pressure"),
    "bme680": ("temp", "humidityrelative", "pressure"),
    "htu21": ("temp", "humidityrelative"),
    "si7020": ("temp", "humidityrelative"),
    "bh1750": ("illuminance",),
    "tsl2591": ("illuminance",),
    "veml7700": ("illuminance",),
    "ads1015": ("voltage0", "voltage1", "voltage2", "voltage3"),
    "ads1115": ("voltage0", "voltage1", "voltage2", "voltage3"),
    "mlx90614": ("temp_ambient", "temp_object"),
}
_HWMON_DEFAULTS: dict[str, tuple[str, ...]] = {
    "ina219": ("in1", "curr1", "power1"),
    "ina226": ("in1", "curr1", "power1"),
    "ina260": ("in1", "curr1", "power1"),
    "sht3x": ("temp1", "humidity1"),
    "sht4x": ("temp1", "humidity1"),
    "shtc1": ("temp1", "humidity1"),
}


def _interval() -> Any:
    return option(5.0, help="seconds between readings", min=0.05, max=86400.0, unit="s")


def _sysfs() -> Any:
    return option("/sys", help="where sysfs is mounted (another root for tests)")


def _read_text(path: Path) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.read(4096)
    except OSError as exc:
        raise HardwareError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _read_number(path: Path) -> float:
    text = _read_text(path).strip()
    try:
        number = float(text)
    except ValueError:
        raise HardwareError(f"{path} does not hold a number: {text[:40]!r}") from None
    if not math.isfinite(number):
        raise HardwareError(f"{path} does not hold a number: {text[:40]!r}")
    return number


def _i2c_place(device: Path) -> tuple[int, int] | None:
    """The I²C bus and address of a device directory named ``<bus>-<address>``."""
    match = _I2C_DEVICE.match(device.name)
    if match is None:
        return None
    return int(match["bus"]), int(match["address"], 16)


def _where(place: tuple[int, int] | None, fallback: str) -> str:
    return f"{place[0]}-{place[1]:04x}" if place is not None else fallback


def _enable_hint(chip: str, bus: int | None, address: int | None) -> str:
    addr = f"0x{address:02x}" if address is not None else "0x<address>"
    line = f"echo {chip} {addr} > /sys/bus/i2c/devices/i2c-{1 if bus is None else bus}/new_device"
    if chip in _I2C_SENSOR_OVERLAY or chip in _OWN_OVERLAY:
        overlay = _OWN_OVERLAY.get(chip, f"i2c-sensor,{chip}")
        if address is not None:
            overlay += f",addr={addr}"
        return f"enable it with dtoverlay={overlay} in /boot/firmware/config.txt (or {line})"
    return f"enable it with {line} (at each boot, e.g. from a systemd unit)"


def _absent(locate: Any, opts: Any) -> list[tuple[str, str]]:
    """``hardware_notes()``: why *locate* does not find the device, if it does not."""
    try:
        locate(opts)
    except HardwareError as exc:
        return [("", str(exc))]
    return []


@dataclass(frozen=True, slots=True)
class _Channel:
    """One reading: the kernel's channel, what it is, and its vector."""

    key: str  # the kernel's name for it: temp, voltage0, in1, 28-0316a2794fff
    kind: str  # a key of _KINDS
    suffix: str  # "0", "0_1", "OBJECT": used when a device has several of one kind
    factor: float  # kernel unit -> unit served


def _members(name: str, value: float) -> dict[str, float]:
    return {name: value}


def _check_channels(
    chip: str, channels: tuple[str, ...], labels: tuple[str, ...], types: dict[str, Any], parse: Any
) -> list[tuple[str, str]]:
    problems = []
    if not chip.strip():
        problems.append(("chip", "is empty: give the kernel's name of the chip, such as bme280"))
    for key in channels:
        if parse(key) is None:
            known = ", ".join(types)
            problems.append(("channels", f"{key!r} is not a channel of a served type ({known})"))
    if len(set(channels)) != len(channels):
        problems.append(("channels", "has a channel twice"))
    if labels and len(labels) != len(channels):
        if not channels:
            problems.append(("labels", "needs channels: give the channels they name, in order"))
        else:
            problems.append(("labels", f"has {len(labels)} labels for {len(channels)} channels"))
    return problems


def _iio_channel(key: str) -> _Channel | None:
    match = _IIO_CHANNEL.match(f"in_{key}_raw")
    if match is None or match["type"] not in _IIO_TYPES:
        return None
    kind, factor = _IIO_TYPES[match["type"]]
    parts = [p for p in (match["index"], match["index2"], match["modifier"]) if p]
    return _Channel(key, kind, "_".join(parts).upper(), factor)


def _hwmon_channel(key: str) -> _Channel | None:
    match = _HWMON_CHANNEL.match(f"{key}_input")
    if match is None or match["type"] not in _HWMON_TYPES:
        return None
    kind, factor = _HWMON_TYPES[match["type"]]
    return _Channel(key, kind, match["index"], factor)


class _KernelSensorDriver(PolledSensorDriver):
    """A device the kernel drives: found in sysfs at each pass, one vector per channel."""

    interface = AUX_INTERFACE

    #: Values clients set on the "Mock GPIO" device (mock mode only), by
    #: channel key; a channel with one is shown that instead of sysfs.
    mock_values: dict[str, float]

    def make(self) -> list[PropertyVector[Any]]:
        """One vector per channel (and ``DEW_POINT``), each read from sysfs."""
        if not hasattr(self, "mock_values"):
            self.mock_values = {}
        self._found: Path | None = None
        self._latest: dict[str, float] = {}
        channels = self.channels()
        absent_mock = False
        if self.mock and not self.mock_values:
            try:
                self.locate()
            except HardwareError:
                absent_mock = True  # a Pi's sensor on a laptop: serve the simulated values
        counts: dict[str, int] = {}
        for channel in channels:
            counts[channel.kind] = counts.get(channel.kind, 0) + 1
        labels = self.channel_labels(channels)
        vectors: list[PropertyVector[Any]] = []
        for channel, given in zip(channels, labels, strict=True):
            kind = _KINDS[channel.kind]
            several = counts[channel.kind] > 1 and channel.suffix
            name = f"{kind.vector}_{channel.suffix}" if several else kind.vector
            label = given or (f"{kind.label} {channel.suffix.lower()}" if several else kind.label)
            vector = self._vector(name, label, kind)
            sensor = Sensor(
                device=None,
                read=functools.partial(self._read_channel, channel),
                simulate=functools.partial(self._simulate, channel),
            )
            if absent_mock:
                self.mock_values[channel.key] = kind.start
            self.readings.append(Reading(sensor, vector, functools.partial(_members, name)))
            self.simulate(
                sensor,
                name,
                label,
                unit=kind.unit,
                minimum=kind.minimum,
                maximum=kind.maximum,
                value=self.mock_values.get(channel.key, kind.start),
            )
            vectors.append(vector)
        temperature = next((c for c in channels if c.kind == "temperature"), None)
        humidity = next((c for c in channels if c.kind == "humidity"), None)
        if temperature is not None and humidity is not None:
            vector = self._vector("DEW_POINT", "Dew point", _DEW_POINT)
            read = functools.partial(self._dew_point, temperature.key, humidity.key)
            sensor = Sensor(device=None, read=read)
            self.readings.append(Reading(sensor, vector, functools.partial(_members, "DEW_POINT")))
            vectors.append(vector)
        return vectors

    def _vector(self, name: str, label: str, kind: _Kind) -> NumberVector:
        unit = f" ({kind.unit})" if kind.unit else ""
        member = NumberMember(
            name, f"{label}{unit}", kind.format, kind.minimum, kind.maximum, 0, kind.start
        )
        return NumberVector(
            name=name,
            label=label,
            group=self.group,
            perm="ro",
            state="Idle",
            numbermembers=[member],
        )

    def _dew_point(self, temperature: str, humidity: str) -> float:
        # Read after both channels in the same pass (a failed one stops the pass).
        # A sensor may read a little under 0 %: taken as 0.1 %, which has a dew point.
        return dew_point(self._latest[temperature], max(self._latest[humidity], 0.1))

    def _simulate(self, channel: _Channel, value: float) -> None:
        # On the event loop; _read_channel (a worker thread) sees a float or nothing.
        self.mock_values[channel.key] = value

    def read(self) -> list[float]:
        """One pass: the device is found again (it may have gone, come back, moved)."""
        self._found = None
        return super().read()

    def _read_channel(self, channel: _Channel) -> float:
        value = self.mock_values.get(channel.key)
        if value is None:
            if self._found is None:
                self._found = self.locate()
            value = self.read_channel(self._found, channel)
        self._latest[channel.key] = value
        return value

    # -- for each kind of device --

    #: The chips whose channels are known without looking (chip -> channel keys).
    known_channels: ClassVar[dict[str, tuple[str, ...]]] = {}

    def channels(self) -> list[_Channel]:
        """The ``channels`` given, the chip's known ones, or each one of a served type found."""
        opts = self.options
        keys = opts.channels or self.known_channels.get(opts.chip)
        if keys is None:
            try:
                found = self.locate()
            except HardwareError as exc:
                raise HardwareError(
                    f"{exc}; to start without it, give its channels (channels = [...])"
                ) from exc
            keys = self.channels_in(found)
            if not keys:
                raise HardwareError(f"{found} ({opts.chip}) has no channel of a served type")
        return [c for c in map(self.channel, keys) if c is not None]

    def channels_in(self, directory: Path) -> tuple[str, ...]:
        """The keys of the channels of a served type in the device's *directory*."""
        raise NotImplementedError

    def channel(self, key: str) -> _Channel | None:
        """The channel a key names; None when it is of no served type."""
        raise NotImplementedError

    def channel_labels(self, channels: list[_Channel]) -> list[str]:
        """The label of each channel ("" for the default)."""
        labels: tuple[str, ...] = getattr(self.options, "labels", ())
        return list(labels) if labels else [""] * len(channels)

    def locate(self) -> Path:
        """The device's directory in sysfs; raises HardwareError saying how to enable it."""
        raise NotImplementedError

    def read_channel(self, directory: Path, channel: _Channel) -> float:
        """One channel's value in the unit served; raises HardwareError."""
        raise NotImplementedError


# -- IIO ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class IIOSensorOptions:
    """Options of the ``iio_sensor`` driver (an IIO device, such as a BME280)."""

    chip: str = option(help="the device's IIO name (its name file), such as bme280 or ads1115")
    address: int | None = option(
        None, help="its I²C address, such as 0x76 (default: any)", min=0x03, max=0x77
    )
    bus: int | None = option(None, help="its I²C bus, such as 1 (default: any)", min=0, max=255)
    channels: tuple[str, ...] = option(
        (),
        help="the IIO channels to serve, such as temp or voltage0 (default: the chip's)",
    )
    labels: tuple[str, ...] = option((), help="a label per channel (default: by kind)")
    interval: float = _interval()
    sysfs: str = _sysfs()

    def hardware_notes(self) -> list[tuple[str, str]]:
        """What check-config and show-config say when the sensor is not there yet."""
        return _absent(_locate_iio, self)

    def problems(self) -> list[tuple[str, str]]:
        """A chip name, channels of a served type, each once, one label per channel."""
        return _check_channels(self.chip, self.channels, self.labels, _IIO_TYPES, _iio_channel)


class IIOSensorDriver(_KernelSensorDriver):
    """An IIO sensor the kernel drives (``/sys/bus/iio/devices/iio:deviceN``).

    Example:
        .. code-block:: toml

            [[device]]
            driver = "iio_sensor"
            name = "Weather"
            chip = "bme280"
            address = 0x76
    """

    options_class = IIOSensorOptions
    known_channels = _IIO_DEFAULTS

    def channels_in(self, directory: Path) -> tuple[str, ...]:
        """Every single-ended channel found."""
        keys = {_iio_key(entry) for entry in os.listdir(directory)}
        return tuple(sorted(key for key in keys if key is not None and "-" not in key))

    def channel(self, key: str) -> _Channel | None:
        """An IIO channel key (``temp``, ``voltage0``)."""
        return _iio_channel(key)

    def locate(self) -> Path:
        """``iio:deviceN`` whose ``name`` is ``chip``, at ``bus``/``address`` when given."""
        return _locate_iio(self.options)

    def read_channel(self, directory: Path, channel: _Channel) -> float:
        """``_input`` as it is, else (``_raw`` + offset) * scale; in the unit served."""
        stem = f"in_{channel.key}"
        processed = directory / f"{stem}_input"
        if processed.exists():
            return _read_number(processed) * channel.factor
        raw = directory / f"{stem}_raw"
        if not raw.exists():
            raise HardwareError(f"{directory} has no channel {channel.key} ({raw.name} is missing)")
        value = _read_number(raw)
        shared = _shared_names(channel.key)
        offset = _attribute(directory, shared, "offset", 0.0)
        scale = _attribute(directory, shared, "scale", 1.0)
        return (value + offset) * scale * channel.factor


def _iio_key(entry: str) -> str | None:
    match = _IIO_CHANNEL.match(entry)
    if match is None or match["type"] not in _IIO_TYPES:
        return None
    return entry.removeprefix("in_").rsplit("_", 1)[0]


def _shared_names(key: str) -> list[str]:
    """Where a channel's scale or offset may be: its own, then shared by type (sysfs-bus-iio)."""
    match = _IIO_CHANNEL.match(f"in_{key}_raw")
    assert match is not None  # noqa: S101 - only served channels get here
    kind = match["type"]
    names = [f"in_{key}"]
    if match["index2"]:
        names.append(f"in_{kind}-{kind}")
    if match["modifier"] and match["index"]:
        names.append(f"in_{kind}{match['index']}")
    names += [f"in_{kind}", "in"]
    return names


def _attribute(directory: Path, names: list[str], attribute: str, default: float) -> float:
    for name in names:
        path = directory / f"{name}_{attribute}"
        if path.exists():
            return _read_number(path)
    return default


def _matches(place: tuple[int, int] | None, bus: int | None, address: int | None) -> bool:
    if bus is None and address is None:
        return True
    if place is None:
        return False
    return (bus is None or place[0] == bus) and (address is None or place[1] == address)


def _wanted(chip: str, bus: int | None, address: int | None) -> str:
    where = []
    if bus is not None:
        where.append(f"on bus {bus}")
    if address is not None:
        where.append(f"at 0x{address:02x}")
    return " ".join([repr(chip), *where])


# -- hwmon -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class HwmonSensorOptions:
    """Options of the ``hwmon_sensor`` driver (a hwmon device, such as an INA219)."""

    chip: str = option(help="the device's hwmon name (its name file), such as ina219")
    address: int | None = option(
        None, help="its I²C address, such as 0x40 (default: any)", min=0x03, max=0x77
    )
    bus: int | None = option(None, help="its I²C bus, such as 1 (default: any)", min=0, max=255)
    channels: tuple[str, ...] = option(
        (), help="the hwmon channels to serve, such as in1 or curr1 (default: the chip's)"
    )
    labels: tuple[str, ...] = option(
        (), help="a label per channel (default: the kernel's label, or by kind)"
    )
    interval: float = _interval()
    sysfs: str = _sysfs()

    def hardware_notes(self) -> list[tuple[str, str]]:
        """What check-config and show-config say when the sensor is not there yet."""
        return _absent(_locate_hwmon, self)

    def problems(self) -> list[tuple[str, str]]:
        """A chip name, channels of a served type, each once, one label per channel."""
        return _check_channels(self.chip, self.channels, self.labels, _HWMON_TYPES, _hwmon_channel)


class HwmonSensorDriver(_KernelSensorDriver):
    """A hwmon sensor the kernel drives (``/sys/class/hwmon/hwmonN``).

    Example:
        .. code-block:: toml

            [[device]]
            driver = "hwmon_sensor"
            name = "Power"
            chip = "ina219"
            address = 0x40
    """

    options_class = HwmonSensorOptions
    known_channels = _HWMON_DEFAULTS

    def channels_in(self, directory: Path) -> tuple[str, ...]:
        """Every ``<channel>_input`` of a served type."""
        keys = (e.removesuffix("_input") for e in os.listdir(directory) if e.endswith("_input"))
        return tuple(sorted(key for key in keys if _hwmon_channel(key) is not None))

    def channel(self, key: str) -> _Channel | None:
        """A hwmon channel key (``in1``, ``curr1``)."""
        return _hwmon_channel(key)

    def channel_labels(self, channels: list[_Channel]) -> list[str]:
        """``labels``, else the kernel's ``<channel>_label`` when the device is there."""
        if self.options.labels:
            return list(self.options.labels)
        try:
            found = self.locate()
        except HardwareError:
            return [""] * len(channels)
        labels = []
        for channel in channels:
            try:
                labels.append(_read_text(found / f"{channel.key}_label").strip())
            except HardwareError:
                labels.append("")
        return labels

    def locate(self) -> Path:
        """``hwmonN`` whose ``name`` is ``chip``, its ``device`` at ``bus``/``address`` if given."""
        return _locate_hwmon(self.options)

    def read_channel(self, directory: Path, channel: _Channel) -> float:
        """``<channel>_input`` in the unit served."""
        return _read_number(directory / f"{channel.key}_input") * channel.factor


# -- DS18B20 -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DS18B20Options:
    """Options of the ``ds18b20`` driver (a 1-Wire thermometer)."""

    serial: str | None = option(
        None,
        help="the sensor's 1-Wire id, such as 28-0316a2794fff (default: the only one present)",
    )
    label: str = option("Temperature", help="what clients call the temperature")
    interval: float = _interval()
    sysfs: str = _sysfs()

    def hardware_notes(self) -> list[tuple[str, str]]:
        """What check-config and show-config say when the sensor is not there yet."""
        return _absent(_locate_w1, self)

    def problems(self) -> list[tuple[str, str]]:
        """A serial as the kernel names it (family, dash, 12 hex digits), a label."""
        problems = []
        if self.serial is not None and not _W1_SERIAL.match(self.serial):
            problems.append(
                ("serial", f"{self.serial!r} is not a 1-Wire id such as 28-0316a2794fff")
            )
        if not self.label.strip():
            problems.append(("label", "is empty"))
        return problems


_W1_HINT = (
    "enable 1-Wire with dtoverlay=w1-gpio in /boot/firmware/config.txt (GPIO4; add"
    " ,gpiopin=N for another pin) and reboot, "
    "and check the wiring (DQ to the pin, a 4.7 kΩ pull-up to 3V3)"
)


class DS18B20Driver(_KernelSensorDriver):
    """A DS18B20 (or another w1_therm thermometer) on 1-Wire, in °C.

    Example:
        .. code-block:: toml

            [[device]]
            driver = "ds18b20"
            name = "Mirror temperature"
            serial = "28-0316a2794fff"
    """

    options_class = DS18B20Options

    def channels(self) -> list[_Channel]:
        """The one temperature."""
        return [_Channel(self.options.serial or "temperature", "temperature", "", 0.001)]

    def channel_labels(self, channels: list[_Channel]) -> list[str]:
        """``label``."""
        return [self.options.label]

    def locate(self) -> Path:
        """``/sys/bus/w1/devices/<serial>``, or the only thermometer there."""
        return _locate_w1(self.options)

    def read_channel(self, directory: Path, channel: _Channel) -> float:
        """``temperature`` (newer kernels), else the ``t=`` of ``w1_slave`` once its CRC is YES."""
        temperature = directory / "temperature"
        if temperature.exists():
            return _read_number(temperature) * channel.factor
        path = directory / "w1_slave"
        text = _read_text(path)
        lines = text.splitlines()
        if len(lines) < 2 or "crc=" not in lines[0] or "t=" not in lines[1]:
            raise HardwareError(f"{path} is not a w1_therm reading: {text[:80]!r}")
        if not lines[0].rstrip().endswith("YES"):
            raise HardwareError(f"{path}: CRC check failed ({lines[0].strip()}): a bad contact?")
        value = lines[1].rpartition("t=")[2].strip()
        try:
            return int(value) * channel.factor
        except ValueError:
            raise HardwareError(f"{path} does not hold a temperature: {value[:40]!r}") from None


def _locate_iio(opts: IIOSensorOptions) -> Path:
    """``iio:deviceN`` whose ``name`` is ``chip``, at ``bus``/``address`` when given."""
    root = Path(opts.sysfs, "bus/iio/devices")
    hint = _enable_hint(opts.chip, opts.bus, opts.address)
    try:
        entries = sorted(e for e in os.listdir(root) if e.startswith("iio:device"))
    except OSError:
        raise HardwareError(f"no IIO devices ({root} is missing): {hint}") from None
    seen = []
    for entry in entries:
        path = root / entry
        try:
            name = _read_text(path / "name").strip()
        except HardwareError:
            continue
        place = _i2c_place(Path(os.path.realpath(path)).parent)
        seen.append(f"{name} at {_where(place, entry)}")
        if name == opts.chip and _matches(place, opts.bus, opts.address):
            return path
    wanted = _wanted(opts.chip, opts.bus, opts.address)
    found = f" (found: {', '.join(seen)})" if seen else ""
    raise HardwareError(f"no IIO device {wanted} in {root}{found}: {hint}")


def _locate_hwmon(opts: HwmonSensorOptions) -> Path:
    """``hwmonN`` whose ``name`` is ``chip``, its ``device`` at ``bus``/``address`` if given."""
    root = Path(opts.sysfs, "class/hwmon")
    hint = _enable_hint(opts.chip, opts.bus, opts.address)
    try:
        entries = sorted(e for e in os.listdir(root) if e.startswith("hwmon"))
    except OSError:
        raise HardwareError(f"no hwmon devices ({root} is missing): {hint}") from None
    seen = []
    for entry in entries:
        path = root / entry
        try:
            name = _read_text(path / "name").strip()
        except HardwareError:
            continue
        device = path / "device"
        place = _i2c_place(Path(os.path.realpath(device))) if device.exists() else None
        seen.append(f"{name} at {_where(place, entry)}")
        if name == opts.chip and _matches(place, opts.bus, opts.address):
            return path
    wanted = _wanted(opts.chip, opts.bus, opts.address)
    found = f" (found: {', '.join(seen)})" if seen else ""
    raise HardwareError(f"no hwmon device {wanted} in {root}{found}: {hint}")


def _locate_w1(opts: DS18B20Options) -> Path:
    """``/sys/bus/w1/devices/<serial>``, or the only thermometer there."""
    root = Path(opts.sysfs, "bus/w1/devices")
    try:
        entries = sorted(
            e for e in os.listdir(root) if _W1_SERIAL.match(e) and e[:2] in _W1_THERM_FAMILIES
        )
    except OSError:
        raise HardwareError(f"no 1-Wire bus ({root} is missing): {_W1_HINT}") from None
    if opts.serial is not None:
        if opts.serial in entries:
            return root / opts.serial
        found = f" (found: {', '.join(entries)})" if entries else ""
        raise HardwareError(f"no 1-Wire thermometer {opts.serial} in {root}{found}")
    if not entries:
        raise HardwareError(f"no 1-Wire thermometer in {root}: {_W1_HINT}")
    if len(entries) > 1:
        raise HardwareError(
            f"{len(entries)} 1-Wire thermometers in {root} ({', '.join(entries)}): "
            "give the serial of one"
        )
    return root / entries[0]
