"""Starting the pin factory: only when a device needs pins, and a cause a user can act on.

A fresh install (no devices) serves on any machine; a device that needs a pin
library which cannot start makes ``pi-indi serve`` exit 69 (EX_UNAVAILABLE),
which the unit does not restart on, with one line saying why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import grp
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import gpiozero
import pytest

from pi_indi import cli
from pi_indi.appliance import Appliance
from pi_indi.config import load_config
from pi_indi.errors import HardwareError
from pi_indi.protocol import GetProperties, PingReply, PingRequest
from pi_indi_drivers import _gpio
from pi_indi_drivers._gpio import Gpio
from tests.helpers import Client, free_port
from tests.interop.peers import ROOT, RawClient, wait_for_port

SHIPPED = ROOT / "deploy" / "pi-indi.toml"
SERVE = (sys.executable, "-m", "pi_indi", "serve", "-c")

RELAY = """\
[server]
host = "127.0.0.1"
[gpio]
pin_factory = "{factory}"
[[device]]
driver = "relay"
name = "Relays"
pins = [17]
"""

SENSORS = """\
[server]
host = "127.0.0.1"
[gpio]
pin_factory = "lgpio"
[[device]]
driver = "load_average"
name = "Load"
[[device]]
driver = "disk_usage"
name = "Disk"
"""


class Refused(Exception):
    """What a pin library raises when it cannot start, in its own words."""


class LgpioError(Exception):
    """Like lgpio's error, whose text comes out quoted: its __str__ is repr(value)."""

    def __str__(self) -> str:
        return repr(self.args[0])


