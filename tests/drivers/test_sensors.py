"""The sensor drivers end to end: a client sets a simulated reading on "Mock GPIO",
the sensor's device reads it through gpiozero's mock pins and shows it."""

from __future__ import annotations

import os
import threading
from typing import Any, get_args, get_type_hints

import pytest

from pi_indi.errors import HardwareError
from pi_indi.protocol import (
    DefNumberVector,
    DefTextVector,
    NewNumberVector,
    SetNumberVector,
)
from pi_indi_drivers.mock_control import DEVICE_NAME
from pi_indi_drivers.sensors import (
    MCP_CHANNELS,
    CPUTemperatureDriver,
    CPUTemperatureOptions,
    DiskUsageDriver,
    DiskUsageOptions,
    DistanceSensorDriver,
    DistanceSensorOptions,
    LightSensorDriver,
    LightSensorOptions,
    LoadAverageDriver,
    LoadAverageOptions,
    MCP3xxxDriver,
    MCP3xxxOptions,
)
from tests.drivers.conftest import controlled, make_context, simulate


def reads(device: str, name: str, member: str, near: float, within: float) -> Any:
    """An Ok SetNumberVector of *device*.*name* whose *member* is within *within* of *near*."""
    return lambda e: (
        isinstance(e, SetNumberVector)
        and e.device == device
        and e.name == name
        and e.state == "Ok"
        and member in e.values
        and abs(float(e.values[member]) - near) <= within
    )


async def test_distance_follows_the_simulated_echo(gpio, serve):
    opts = DistanceSensorOptions(echo="GPIO24", trigger="GPIO23", max_distance=2.0, interval=0.1)
    driver = DistanceSensorDriver(make_context(gpio, "Dust cap", opts))
    control = controlled(gpio)
    client = await serve(driver, control)
    defined = await client.expect(lambda e: isinstance(e, DefNumberVector) and e.name == "DISTANCE")
    assert defined.perm == "ro"
    assert float(defined.members[0].max) == 2.0
    # The echo is timed with sleep() in a mock thread: close, not exact.
    await client.expect(reads("Dust cap", "DISTANCE", "DISTANCE", 1.0, 0.15), timeout=5)
    await simulate(client, control, "Dust cap", "DISTANCE", 0.4)
    await client.expect(reads("Dust cap", "DISTANCE", "DISTANCE", 0.4, 0.1), timeout=5)


async def test_light_level_follows_the_simulated_charge_time(gpio, serve):
    opts = LightSensorOptions(pin="GPIO18", queue_len=3, interval=0.1)
    driver = LightSensorDriver(make_context(gpio, "Sky", opts))
    control = controlled(gpio)
    client = await serve(driver, control)
    # The level is timed by threads (the mock pin charges on a timer), so a
    # loaded machine reads darker now and then: wait for a reading in range.
    await client.expect(reads("Sky", "LIGHT_LEVEL", "LEVEL", 0.5, 0.2), timeout=15)
    await simulate(client, control, "Sky", "LEVEL", 0.9)
    await client.expect(reads("Sky", "LIGHT_LEVEL", "LEVEL", 0.9, 0.1), timeout=15)


async def test_mcp3008_channels_read_the_simulated_voltages(gpio, serve):
    opts = MCP3xxxOptions(channels=(0, 3), labels=("Battery", "Dew"), interval=0.05)
    driver = MCP3xxxDriver(make_context(gpio, "ADC", opts))
    control = controlled(gpio)
    client = await serve(driver, control)
    labels = await client.expect(lambda e: isinstance(e, DefTextVector) and "LABELS" in e.name)
    assert labels.name == "ANALOG_INPUT_LABELS"
    assert {m.name: m.value for m in labels.members} == {
        "ANALOG_INPUT_1": "Battery",
        "ANALOG_INPUT_2": "Dew",
    }
    await simulate(client, control, "ADC", "CHANNEL_3", 1.65)
    # libindi's ANALOG_INPUT_<n>: one member named as the vector (the voltage here).
    await client.expect(reads("ADC", "ANALOG_INPUT_2", "ANALOG_INPUT_2", 1.65, 0.01))
    update = await client.expect(reads("ADC", "ANALOG_READING_2", "VOLTAGE", 1.65, 0.01))
    assert float(update.values["VALUE"]) == pytest.approx(0.5, abs=0.002)
    (reading,) = [v for v in driver.readings if v.vector.name == "ANALOG_READING_2"]
    # What a person reads in a client: no config key names.
    assert reading.vector.data["VALUE"].label == "Value (fraction of full scale)"
    await simulate(client, control, "ADC", "CHANNEL_0", 3.3)
    await client.expect(reads("ADC", "ANALOG_READING_1", "VALUE", 1.0, 0.001))


