"""The kernel sensor drivers (iio_sensor, hwmon_sensor, ds18b20) on a sysfs tree in tmp_path.

The trees are laid out as the kernel's ABI documents describe them
(Documentation/ABI/testing/sysfs-bus-iio, Documentation/hwmon/sysfs-interface.rst,
Documentation/w1/slaves/w1_therm.rst): the device directories under
devices/, reached through the bus and class symlinks, with the I²C device
(``1-0076``) as the parent of an IIO device and as a hwmon device's ``device``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pi_indi.errors import HardwareError
from pi_indi.protocol import DefNumberVector, SetNumberVector
from pi_indi_drivers._gpio import Gpio
from pi_indi_drivers.api import dew_point
from pi_indi_drivers.kernel_sensors import (
    DS18B20Driver,
    DS18B20Options,
    HwmonSensorDriver,
    HwmonSensorOptions,
    IIOSensorDriver,
    IIOSensorOptions,
)
from tests.drivers.conftest import controlled, make_context, simulate

I2C_ADAPTER = "devices/platform/soc/fe804000.i2c/i2c-1"


class SysfsTree:
    """A fake /sys: devices where the kernel puts them, and the links to them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _write(self, directory: Path, files: dict[str, str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (directory / name).write_text(text)

    def _link(self, link: Path, target: Path) -> None:
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(target, link.parent))

    def iio(self, n: int, name: str, files: dict[str, str], i2c: str = "1-0076") -> Path:
        """/sys/bus/iio/devices/iio:deviceN -> devices/.../i2c-1/<i2c>/iio:deviceN."""
        bus = i2c.partition("-")[0]
        device = self.root / I2C_ADAPTER.replace("i2c-1", f"i2c-{bus}") / i2c / f"iio:device{n}"
        self._write(device, {"name": f"{name}\n", **files})
        self._link(self.root / "bus/iio/devices" / f"iio:device{n}", device)
        return device

    def hwmon(self, n: int, name: str, files: dict[str, str], i2c: str = "1-0040") -> Path:
        """/sys/class/hwmon/hwmonN -> devices/.../<i2c>/hwmon/hwmonN, with device -> <i2c>."""
        client = self.root / I2C_ADAPTER / i2c
        device = client / "hwmon" / f"hwmon{n}"
        self._write(device, {"name": f"{name}\n", **files})
        self._link(device / "device", client)
        self._link(self.root / "class/hwmon" / f"hwmon{n}", device)
        return device

    def w1(self, serial: str, files: dict[str, str]) -> Path:
        """/sys/bus/w1/devices/<serial> -> devices/w1_bus_master1/<serial>."""
        master = self.root / "devices/w1_bus_master1"
        device = master / serial
        self._write(device, {"name": f"{serial}\n", **files})
        self._link(self.root / "bus/w1/devices" / serial, device)
        if not (self.root / "bus/w1/devices/w1_bus_master1").is_symlink():
            self._link(self.root / "bus/w1/devices/w1_bus_master1", master)
        return device


@pytest.fixture
def sysfs(tmp_path: Path) -> SysfsTree:
    return SysfsTree(tmp_path / "sys")


@pytest.fixture
def native() -> Iterator[Gpio]:
    """A back end on real pins that is never opened: these drivers claim no pin."""
    backend = Gpio("native")
    try:
        yield backend
    finally:
        backend.close()


def reads(device: str, name: str, value: float, within: float = 1e-6) -> Any:
    """An Ok SetNumberVector of *device*.*name* whose one member is *value*."""
    return lambda e: (
        isinstance(e, SetNumberVector)
        and e.device == device
        and e.name == name
        and e.state == "Ok"
        and abs(float(e.values[name]) - value) <= within
    )


def alert(device: str, name: str) -> Any:
    return lambda e: (
        isinstance(e, SetNumberVector)
        and e.device == device
        and e.name == name
        and e.state == "Alert"
    )


async def in_state(client: Any, device: str, name: str, state: str) -> None:
    """Wait for *device*.*name* to be in *state*, as defined or as set."""
    await client.expect(
        lambda e: (
            isinstance(e, (DefNumberVector, SetNumberVector))
            and (e.device, e.name, e.state) == (device, name, state)
        )
    )


async def served(
    client: Any, expected: dict[tuple[str, str], float], within: float = 1e-6
) -> dict[tuple[str, str], DefNumberVector]:
    """Wait for each (device, vector) to be defined and read Ok at its value; the definitions.

    A reading taken before the client asked comes in the definition (Ok, with
    the value); one taken after, in a set; an unchanged reading sends nothing.
    """
    defs: dict[tuple[str, str], DefNumberVector] = {}
    seen: set[tuple[str, str]] = set()

    def match(e: Any) -> bool:
        key = (getattr(e, "device", None), getattr(e, "name", None))
        if key in expected:
            if isinstance(e, DefNumberVector):
                defs[key] = e
                value = float(e.members[0].value)
            elif isinstance(e, SetNumberVector):
                value = float(e.values[e.name])
            else:
                return False
            if e.state == "Ok" and abs(value - expected[key]) <= within:
                seen.add(key)
        return len(defs) == len(expected) and seen == set(expected)

    try:
        await client.expect(match)
    except TimeoutError:
        sets = [
            (e.device, e.name, e.state, e.values, e.message)
            for e in client.events
            if isinstance(e, SetNumberVector)
        ]
        raise AssertionError(f"defined {sorted(defs)}, read {sorted(seen)}; set: {sets}") from None
    return defs


BME280 = {
    # bmp280-core: processed channels, in m°C, m%RH and kPa.
    "in_temp_input": "23450\n",
    "in_humidityrelative_input": "45123\n",
    "in_pressure_input": "101.325000000\n",
    "in_temp_oversampling_ratio": "2\n",
}


# -- IIO --------------------------------------------------------------------------------


async def test_a_bme280_is_served_in_degrees_percent_and_hectopascals(native, sysfs, serve):
    sysfs.iio(0, "bme280", BME280)
    opts = IIOSensorOptions(chip="bme280", sysfs=str(sysfs.root), interval=0.05)
    driver = IIOSensorDriver(make_context(native, "Weather", opts))
    client = await serve(driver)
    defs = await served(
        client,
        {
            ("Weather", "TEMPERATURE"): 23.45,
            ("Weather", "HUMIDITY"): 45.1,
            ("Weather", "PRESSURE"): 1013.25,
            ("Weather", "DEW_POINT"): round(dew_point(23.45, 45.123), 2),
        },
    )
    assert all(vector.perm == "ro" for vector in defs.values())
    assert {name: vector.members[0].label for (_, name), vector in defs.items()} == {
        "TEMPERATURE": "Temperature (°C)",
        "HUMIDITY": "Humidity (%RH)",
        "PRESSURE": "Pressure (hPa)",
        "DEW_POINT": "Dew point (°C)",
    }
    assert defs["Weather", "PRESSURE"].members[0].format == "%.2f"


async def test_an_adc_reads_raw_times_its_scale(native, sysfs, serve):
    sysfs.iio(
        0,
        "ads1015",
        {
            # ti-ads1015: a scale per channel (mV per count, by the gain).
            "in_voltage0_raw": "1000\n",
            "in_voltage0_scale": "3.000000000\n",
            "in_voltage1_raw": "-250\n",
            "in_voltage1_scale": "2.000000000\n",
            "in_voltage0-voltage1_raw": "7\n",
            "in_voltage0-voltage1_scale": "3.000000000\n",
            "in_voltage0_sampling_frequency": "1600\n",
        },
        i2c="1-0048",
    )
    opts = IIOSensorOptions(
        chip="ads1015",
        channels=("voltage0", "voltage1", "voltage0-voltage1"),
        labels=("Battery", "Dew heater", "Across"),
        sysfs=str(sysfs.root),
        interval=0.05,
    )
    driver = IIOSensorDriver(make_context(native, "ADC", opts))
    client = await serve(driver)
    defs = await served(
        client,
        {("ADC", "VOLTAGE_0"): 3.0, ("ADC", "VOLTAGE_1"): -0.5, ("ADC", "VOLTAGE_0_1"): 0.021},
    )
    battery = defs["ADC", "VOLTAGE_0"]
    assert battery.label == "Battery"
    assert battery.members[0].label == "Battery (V)"


async def test_raw_plus_offset_times_scale_with_separate_and_shared_attributes(
    native, sysfs, serve
):
    # si7020-like: raw, offset and scale per channel.
    sysfs.iio(
        0,
        "si7020",
        {
            "in_temp_raw": "1000\n",
            "in_temp_offset": "-500\n",
            "in_temp_scale": "40.000000000\n",
            "in_humidityrelative_raw": "3000\n",
            "in_humidityrelative_offset": "1000.5\n",
            "in_humidityrelative_scale": "10\n",
        },
        i2c="1-0040",
    )
    # mlx90614-like: modified channels with an offset and scale shared by type.
    sysfs.iio(
        1,
        "mlx90614",
        {
            "in_temp_ambient_raw": "14000\n",
            "in_temp_object_raw": "13000\n",
            "in_temp_offset": "-13657.500000\n",
            "in_temp_scale": "20\n",
        },
        i2c="1-005a",
    )
    si7020 = IIOSensorDriver(
        make_context(
            native,
            "Humidity",
            IIOSensorOptions(chip="si7020", sysfs=str(sysfs.root), interval=0.05),
        )
    )
    sky = IIOSensorDriver(
        make_context(
            native, "Sky", IIOSensorOptions(chip="mlx90614", sysfs=str(sysfs.root), interval=0.05)
        )
    )
    client = await serve(si7020, sky)
    await served(
        client,
        {
            ("Humidity", "TEMPERATURE"): 20.0,  # (1000 - 500) * 40 m°C
            ("Humidity", "HUMIDITY"): 40.0,  # (3000 + 1000.5) * 10 m% = 40.005 %, shown %.1f
            ("Sky", "TEMPERATURE_AMBIENT"): 6.85,  # (14000 - 13657.5) * 20 m°C
            ("Sky", "TEMPERATURE_OBJECT"): -13.15,
        },
    )


async def test_two_devices_of_one_name_are_told_apart_by_address(native, sysfs, serve):
    sysfs.iio(0, "bme280", BME280, i2c="1-0076")
    sysfs.iio(1, "bme280", {**BME280, "in_temp_input": "-5250\n"}, i2c="1-0077")
    inside = IIOSensorOptions(chip="bme280", address=0x76, sysfs=str(sysfs.root), interval=0.05)
    outside = IIOSensorOptions(
        chip="bme280", bus=1, address=0x77, sysfs=str(sysfs.root), interval=0.05
    )
    client = await serve(
        IIOSensorDriver(make_context(native, "Inside", inside)),
        IIOSensorDriver(make_context(native, "Outside", outside)),
    )
    await served(client, {("Inside", "TEMPERATURE"): 23.45, ("Outside", "TEMPERATURE"): -5.25})


async def test_a_missing_device_is_an_alert_saying_how_to_enable_it_and_recovers(
    native, sysfs, serve
):
    opts = IIOSensorOptions(chip="bme280", address=0x76, sysfs=str(sysfs.root), interval=0.05)
    driver = IIOSensorDriver(make_context(native, "Weather", opts))  # starts all the same
    with pytest.raises(
        HardwareError, match=r"no IIO devices \(.*/sys/bus/iio/devices is missing\)"
    ):
        driver.read()
    client = await serve(driver)
    await in_state(client, "Weather", "TEMPERATURE", "Alert")

    # A new reason is told at once (the first may have gone before the client came).
    sysfs.iio(0, "bmp280", {"in_temp_input": "1000\n", "in_pressure_input": "99\n"}, "1-0077")
    missing = await client.expect(alert("Weather", "TEMPERATURE"))
    assert missing.message is not None
    assert "no IIO device 'bme280' at 0x76" in missing.message
    assert "(found: bmp280 at 1-0077)" in missing.message
    assert "dtoverlay=i2c-sensor,bme280,addr=0x76 in /boot/firmware/config.txt" in missing.message
    assert "echo bme280 0x76 > /sys/bus/i2c/devices/i2c-1/new_device" in missing.message

    sysfs.iio(1, "bme280", BME280, i2c="1-0077")  # the right chip at another address
    other = await client.expect(alert("Weather", "TEMPERATURE"))
    assert other.message is not None
    assert "found: bmp280 at 1-0077, bme280 at 1-0077" in other.message

    sysfs.iio(2, "bme280", BME280, i2c="1-0076")
    await client.expect(reads("Weather", "TEMPERATURE", 23.45))
    await client.expect(reads("Weather", "PRESSURE", 1013.25))


async def test_a_bad_value_is_an_alert_naming_the_file(native, sysfs, serve):
    sysfs.iio(0, "bh1750", {"in_illuminance_raw": "1200\n", "in_illuminance_scale": "0.5"})
    opts = IIOSensorOptions(chip="bh1750", sysfs=str(sysfs.root), interval=0.05)
    client = await serve(IIOSensorDriver(make_context(native, "Sky", opts)))
    defs = await served(client, {("Sky", "ILLUMINANCE"): 600.0})
    assert defs["Sky", "ILLUMINANCE"].members[0].label == "Illuminance (lux)"
    raw = sysfs.root / "bus/iio/devices/iio:device0/in_illuminance_raw"
    raw.write_text("busy\n")
    bad = await client.expect(alert("Sky", "ILLUMINANCE"))
    assert bad.message is not None
    assert f"{raw} does not hold a number: 'busy'" in bad.message
    raw.write_text("100\n")
    await client.expect(reads("Sky", "ILLUMINANCE", 50.0))


def test_an_unknown_chip_serves_every_single_ended_channel_found(native, sysfs):
    sysfs.iio(
        0,
        "mcp3424",
        {
            "in_voltage0_raw": "1",
            "in_voltage1_raw": "2",
            "in_voltage0-voltage1_raw": "3",
            "in_intensity_ir_raw": "4",
        },
    )
    opts = IIOSensorOptions(chip="mcp3424", sysfs=str(sysfs.root))
    driver = IIOSensorDriver(make_context(native, "ADC", opts))
    assert [r.vector.name for r in driver.readings] == ["VOLTAGE_0", "VOLTAGE_1"]
    driver.shutdown()


def test_an_unknown_chip_that_is_absent_needs_its_channels(native, sysfs):
    opts = IIOSensorOptions(chip="mcp3424", sysfs=str(sysfs.root))
    with pytest.raises(HardwareError, match=r"give its channels"):
        IIOSensorDriver(make_context(native, "ADC", opts))


# -- hwmon ------------------------------------------------------------------------------

INA219 = {
    "in0_input": "12\n",  # the shunt voltage, mV
    "in1_input": "12040\n",  # the bus voltage, mV
    "curr1_input": "1500\n",  # mA
    "power1_input": "18060000\n",  # µW
    "shunt_resistor": "100000\n",
}


@pytest.mark.parametrize("chip", ["sht3x", "sht4x"])
async def test_an_sht_sensor_is_served_with_its_dew_point(native, sysfs, serve, chip):
    # sht3x/sht4x: hwmon's temp1_input (m°C) and humidity1_input (m%RH).
    sysfs.hwmon(0, chip, {"temp1_input": "21500\n", "humidity1_input": "45200\n"}, i2c="1-0044")
    opts = HwmonSensorOptions(chip=chip, address=0x44, sysfs=str(sysfs.root), interval=0.05)
    client = await serve(HwmonSensorDriver(make_context(native, "Enclosure", opts)))
    await served(
        client,
        {
            ("Enclosure", "TEMPERATURE"): 21.5,
            ("Enclosure", "HUMIDITY"): 45.2,
            ("Enclosure", "DEW_POINT"): round(dew_point(21.5, 45.2), 2),
        },
    )


async def test_an_ina219_is_served_in_volts_amperes_and_watts(native, sysfs, serve):
    sysfs.hwmon(0, "cpu_thermal", {"temp1_input": "45000\n"}, i2c="thermal_zone0")
    sysfs.hwmon(1, "ina219", INA219, i2c="1-0040")
    sysfs.hwmon(2, "ina219", {**INA219, "in1_input": "5010\n"}, i2c="1-0041")
    main = HwmonSensorOptions(chip="ina219", address=0x40, sysfs=str(sysfs.root), interval=0.05)
    aux = HwmonSensorOptions(chip="ina219", address=0x41, sysfs=str(sysfs.root), interval=0.05)
    client = await serve(
        HwmonSensorDriver(make_context(native, "12V", main)),
        HwmonSensorDriver(make_context(native, "5V", aux)),
    )
    defs = await served(
        client,
        {
            ("12V", "VOLTAGE"): 12.04,
            ("12V", "CURRENT"): 1.5,
            ("12V", "POWER"): 18.06,
            ("5V", "VOLTAGE"): 5.01,
        },
    )
    assert {name: vector.members[0].label for (device, name), vector in defs.items()} == {
        "VOLTAGE": "Voltage (V)",
        "CURRENT": "Current (A)",
        "POWER": "Power (W)",
    }


async def test_hwmon_labels_and_several_channels_of_a_kind(native, sysfs, serve):
    sysfs.hwmon(
        0,
        "ina219",
        {**INA219, "in0_label": "shunt\n", "in1_label": "bus\n"},
    )
    opts = HwmonSensorOptions(
        chip="ina219", channels=("in0", "in1"), sysfs=str(sysfs.root), interval=0.05
    )
    client = await serve(HwmonSensorDriver(make_context(native, "Power", opts)))
    defs = await served(client, {("Power", "VOLTAGE_0"): 0.012, ("Power", "VOLTAGE_1"): 12.04})
    assert defs["Power", "VOLTAGE_0"].label == "shunt"
    assert defs["Power", "VOLTAGE_1"].members[0].label == "bus (V)"


async def test_a_missing_hwmon_device_says_how_to_add_it(native, sysfs, serve):
    opts = HwmonSensorOptions(chip="ina219", address=0x40, sysfs=str(sysfs.root), interval=0.05)
    client = await serve(HwmonSensorDriver(make_context(native, "Power", opts)))
    await in_state(client, "Power", "VOLTAGE", "Alert")
    sysfs.hwmon(0, "ina219", INA219, i2c="1-0041")
    missing = await client.expect(alert("Power", "VOLTAGE"))
    assert missing.message is not None
    assert "no hwmon device 'ina219' at 0x40" in missing.message
    assert "found: ina219 at 1-0041" in missing.message
    assert "echo ina219 0x40 > /sys/bus/i2c/devices/i2c-1/new_device" in missing.message
    sysfs.hwmon(1, "ina219", INA219, i2c="1-0040")
    await client.expect(reads("Power", "CURRENT", 1.5))


# -- DS18B20 ----------------------------------------------------------------------------


async def test_a_ds18b20_reads_its_temperature_file(native, sysfs, serve):
    sysfs.w1("28-0316a2794fff", {"temperature": "23125\n"})
    opts = DS18B20Options(sysfs=str(sysfs.root), interval=0.05)  # the only one
    client = await serve(DS18B20Driver(make_context(native, "Mirror", opts)))
    defs = await served(client, {("Mirror", "TEMPERATURE"): 23.125}, within=0.005)
    assert defs["Mirror", "TEMPERATURE"].members[0].label == "Temperature (°C)"


W1_SLAVE_YES = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=-10125\n"
W1_SLAVE_NO = "72 01 4b 46 7f ff 0e 10 57 : crc=12 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"


async def test_an_older_kernel_w1_slave_is_read_once_its_crc_is_good(native, sysfs, serve):
    sysfs.w1("28-0316a2794fff", {"temperature": "1000\n"})
    opts = DS18B20Options(serial="28-000005e2fdc3", sysfs=str(sysfs.root), interval=0.05)
    client = await serve(DS18B20Driver(make_context(native, "Tube", opts)))
    await in_state(client, "Tube", "TEMPERATURE", "Alert")  # not there yet
    device = sysfs.w1("28-000005e2fdc3", {"w1_slave": W1_SLAVE_NO})
    bad = await client.expect(alert("Tube", "TEMPERATURE"))
    assert bad.message is not None
    assert "CRC check failed" in bad.message
    assert str(sysfs.root / "bus/w1/devices/28-000005e2fdc3/w1_slave") in bad.message
    (device / "w1_slave").write_text(W1_SLAVE_YES)
    await client.expect(reads("Tube", "TEMPERATURE", -10.125, within=0.01))


async def test_no_1wire_bus_is_an_alert_with_the_overlay_line(native, sysfs, serve):
    opts = DS18B20Options(sysfs=str(sysfs.root), interval=0.05)
    driver = DS18B20Driver(make_context(native, "Mirror", opts))
    with pytest.raises(HardwareError, match=r"no 1-Wire bus .*dtoverlay=w1-gpio in"):
        driver.read()
    client = await serve(driver)
    await in_state(client, "Mirror", "TEMPERATURE", "Alert")
    (sysfs.root / "bus/w1/devices").mkdir(parents=True)  # the bus, and no sensor on it
    missing = await client.expect(alert("Mirror", "TEMPERATURE"))
    assert missing.message is not None
    assert "no 1-Wire thermometer in" in missing.message
    assert "dtoverlay=w1-gpio in" in missing.message
    assert "4.7 kΩ pull-up" in missing.message
    sysfs.w1("28-0316a2794fff", {"temperature": "5500\n"})
    await client.expect(reads("Mirror", "TEMPERATURE", 5.5))


def test_two_thermometers_need_a_serial(native, sysfs):
    sysfs.w1("28-0316a2794fff", {"temperature": "1000\n"})
    sysfs.w1("28-000005e2fdc3", {"temperature": "2000\n"})
    driver = DS18B20Driver(make_context(native, "T", DS18B20Options(sysfs=str(sysfs.root))))
    with pytest.raises(HardwareError, match=r"2 1-Wire thermometers .* give the serial of one"):
        driver.read()
    driver.shutdown()


# -- mock mode --------------------------------------------------------------------------


async def test_in_mock_mode_without_the_device_every_reading_is_settable(gpio, sysfs, serve):
    opts = IIOSensorOptions(chip="bme280", sysfs=str(sysfs.root), interval=0.05)
    driver = IIOSensorDriver(make_context(gpio, "Weather", opts))
    control = controlled(gpio)
    assert {r.name for r in gpio.simulated_readings} == {"TEMPERATURE", "HUMIDITY", "PRESSURE"}
    client = await serve(driver, control)
    await served(client, {("Weather", "PRESSURE"): 1013.25, ("Weather", "HUMIDITY"): 50.0})
    await simulate(client, control, "Weather", "TEMPERATURE", 10.0)
    await client.expect(reads("Weather", "TEMPERATURE", 10.0))
    await simulate(client, control, "Weather", "HUMIDITY", 80.0)
    await client.expect(reads("Weather", "DEW_POINT", round(dew_point(10.0, 80.0), 2)))


async def test_in_mock_mode_a_present_device_is_read_until_a_value_is_set(gpio, sysfs, serve):
    sysfs.hwmon(0, "ina219", INA219)
    opts = HwmonSensorOptions(chip="ina219", sysfs=str(sysfs.root), interval=0.05)
    driver = HwmonSensorDriver(make_context(gpio, "Power", opts))
    ds_opts = DS18B20Options(sysfs=str(sysfs.root), interval=0.05)
    ds = DS18B20Driver(make_context(gpio, "Mirror", ds_opts))
    control = controlled(gpio)
    client = await serve(driver, ds, control)
    # Mirror: simulated, there is no 1-Wire bus in this tree.
    await served(client, {("Power", "CURRENT"): 1.5, ("Mirror", "TEMPERATURE"): 20.0})
    await simulate(client, control, "Power", "CURRENT", 0.25)
    await client.expect(reads("Power", "CURRENT", 0.25))
    await simulate(client, control, "Mirror", "TEMPERATURE", -3.5)
    await client.expect(reads("Mirror", "TEMPERATURE", -3.5))


# -- options and the formula ------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        pytest.param({"chip": "bme280"}, [], id="default"),
        pytest.param(
            {"chip": " "},
            [("chip", "is empty: give the kernel's name of the chip, such as bme280")],
            id="chip",
        ),
        pytest.param(
            {"chip": "x", "channels": ("temp", "speed")},
            [
                (
                    "channels",
                    "'speed' is not a channel of a served type (temp, humidityrelative, pressure, illuminance, voltage, current, power)",
                )
            ],
            id="type",
        ),
        pytest.param(
            {"chip": "x", "channels": ("temp", "temp")},
            [("channels", "has a channel twice")],
            id="twice",
        ),
        pytest.param(
            {"chip": "x", "labels": ("A",)},
            [("labels", "needs channels: give the channels they name, in order")],
            id="labels",
        ),
        pytest.param(
            {"chip": "x", "channels": ("temp",), "labels": ("A", "B")},
            [("labels", "has 2 labels for 1 channels")],
            id="count",
        ),
    ],
)
def test_iio_options_problems(options, problems):
    assert IIOSensorOptions(**options).problems() == problems