@pytest.fixture
def tried(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No pin factory can start; the names tried are recorded, in order."""
    names: list[str] = []

    def factory_class(name: str) -> Any:
        def start() -> Any:
            names.append(name)
            warnings.warn(f"{name} is falling back", RuntimeWarning, stacklevel=1)
            raise Refused(f"{name} refused")

        return start

    monkeypatch.setattr(_gpio, "_factory_class", factory_class)
    monkeypatch.setattr(_gpio, "_gpiochip_problem", lambda: None, raising=False)
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    return names


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty /dev: no GPIO chip."""
    folder = tmp_path / "dev"
    folder.mkdir()
    monkeypatch.setattr(_gpio, "DEV", str(folder), raising=False)
    monkeypatch.setattr(_gpio, "_local_revision", lambda: "d04170")
    return folder


def lgpio_cannot_open_gpiochip(monkeypatch: pytest.MonkeyPatch) -> None:
    def factory_class(name: str) -> Any:
        def start() -> Any:
            raise LgpioError("can not open gpiochip")

        return start

    monkeypatch.setattr(_gpio, "_factory_class", factory_class)


def open_error(gpio: Gpio) -> str:
    with pytest.raises(HardwareError) as caught:
        gpio.open()
    assert gpio.open_error is caught.value
    return str(caught.value)


# -- why a pin factory cannot start --


def test_no_gpiochip_at_all_says_not_a_pi_and_to_use_mock(
    dev: Path, monkeypatch: pytest.MonkeyPatch
):
    lgpio_cannot_open_gpiochip(monkeypatch)
    assert open_error(Gpio("lgpio")) == (
        f"cannot start the lgpio pin factory: there is no {dev}/gpiochip*: this is not a"
        " Raspberry Pi, or its GPIO driver is not loaded (to simulate the pins, use --mock"
        ' (pi-indi serve --mock) or pin_factory = "mock")'
    )


def test_a_gpiochip_of_another_group_says_to_apply_the_udev_rule(
    dev: Path, monkeypatch: pytest.MonkeyPatch
):
    lgpio_cannot_open_gpiochip(monkeypatch)
    (dev / "gpiochip0").touch()
    monkeypatch.setattr(_gpio, "_chip_access", lambda path: (False, "crw-------", "root"))
    message = open_error(Gpio("lgpio"))
    assert message == (
        f"cannot start the lgpio pin factory: permission denied on {dev}/gpiochip0"
        f" (crw-------, group root): pi-indi's udev rule gives {dev}/gpiochip* to group gpio,"
        " read-write; apply it: sudo udevadm trigger --subsystem-match=gpio --action=add"
    )
    assert "\n" not in message


def test_a_gpiochip_of_group_gpio_says_the_user_must_be_in_it(
    dev: Path, monkeypatch: pytest.MonkeyPatch
):
    lgpio_cannot_open_gpiochip(monkeypatch)
    (dev / "gpiochip0").touch()
    monkeypatch.setattr(_gpio, "_chip_access", lambda path: (False, "crw-rw----", "gpio"))
    monkeypatch.setattr(_gpio, "_user", lambda: "astro")
    assert open_error(Gpio("lgpio")) == (
        f"cannot start the lgpio pin factory: permission denied on {dev}/gpiochip0"
        " (crw-rw----, group gpio): user astro is not in group gpio (the service is, by"
        " SupplementaryGroups=gpio); to run it by hand: sudo usermod -aG gpio astro, then"
        " log in again"
    )


def test_a_pi_5_chip_is_the_one_looked_at(dev: Path, monkeypatch: pytest.MonkeyPatch):
    lgpio_cannot_open_gpiochip(monkeypatch)
    for n in (0, 4):
        (dev / f"gpiochip{n}").touch()
    looked_at: list[str] = []

    def access(path: str) -> tuple[bool, str, str]:
        looked_at.append(path)
        return False, "crw-rw----", "gpio"

    monkeypatch.setattr(_gpio, "_chip_access", access)
    assert f"permission denied on {dev}/gpiochip4 " in open_error(Gpio("lgpio"))
    assert looked_at == [f"{dev}/gpiochip4"]


def test_an_openable_gpiochip_leaves_lgpios_own_words(dev: Path, monkeypatch: pytest.MonkeyPatch):
    lgpio_cannot_open_gpiochip(monkeypatch)
    (dev / "gpiochip0").touch()
    monkeypatch.setattr(_gpio, "_chip_access", lambda path: (True, "crw-rw----", "gpio"))
    assert open_error(Gpio("lgpio")) == (
        "cannot start the lgpio pin factory: can not open gpiochip"
    )


def test_chip_access_reports_mode_and_group(tmp_path: Path):
    chip = tmp_path / "gpiochip0"
    chip.touch()
    chip.chmod(0o660)
    _, mode, group = _gpio._chip_access(str(chip))
    assert mode == "-rw-rw----"
    assert group == grp.getgrgid(os.getgid()).gr_name


def test_lgpio_not_installed_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delitem(sys.modules, "gpiozero.pins.lgpio", raising=False)
    monkeypatch.setitem(sys.modules, "lgpio", None)  # import lgpio fails as when missing
    assert open_error(Gpio("lgpio")) == (
        "cannot start the lgpio pin factory: the lgpio module is not installed:"
        " sudo apt install python3-lgpio, or pip install lgpio in pi-indi's venv"
    )


def test_auto_lists_each_factory_with_its_reason_on_a_line(tried: list[str]):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of the libraries' warnings get out
        message = open_error(Gpio("auto"))
    assert tried == ["lgpio", "rpigpio", "pigpio", "native"]
    assert message.splitlines() == [
        "no pin factory could start here:",
        "  lgpio: lgpio refused",
        "  rpigpio: rpigpio refused",
        "  pigpio: pigpio refused",
        "  native: native refused",
    ]


def test_auto_takes_the_first_that_starts(monkeypatch: pytest.MonkeyPatch, tried: list[str]):
    started = object()
    failing = _gpio._factory_class

    def factory_class(name: str) -> Any:
        return (lambda: started) if name == "pigpio" else failing(name)

    monkeypatch.setattr(_gpio, "_factory_class", factory_class)
    gpio = Gpio("auto")
    gpio.open()
    assert gpio.factory is started
    assert gpio.open_error is None
    assert tried == ["lgpio", "rpigpio"]


def test_auto_says_which_factories_it_fell_back_from(
    monkeypatch: pytest.MonkeyPatch, tried: list[str], caplog: pytest.LogCaptureFixture
):
    started = object()
    failing = _gpio._factory_class

    def factory_class(name: str) -> Any:
        return (lambda: started) if name == "pigpio" else failing(name)

    monkeypatch.setattr(_gpio, "_factory_class", factory_class)
    with caplog.at_level("WARNING", logger="pi_indi_drivers._gpio"):
        Gpio("auto").open()
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.getMessage().splitlines() == [
        "pin factory pigpio, after these could not start:",
        "  lgpio: lgpio refused",
        "  rpigpio: rpigpio refused",
    ]


def test_a_pc_with_a_gpiochip_is_told_it_is_not_a_pi(monkeypatch: pytest.MonkeyPatch):
    # gpiozero stops at the board revision before opening a chip: a chip the
    # process may not open is not the reason, and udev advice would mislead.
    monkeypatch.setattr(_gpio, "_gpiochip_problem", lambda: "permission denied on gpiochip0")
    why = _gpio._why_not_started("lgpio", gpiozero.PinUnknownPi("no revision"))
    assert why.startswith("not a Raspberry Pi")


def test_auto_honours_gpiozero_pin_factory(monkeypatch: pytest.MonkeyPatch, tried: list[str]):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "NATIVE")
    assert open_error(Gpio("auto")).splitlines() == [
        "no pin factory could start here:",
        "  native: native refused",
    ]


# -- a factory only for devices that use pins --