async def test_mcp3304_differential_reads_below_zero(gpio, serve):
    opts = MCP3xxxOptions(chip="MCP3304", channels=(0, 1), differential=True, interval=0.05)
    driver = MCP3xxxDriver(make_context(gpio, "Diff ADC", opts))
    defined = driver.device["ANALOG_READING_1"]
    assert float(defined.data["VOLTAGE"].min) == -3.3
    assert float(driver.device["ANALOG_INPUT_1"].data["ANALOG_INPUT_1"].min) == -3.3
    control = controlled(gpio)
    client = await serve(driver, control)
    await simulate(client, control, "Diff ADC", "CHANNEL_1", 2.0)
    await client.expect(reads("Diff ADC", "ANALOG_INPUT_1", "ANALOG_INPUT_1", -2.0, 0.01))
    await client.expect(reads("Diff ADC", "ANALOG_INPUT_2", "ANALOG_INPUT_2", 2.0, 0.01))


async def test_mcp_on_software_spi_pins(gpio, serve):
    opts = MCP3xxxOptions(
        chip="MCP3202",
        channels=(1,),
        clock_pin="GPIO21",
        mosi_pin="GPIO20",
        miso_pin="GPIO19",
        select_pin="GPIO16",
        max_voltage=5.0,
        interval=0.05,
    )
    driver = MCP3xxxDriver(make_context(gpio, "SPI1 ADC", opts))
    control = controlled(gpio)
    client = await serve(driver, control)
    await simulate(client, control, "SPI1 ADC", "CHANNEL_1", 4.0)
    await client.expect(reads("SPI1 ADC", "ANALOG_INPUT_1", "ANALOG_INPUT_1", 4.0, 0.01))


async def test_cpu_temperature_is_read_off_the_event_loop(gpio, serve):
    opts = CPUTemperatureOptions(interval=0.05)
    driver = CPUTemperatureDriver(make_context(gpio, "Pi", opts))
    sensor = driver.readings[0].sensor
    original = sensor.read
    threads = set()

    def read() -> float:
        threads.add(threading.current_thread())
        return original()

    sensor.read = read
    control = controlled(gpio)
    client = await serve(driver, control)
    await simulate(client, control, "Pi", "TEMPERATURE", 61.5)
    await client.expect(reads("Pi", "CPU_TEMPERATURE", "TEMPERATURE", 61.5, 0))
    assert threads
    assert threading.main_thread() not in threads


async def test_a_failing_read_is_an_alert_and_reading_goes_on(gpio, serve):
    opts = CPUTemperatureOptions(interval=0.05)
    driver = CPUTemperatureDriver(make_context(gpio, "Pi", opts))
    control = controlled(gpio)
    client = await serve(driver, control)
    await simulate(client, control, "Pi", "TEMPERATURE", 52.0)
    await client.expect(reads("Pi", "CPU_TEMPERATURE", "TEMPERATURE", 52.0, 0))

    os.remove(driver.readings[0].sensor.device.sensor_file)
    alert = await client.expect(
        lambda e: isinstance(e, SetNumberVector) and e.name == "CPU_TEMPERATURE"
    )
    assert alert.state == "Alert"
    assert alert.message is not None
    assert "cannot read the sensor" in alert.message
    assert "No such file" in alert.message
    # Told once, not at every reading.
    assert await client.silent(lambda e: isinstance(e, SetNumberVector) and e.device == "Pi")

    await simulate(client, control, "Pi", "TEMPERATURE", 50.0)  # writes the file again
    await client.expect(reads("Pi", "CPU_TEMPERATURE", "TEMPERATURE", 50.0, 0))


async def test_load_average(gpio, serve):
    opts = LoadAverageOptions(minutes=15, interval=0.05)
    driver = LoadAverageDriver(make_context(gpio, "Pi load", opts))
    assert driver.device["LOAD_AVERAGE"].data["LOAD"].label == "Load (15 min)"
    control = controlled(gpio)
    client = await serve(driver, control)
    await simulate(client, control, "Pi load", "LOAD", 3.5)
    await client.expect(reads("Pi load", "LOAD_AVERAGE", "LOAD", 3.5, 0))


async def test_disk_usage(gpio, serve):
    opts = DiskUsageOptions(filesystem="/no/such/disk", interval=0.05)
    driver = DiskUsageDriver(make_context(gpio, "Disk", opts))
    control = controlled(gpio)
    client = await serve(driver, control)
    await simulate(client, control, "Disk", "USAGE", 87.5)
    await client.expect(reads("Disk", "DISK_USAGE", "USAGE", 87.5, 0))


async def test_a_simulated_reading_out_of_range_is_refused(gpio, serve):
    opts = DiskUsageOptions(interval=0.05)
    driver = DiskUsageDriver(make_context(gpio, "Disk", opts))
    control = controlled(gpio)
    client = await serve(driver, control)
    vector = control.reading_vector("Disk", "USAGE")
    await client.send(NewNumberVector(device=DEVICE_NAME, name=vector, values={"VALUE": "120"}))
    # The reading it causes may come before this answer: it is kept for the test.
    answer = await client.expect(
        lambda e: isinstance(e, SetNumberVector) and e.name == vector, keep_others=True
    )
    assert answer.state == "Alert"
    assert control.readings[vector].value == 50.0


