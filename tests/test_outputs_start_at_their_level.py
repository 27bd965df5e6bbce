"""An output starts at the level its device wants: no glitch as the service starts or reloads.

gpiozero's LGPIOPin claims a line as an input as soon as the pin object is
made, then an output device claims it as an output at level 0 and only then
writes its initial state. So an active-low relay meant to start off (line
high) was on for a moment at every start, and a line the kernel kept driven
since the last stop floated. On lgpio, pi-indi claims an output line once,
as an output, at its level; inputs are claimed exactly as gpiozero does.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import gpiozero
import pytest
from gpiozero.pins.lgpio import LGPIOFactory

from pi_indi.appliance import Appliance
from pi_indi.config import Config, parse_config
from pi_indi.registry import DriverStatus
from pi_indi_drivers._gpio import Gpio
from tests import lgpio_fake
from tests.lgpio_fake import FakeLgpio

SET_PULL_NONE = 128
SET_PULL_UP = 32
SET_PULL_DOWN = 64


@pytest.fixture
def fake_lgpio(monkeypatch: pytest.MonkeyPatch) -> FakeLgpio:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    return lgpio_fake.install(monkeypatch)


def config(
    devices: str, *, tmp_path: Path, restore: bool = False, factory: str = "lgpio"
) -> Config:
    text = f"""\
[server]
host = "127.0.0.1"
[gpio]
pin_factory = "{factory}"
[state]
restore = {str(restore).lower()}
directory = "{tmp_path}"
{devices}"""
    parsed = parse_config(text)
    return dataclasses.replace(parsed, server=dataclasses.replace(parsed.server, port=0))


def relay(*, active_high: bool, label: str = "Roof") -> str:
    return f"""\
