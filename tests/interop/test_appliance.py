"""`pi-indi serve --mock` with the example config, driven by indilib's tools and indipyclient."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port
from tests.interop import peers
from tests.interop.peers import ROOT, Peer, wait_until

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("indiserver") is None, reason="indi-bin is not installed"),
]

EXAMPLE = ROOT / "deploy" / "pi-indi.example.toml"
EXAMPLE_DEVICES = {
    "Relays",
    "Status LED",
    "Buzzer",
    "Panel light",
    "Guide scope heater",
    "Observatory light",
    "Mask arm",
    "Dust cap",
    "Roof motor",
    "Roof switch",
    "Rain sensor",
    "Observatory PIR",
    "Dome home mark",
    "Cap distance",
    "Sky brightness",
    "Analog inputs",
    "Pi temperature",
    "Pi load",
    "Pi disk",
    "Outside",
    "12 V supply",
    "Lens temperature",
    "Weather",
    "Lens heater",
    "Mock GPIO",
}


@contextlib.contextmanager
def appliance(tmp_path: Path, *args: str) -> Iterator[Peer]:
    port = free_port()
    cmd = [sys.executable, "-m", "pi_indi", "serve", "--mock", "--port", str(port), *args]
    env = {"STATE_DIRECTORY": str(tmp_path / "state")}
    with peers.running(cmd, port, tmp_path / "pi-indi.log", env) as peer:
        yield peer


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    with appliance(tmp_path_factory.mktemp("example"), "--config", str(EXAMPLE)) as peer:
        yield peer


def test_every_example_device_is_listed(example: Peer):
    props = example.getprop("*.*.*", timeout=3)
    assert {key.split(".", 1)[0] for key in props} == EXAMPLE_DEVICES
    assert props["Relays.DIGITAL_OUTPUT_1.OFF"] == "On"
    assert props["Relays.DIGITAL_OUTPUT_LABELS.DIGITAL_OUTPUT_1"] == "Mount power"
    assert props["Roof switch.DRIVER_INFO.DRIVER_INTERFACE"] == str((1 << 15) | (1 << 17))


def test_indi_setprop_switches_a_relay(example: Peer):
    example.setprop("Relays.DIGITAL_OUTPUT_2.ON=On")
    wait_until(lambda: example.value("Relays.DIGITAL_OUTPUT_2.ON") == "On")
    assert example.value("Relays.DIGITAL_OUTPUT_2.OFF") == "Off"
    example.setprop("Relays.DIGITAL_OUTPUT_2.OFF=On")
    wait_until(lambda: example.value("Relays.DIGITAL_OUTPUT_2.ON") == "Off")


def test_indi_setprop_sets_a_pwm_duty(example: Peer):
    example.setprop("Guide scope heater.PWM_OUTPUT_1.DUTY_CYCLE=40")
    wait_until(lambda: example.value("Guide scope heater.PWM_OUTPUT_1.DUTY_CYCLE") == "40")


def test_a_pressed_mock_button_reaches_indi_eval(example: Peer):
    # The button is pulled up: driving its pin low presses it.
    example.eval_waits_until_true(
        '"Roof switch.DIGITAL_INPUT_1.ON"==1',
        lambda: example.setprop("Mock GPIO.PIN_GPIO26.LOW=On"),
    )
    wait_until(lambda: example.value("Roof switch.INPUT_COUNT.INPUT_1") == "1")
    example.setprop("Mock GPIO.PIN_GPIO26.HIGH=On")
    wait_until(lambda: example.value("Roof switch.DIGITAL_INPUT_1.ON") == "Off")


def test_a_simulated_reading_appears_as_a_number(example: Peer):
    controls = example.getprop("Mock GPIO.*.VALUE")
    (spec,) = [key for key in controls if key.startswith("Mock GPIO.PI_TEMPERATURE_")]
    example.setprop(f"{spec}=61.5")
    wait_until(lambda: example.value("Pi temperature.CPU_TEMPERATURE.TEMPERATURE") == "61.5", 10)


def test_out_of_range_request_is_refused(example: Peer):
    example.setprop("Guide scope heater.PWM_OUTPUT_1.DUTY_CYCLE=150")
    wait_until(lambda: example.value("Guide scope heater.PWM_OUTPUT_1._STATE") == "Alert")
    assert example.value("Guide scope heater.PWM_OUTPUT_1.DUTY_CYCLE") != "150"


def test_indipyclient_lists_devices_and_switches_a_relay(example: Peer):
    indipyclient = pytest.importorskip("indipyclient")

    async def session() -> Any:
        client = indipyclient.IPyClient(indihost="127.0.0.1", indiport=example.port)
        task = asyncio.create_task(client.asyncrun())
        try:
            async with asyncio.timeout(15):
                while (
                    not set(client) >= EXAMPLE_DEVICES
                    or "DIGITAL_OUTPUT_1" not in client["Status LED"]
                ):
                    await asyncio.sleep(0.05)
                devices = set(client)
                await client.send_newVector(
                    "Status LED", "DIGITAL_OUTPUT_1", members={"ON": "On", "OFF": "Off"}
                )
                while client["Status LED"]["DIGITAL_OUTPUT_1"]["ON"] != "On":
                    await asyncio.sleep(0.05)
                return devices, dict(client["Status LED"]["DIGITAL_OUTPUT_1"])
        finally:
            client.shutdown()
            await task

    devices, switch = asyncio.run(session())
    assert devices == EXAMPLE_DEVICES
    assert switch == {"OFF": "Off", "ON": "On"}


def test_the_bundled_example_is_served_without_a_config_file(tmp_path: Path):
    if Path("/etc/pi-indi.toml").exists():
        pytest.skip("/etc/pi-indi.toml exists here, so it would be served")
    with appliance(tmp_path) as peer:
        props = peer.getprop("*.DRIVER_INFO.DRIVER_NAME", timeout=3)
        assert {key.split(".", 1)[0] for key in props} == EXAMPLE_DEVICES
        assert "serving the bundled example config" in peer.log_text()


def test_a_device_that_fails_to_start_is_left_out_and_the_rest_served(tmp_path: Path):
    # GPIO8-11 are the MCP3008's hardware SPI pins; a relay on GPIO8 as well
    # makes one of the two fail to start when its pins are claimed.
    config = tmp_path / "clash.toml"
    config.write_text(
        '[[device]]\ndriver = "mcp3xxx"\nname = "ADC"\nchannels = [0]\n'
        '[[device]]\ndriver = "relay"\nname = "Clash"\npins = [8]\n'
        '[[device]]\ndriver = "led"\nname = "Lamp"\npins = [17]\n'
        '[[device]]\ndriver = "tests.nowhere:Driver"\nname = "Ghost"\n'
    )
    with appliance(tmp_path, "--config", str(config)) as peer:
        props = peer.getprop("*.DRIVER_INFO.DRIVER_NAME", timeout=3)
        served = {key.split(".", 1)[0] for key in props}
        assert "Lamp" in served
        assert "Ghost" not in served
        assert len(served & {"ADC", "Clash"}) == 1
        peer.setprop("Lamp.DIGITAL_OUTPUT_1.ON=On")
        wait_until(lambda: peer.value("Lamp.DIGITAL_OUTPUT_1.ON") == "On")
        log = peer.log_text()
        assert "failed to start" in log
        assert "Ghost: driver 'tests.nowhere:Driver' failed to load: ModuleNotFoundError" in log


def test_every_device_is_connected_for_libindi_and_disconnects_on_request(example: Peer):
    # libindi's BaseDevice::isConnected() reads CONNECTION.CONNECT
    # (libs/indibase/defaultdevice.cpp); Universal ROR waits for it.
    props = example.getprop("*.CONNECTION.*", timeout=3)
    assert {key.split(".", 1)[0] for key in props if key.endswith(".CONNECT")} == EXAMPLE_DEVICES
    assert all(value == "On" for key, value in props.items() if key.endswith(".CONNECT"))
    example.setprop("Panel light.CONNECTION.DISCONNECT=On")
    wait_until(lambda: example.value("Panel light.CONNECTION.DISCONNECT") == "On")
    wait_until(lambda: "Panel light.DIGITAL_OUTPUT_1.ON" not in example.getprop("Panel light.*.*"))
    example.setprop("Panel light.CONNECTION.CONNECT=On")
    wait_until(lambda: example.value("Panel light.CONNECTION.CONNECT") == "On")
    wait_until(lambda: example.value("Panel light.DIGITAL_OUTPUT_1.OFF") is not None)