def test_a_refused_pin_is_a_hardware_error(gpio):
    gpio.create("PWMLED", pin="GPIO24")
    opts = DistanceSensorOptions(echo="GPIO24", trigger="GPIO23")
    with pytest.raises(HardwareError, match="GPIO24"):
        DistanceSensorDriver(make_context(gpio, "Dust cap", opts))
    assert len(gpio.devices) == 1
    assert gpio.simulated_readings == []


def test_a_chip_select_in_use_is_a_hardware_error(gpio):
    gpio.create("LED", pin="GPIO8")  # CE0, the chip select of port 0 device 0
    opts = MCP3xxxOptions(channels=(0, 1))
    with pytest.raises(HardwareError, match="GPIO8"):
        MCP3xxxDriver(make_context(gpio, "ADC", opts))
    assert len(gpio.devices) == 1


def test_a_refused_channel_releases_the_channels_made(gpio):
    with pytest.raises(HardwareError, match="MCP3004"):
        gpio.create_mcp3xxx("MCP3004", [0, 1, 5])
    assert gpio.devices == []
    (sensor,) = gpio.create_mcp3xxx("MCP3004", [3])  # the pins are free again
    assert sensor.read() == pytest.approx(0.0, abs=0.001)


async def test_stopping_releases_the_sensors(gpio, serve):
    driver = MCP3xxxDriver(make_context(gpio, "ADC", MCP3xxxOptions(channels=(0, 1, 2))))
    await serve(driver)
    assert len(gpio.devices) == 3
    driver.shutdown()
    assert gpio.devices == []


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        pytest.param({}, [], id="default"),
        pytest.param(
            {"chip": "MCP3004", "channels": (4,)},
            [("channels", "4: the MCP3004 has channels 0 to 3")],
            id="channel",
        ),
        pytest.param({"channels": ()}, [("channels", "needs at least one channel")], id="none"),
        pytest.param({"channels": (1, 1)}, [("channels", "has a channel twice")], id="twice"),
        pytest.param(
            {"chip": "MCP3201", "channels": (1,)},
            [
                ("channels", "1: the MCP3201 has channels 0 to 0"),
                ("channels", "the MCP3201 has one input: give channels = [0]"),
            ],
            id="single",
        ),
        pytest.param(
            {"labels": ("A", "B")}, [("labels", "has 2 labels for 1 channels")], id="labels"
        ),
        pytest.param(
            {"clock_pin": "GPIO21", "select_pin": "GPIO16"},
            [("clock_pin", "software SPI needs all four pins: mosi_pin, miso_pin missing")],
            id="spi-pins",
        ),
    ],
)
def test_mcp_options_problems(options, problems):
    assert MCP3xxxOptions(**options).problems() == problems


def test_load_average_minutes():
    assert LoadAverageOptions(minutes=15).problems() == []
    assert LoadAverageOptions(minutes=10).problems() == [
        ("minutes", "is 10: the load average is over 1, 5 or 15")
    ]


def test_every_chip_option_has_its_channel_count():
    chips = get_args(get_type_hints(MCP3xxxOptions)["chip"])
    assert sorted(chips) == sorted(MCP_CHANNELS)
    assert (MCP_CHANNELS["MCP3302"], MCP_CHANNELS["MCP3304"]) == (4, 8)


@pytest.mark.parametrize("chip", sorted(MCP_CHANNELS))
def test_every_chip_reads_its_last_channel(gpio, chip):
    channel = MCP_CHANNELS[chip] - 1
    (sensor,) = gpio.create_mcp3xxx(chip, [channel], max_voltage=3.3)
    assert sensor.simulate is not None
    sensor.simulate(2.475)
    assert sensor.read() == pytest.approx(0.75, abs=0.002)


# -- a simulated reading shows at once, not at the next interval ----------------------


async def test_a_simulated_reading_shows_at_once_not_at_the_next_interval(gpio, serve):
    opts = CPUTemperatureOptions(interval=60)
    driver = CPUTemperatureDriver(make_context(gpio, "Pi", opts))
    control = controlled(gpio)
    client = await serve(driver, control)
    await client.expect(lambda e: isinstance(e, DefNumberVector) and e.name == "CPU_TEMPERATURE")
    await simulate(client, control, "Pi", "TEMPERATURE", 71.5)
    await client.expect(reads("Pi", "CPU_TEMPERATURE", "TEMPERATURE", 71.5, 0), timeout=2)


async def test_a_smoothed_sensor_shows_a_simulated_reading_once_its_samples_catch_up(gpio, serve):
    opts = DistanceSensorOptions(
        echo="GPIO24", trigger="GPIO23", max_distance=2.0, queue_len=3, interval=60
    )
    driver = DistanceSensorDriver(make_context(gpio, "Dust cap", opts))
    control = controlled(gpio)
    client = await serve(driver, control)
    await client.expect(lambda e: isinstance(e, DefNumberVector) and e.name == "DISTANCE")
    await simulate(client, control, "Dust cap", "DISTANCE", 0.4)
    # Its median of samples moves over within a few samples: seconds, not the minute.
    await client.expect(reads("Dust cap", "DISTANCE", "DISTANCE", 0.4, 0.1), timeout=8)