def test_hwmon_and_ds18b20_options_problems():
    assert HwmonSensorOptions(chip="ina219", channels=("in1", "curr1")).problems() == []
    assert HwmonSensorOptions(chip="ina219", channels=("fan1",)).problems() == [
        ("channels", "'fan1' is not a channel of a served type (temp, humidity, in, curr, power)")
    ]
    assert DS18B20Options(serial="28-0316a2794fff").problems() == []
    assert DS18B20Options(serial="0316a2794fff").problems() == [
        ("serial", "'0316a2794fff' is not a 1-Wire id such as 28-0316a2794fff")
    ]


def test_check_config_and_show_config_say_how_to_enable_a_sensor_not_there(tmp_path):
    # The config is valid (the device starts, in Alert, and recovers once the
    # sensor is there), so check-config still exits 0, with a note per sensor.
    import subprocess
    import sys

    config = tmp_path / "pi-indi.toml"
    config.write_text(
        '[gpio]\npin_factory = "mock"\n'
        f'[[device]]\ndriver = "iio_sensor"\nname = "Outside"\nchip = "bme280"\naddress = 0x76\nsysfs = "{tmp_path}"\n'
        f'[[device]]\ndriver = "ds18b20"\nname = "Lens"\nsysfs = "{tmp_path}"\n'
    )
    check = subprocess.run(
        [sys.executable, "-m", "pi_indi", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "note: device[0] ('Outside'): no IIO devices" in check.stdout
    assert "dtoverlay=i2c-sensor,bme280,addr=0x76" in check.stdout
    assert "note: device[1] ('Lens'): no 1-Wire bus" in check.stdout
    show = subprocess.run(
        [sys.executable, "-m", "pi_indi", "show-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert show.returncode == 0, show.stderr
    assert "# note: device[0] ('Outside'): no IIO devices" in show.stdout