def test_system_sensors_need_no_pin_factory(tried: list[str], tmp_path: Path):
    gpio = Gpio("lgpio")
    temperature = tmp_path / "temp"
    temperature.write_text("42500\n")
    try:
        sensor = gpio.create_cpu_temperature(str(temperature))
        assert sensor.read() == 42.5
        assert gpio.create_disk_usage(str(tmp_path)).read() >= 0
    finally:
        gpio.close()
    assert tried == []
    assert gpio.open_error is None


def served_config(path: Path) -> Any:
    config = load_config(path)
    return dataclasses.replace(
        config, server=dataclasses.replace(config.server, host="127.0.0.1", port=0)
    )


async def test_the_shipped_config_serves_where_no_pin_factory_can_start(tried: list[str]):
    appliance = Appliance(served_config(SHIPPED), hardware=Gpio("auto"))
    appliance.build()
    task = asyncio.create_task(appliance.run())
    try:
        async with asyncio.timeout(10):
            while appliance.server is None or not appliance.server.listening.is_set():
                await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", appliance.server.port)
        client = Client(reader, writer)
        await client.send(GetProperties(version="1.7"))
        await client.send(PingRequest(uid="alive"))
        await client.expect(lambda e: isinstance(e, PingReply) and e.uid == "alive")
        client.writer.close()
    finally:
        appliance.shutdown()
        await task
    assert tried == []


def test_a_config_of_system_sensors_builds_where_no_pin_factory_can_start(
    tried: list[str], tmp_path: Path
):
    path = tmp_path / "sensors.toml"
    path.write_text(SENSORS)
    appliance = Appliance(served_config(path), hardware=Gpio("lgpio"))
    try:
        appliance.build()
        assert [s.status for s in appliance.statuses] == ["running", "running"]
    finally:
        appliance.close()
    assert tried == []


def test_a_device_on_a_factory_that_cannot_start_fails_the_build(tried: list[str], tmp_path: Path):
    path = tmp_path / "relay.toml"
    path.write_text(
        SENSORS
        + '[[device]]\ndriver = "relay"\nname = "Roof"\npins = [17]\n'
        + '[[device]]\ndriver = "led"\nname = "Lamp"\npins = [27]\n'
    )
    appliance = Appliance(served_config(path), hardware=Gpio("lgpio"))
    with pytest.raises(HardwareError, match="cannot start the lgpio pin factory: lgpio refused"):
        appliance.build()
    appliance.close()
    assert tried == ["lgpio"]  # once, not once per device


def test_serve_exits_69_with_one_line_when_the_pin_factory_cannot_start(
    dev: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    lgpio_cannot_open_gpiochip(monkeypatch)
    (dev / "gpiochip0").touch()
    monkeypatch.setattr(_gpio, "_chip_access", lambda path: (False, "crw-------", "root"))
    monkeypatch.setattr("pi_indi._systemd.configure_logging", lambda level: None)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    path = tmp_path / "relay.toml"
    path.write_text(RELAY.format(factory="lgpio"))
    status = cli.main(["serve", "--config", str(path), "--port", str(free_port())])
    assert status == cli.EX_UNAVAILABLE == 69
    assert capsys.readouterr().err.splitlines() == [
        f"pi-indi: cannot start the lgpio pin factory: permission denied on {dev}/gpiochip0"
        f" (crw-------, group root): pi-indi's udev rule gives {dev}/gpiochip* to group gpio,"
        " read-write; apply it: sudo udevadm trigger --subsystem-match=gpio --action=add"
    ]


# -- the command itself, as the unit runs it --


@pytest.fixture
def no_pin_library() -> dict[str, str]:
    """An environment where no pin factory starts, on any machine (a Pi included)."""
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "none-here"}
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "RUNTIME_DIRECTORY"):
        env.pop(name, None)
    return env


def test_serve_of_the_shipped_config_listens_where_no_pin_factory_can_start(
    no_pin_library: dict[str, str],
):
    port = free_port()
    proc = subprocess.Popen(
        [*SERVE, str(SHIPPED), "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=no_pin_library,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, proc)
        client = RawClient(port)
        client.send(GetProperties(version="1.7"))
        client.send(PingRequest(uid="alive"))
        client.wait_for(lambda e: isinstance(e, PingReply))
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()


def test_serve_of_a_device_exits_69_where_no_pin_factory_can_start(
    no_pin_library: dict[str, str], tmp_path: Path
):
    path = tmp_path / "relay.toml"
    path.write_text(RELAY.format(factory="auto"))
    out = subprocess.run(
        [*SERVE, str(path), "--port", str(free_port())],
        cwd=ROOT,
        env=no_pin_library,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 69, out.stderr
    assert (
        "pi-indi: no pin factory could start here:\n"
        "  none-here: gpiozero has no pin factory 'none-here'\n"
    ) in out.stderr