[[device]]
driver = "relay"
name = "Roof power"
pins = [17]
labels = ["{label}"]
active_high = {str(active_high).lower()}
"""


def built(cfg: Config) -> tuple[Appliance, Gpio]:
    gpio = Gpio(cfg.gpio.pin_factory)
    appliance = Appliance(cfg, hardware=gpio)
    appliance.build()
    assert all(s.status is DriverStatus.RUNNING for s in appliance.statuses), appliance.describe()
    return appliance, gpio


# -- outputs --


def test_an_active_low_relay_that_starts_off_never_drives_its_line_low(
    fake_lgpio: FakeLgpio, tmp_path: Path
):
    appliance, _ = built(config(relay(active_high=False), tmp_path=tmp_path))
    appliance.close()
    line = fake_lgpio.for_line(17)
    assert line[0] == ("gpio_claim_output", 17, 1, 0), line  # claimed high, at once
    assert 0 not in fake_lgpio.drives(17), line
    assert not [call for call in line if call[0] == "gpio_claim_input"], line
    assert fake_lgpio.levels[17] == 1


def test_an_active_high_led_that_starts_off_never_drives_its_line_high(
    fake_lgpio: FakeLgpio, tmp_path: Path
):
    led = '[[device]]\ndriver = "led"\nname = "Lamp"\npins = [27]\n'
    appliance, _ = built(config(led, tmp_path=tmp_path))
    appliance.close()
    line = fake_lgpio.for_line(27)
    assert line[0] == ("gpio_claim_output", 27, 0, 0), line
    assert 1 not in fake_lgpio.drives(27), line
    assert not [call for call in line if call[0] == "gpio_claim_input"], line


@pytest.mark.parametrize(
    ("active_high", "on_level"),
    [pytest.param(True, 1, id="active-high"), pytest.param(False, 0, id="active-low")],
)
def test_a_relay_restored_on_is_claimed_at_its_on_level(
    fake_lgpio: FakeLgpio, tmp_path: Path, active_high: bool, on_level: int
):
    (tmp_path / "state.toml").write_text('[ "Roof power".GPIO17 ]\nmode = "on"\n')
    appliance, _ = built(config(relay(active_high=active_high), tmp_path=tmp_path, restore=True))
    try:
        line = fake_lgpio.for_line(17)
        assert line[0] == ("gpio_claim_output", 17, on_level, 0), line
        assert fake_lgpio.drives(17) == [on_level], line
    finally:
        appliance.close()


@pytest.mark.parametrize(
    ("options", "level", "duty"),
    [
        pytest.param("active_high = false\n", 1, 100, id="active-low-off"),
        pytest.param("initial_duty = 100\n", 1, 100, id="active-high-full"),
        pytest.param("initial_duty = 40\n", 0, 40, id="active-high-40"),
    ],
)
def test_a_pwm_output_starts_at_its_initial_duty(
    fake_lgpio: FakeLgpio, tmp_path: Path, options: str, level: int, duty: int
):
    pwm = f'[[device]]\ndriver = "pwm_output"\nname = "Dew heater"\npin = 18\n{options}'
    appliance, _ = built(config(pwm, tmp_path=tmp_path))
    try:
        line = fake_lgpio.for_line(18)
        # Claimed at the level nearest its duty, then PWM at that duty (never first at 0).
        assert [call[:3] for call in line] == [
            ("gpio_claim_output", 18, level),
            ("tx_pwm", 18, 100),
        ]
        assert line[1][3] == duty
    finally:
        appliance.close()


OUTPUT_DEVICES = [
    pytest.param('driver = "buzzer"\npins = [5]\n', {5: 0}, id="buzzer"),
    pytest.param(
        'driver = "pwm_led"\npin = 5\nactive_high = false\n', {5: 1}, id="pwm-led-active-low"
    ),
    pytest.param(
        'driver = "rgb_led"\nred = 5\ngreen = 6\nblue = 13\nactive_high = false\n',
        {5: 1, 6: 1, 13: 1},
        id="rgb-led-active-low",
    ),
    pytest.param(
        'driver = "rgb_led"\nred = 5\ngreen = 6\nblue = 13\npwm = false\n',
        {5: 0, 6: 0, 13: 0},
        id="rgb-led-on-off",
    ),
    pytest.param(
        'driver = "motor"\nforward = 5\nbackward = 6\nenable = 13\n',
        {5: 0, 6: 0, 13: 1},
        id="motor",
    ),
]


@pytest.mark.parametrize(("table", "levels"), OUTPUT_DEVICES)
def test_every_output_line_is_claimed_once_at_its_level(
    fake_lgpio: FakeLgpio, tmp_path: Path, table: str, levels: dict[int, int]
):
    appliance, _ = built(config(f'[[device]]\nname = "Out"\n{table}', tmp_path=tmp_path))
    try:
        for line, level in levels.items():
            calls = fake_lgpio.for_line(line)
            assert calls[0][:3] == ("gpio_claim_output", line, level), calls
            assert set(fake_lgpio.drives(line)) == {level}, calls
            assert not [call for call in calls if call[0] == "gpio_claim_input"], calls
    finally:
        appliance.close()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("table", id="its-table-changed"),
        pytest.param("state", id="every-device-rebuilt"),
    ],
)
async def test_a_reload_that_rebuilds_an_active_low_relay_never_switches_it_on(
    fake_lgpio: FakeLgpio, tmp_path: Path, change: str
):
    appliance, _ = built(config(relay(active_high=False), tmp_path=tmp_path))
    try:
        before = len(fake_lgpio.for_line(17))
        if change == "table":
            new = config(relay(active_high=False, label="Roof 2"), tmp_path=tmp_path)
        else:
            (tmp_path / "other").mkdir()
            new = config(relay(active_high=False), tmp_path=tmp_path / "other")
        await appliance.apply(new)
        assert appliance.running["Roof power"]
        rebuilt = fake_lgpio.for_line(17)[before:]
        claims = [call for call in rebuilt if call[0] == "gpio_claim_output"]
        assert claims == [("gpio_claim_output", 17, 1, 0)], rebuilt
        assert 0 not in fake_lgpio.drives(17), rebuilt
    finally:
        appliance.close()


def test_an_output_with_no_initial_value_keeps_the_level_found(fake_lgpio: FakeLgpio):
    # gpiozero: "the device will be left in whatever state the pin is found in".
    fake_lgpio.outside[22] = 1
    gpio = Gpio("lgpio")
    try:
        device = gpio.create("OutputDevice", pin="GPIO22", initial_value=None)
        assert fake_lgpio.modes[22] == "output"
        assert fake_lgpio.levels[22] == 1
        assert fake_lgpio.drives(22) == [1]
        device.off()
        assert fake_lgpio.levels[22] == 0
    finally:
        gpio.close()


def test_a_released_output_is_still_an_input_until_the_next_device(fake_lgpio: FakeLgpio):
    gpio = Gpio("lgpio")
    try:
        device = gpio.create("LED", pin="GPIO5", active_high=False)
        gpio.release(device)
        assert fake_lgpio.modes[5] == "input"
        gpio.create("LED", pin="GPIO5", active_high=False)
        assert fake_lgpio.drives(5) == [1, 1]  # claimed high, twice: never low
    finally:
        gpio.close()


def test_an_output_built_again_on_a_line_released_held_gets_its_level(fake_lgpio: FakeLgpio):
    # DISCONNECT releases a relay holding its safe level (off); CONNECT builds
    # it again, restored on. lgpio keeps a line the handle still holds as an
    # output at its level: the new device must set it.
    gpio = Gpio("lgpio")
    try:
        device = gpio.create("OutputDevice", pin="GPIO27", initial_value=False)
        with gpio.holding():
            gpio.release(device)
        assert fake_lgpio.modes[27] == "output"
        assert fake_lgpio.levels[27] == 0
        gpio.create("OutputDevice", pin="GPIO27", initial_value=True)
        assert fake_lgpio.levels[27] == 1
    finally:
        gpio.close()


def test_the_pin_keeps_every_attribute_of_gpiozeros_lgpiopin(fake_lgpio: FakeLgpio):
    # Its __init__ stands in for LGPIOPin's (which claims the line).
    stock = LGPIOFactory()
    try:
        expected = set(vars(stock.pin("GPIO6")))
    finally:
        stock.close()
    gpio = Gpio("lgpio")
    gpio.open()
    try:
        got = set(vars(gpio.factory.pin("GPIO6")))
    finally:
        gpio.close()
    assert got - expected == {"_claimed", "_output_pending", "_claimed_as_output"}
    assert expected <= got


def test_a_pin_never_claimed_is_left_alone(fake_lgpio: FakeLgpio):
    gpio = Gpio("lgpio")
    gpio.open()
    gpio.factory.pin("GPIO6")  # made, never used by a device
    gpio.close()
    assert fake_lgpio.for_line(6) == []


# -- inputs: exactly as gpiozero's own LGPIOPin does them --


def _input_calls(factory: Any, fake: FakeLgpio, make: Any) -> list[tuple[Any, ...]]:
    start = len(fake.calls)
    device = make(factory)
    device.when_activated = lambda: None  # edge detection: an alert claim
    device.close()
    return [call for call in fake.calls[start:] if len(call) > 1 and call[1] == 26]


INPUTS = [
    pytest.param("Button", {}, id="button-pulled-up"),
    pytest.param("Button", {"pull_up": False, "bounce_time": 0.01}, id="button-pulled-down"),
    pytest.param("DigitalInputDevice", {"pull_up": None, "active_state": True}, id="floating"),
    pytest.param("MotionSensor", {"pull_up": True}, id="smoothed"),
]


@pytest.mark.parametrize(("class_name", "kwargs"), INPUTS)
def test_an_input_is_claimed_as_gpiozeros_lgpiopin_claims_it(
    fake_lgpio: FakeLgpio, class_name: str, kwargs: dict[str, Any]
):
    def make(factory: Any) -> Any:
        return getattr(gpiozero, class_name)("GPIO26", pin_factory=factory, **kwargs)

    stock = LGPIOFactory()
    try:
        expected = _input_calls(stock, fake_lgpio, make)
    finally:
        stock.close()
    gpio = Gpio("lgpio")
    try:
        gpio.open()
        got = _input_calls(
            gpio.factory,
            fake_lgpio,
            lambda factory: gpio.create(class_name, pin="GPIO26", **kwargs),
        )
    finally:
        gpio.close()
    assert got == expected
    assert [call[0] for call in got][:2] == ["gpio_claim_input", "gpio_claim_input"]


def test_a_button_is_claimed_with_its_pull_and_watched(fake_lgpio: FakeLgpio, tmp_path: Path):
    button = '[[device]]\ndriver = "button"\nname = "Park switch"\npins = [26]\n'
    appliance, _ = built(config(button, tmp_path=tmp_path))
    try:
        line = fake_lgpio.for_line(26)
        assert ("gpio_claim_input", 26, SET_PULL_UP) in line, line
        assert fake_lgpio.modes[26] == "alert"
        assert fake_lgpio.flags[26] & SET_PULL_UP
        assert not [call for call in line if call[0] == "gpio_claim_output"], line
    finally:
        appliance.close()
