"""A stop leaves every output driven at its safe state: pi-indi never makes it an input.

gpiozero's pin close turns a line back into an input (LGPIOPin claims it as
one, MockPin sets function "input", a PWM pin stops at 0). Once the service
has put its outputs in their safe states, what happens to a line after the
process lets go of it is the kernel's business, not pi-indi's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from typing import Any

import gpiozero.pins.local
import pytest

from pi_indi.appliance import Appliance
from pi_indi.config import Config, parse_config
from pi_indi.protocol import GetProperties, PingReply, PingRequest
from pi_indi_drivers._gpio import Gpio
from tests.helpers import Client


def relay_config(factory: str, safe_state: str, active_high: bool) -> Config:
    text = f"""\
[server]
host = "127.0.0.1"
[gpio]
pin_factory = "{factory}"
[[device]]
driver = "relay"
name = "Roof power"
pins = [17]
active_high = {str(active_high).lower()}
safe_state = "{safe_state}"
"""
    config = parse_config(text)
    return dataclasses.replace(config, server=dataclasses.replace(config.server, port=0))


async def run_and_stop(appliance: Appliance) -> None:
    """Serve, answer one client, then stop as SIGTERM does."""
    task = asyncio.create_task(appliance.run())
    async with asyncio.timeout(10):
        while appliance.server is None or not appliance.server.listening.is_set():
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", appliance.server.port)
        client = Client(reader, writer)
        await client.send(GetProperties(version="1.7"))
        await client.send(PingRequest(uid="up"))
        await client.expect(lambda e: isinstance(e, PingReply))
        appliance.shutdown()
        await task
    writer.close()


SAFE_LEVELS = [
    pytest.param("on", True, 1, id="on-active-high"),
    pytest.param("on", False, 0, id="on-active-low"),
    pytest.param("off", True, 0, id="off-active-high"),
    pytest.param("off", False, 1, id="off-active-low"),
]


@pytest.mark.parametrize(("safe_state", "active_high", "level"), SAFE_LEVELS)
async def test_a_relay_stays_an_output_at_its_safe_state_after_the_service_stops(
    safe_state: str, active_high: bool, level: int
):
    gpio = Gpio("mock")
    appliance = Appliance(relay_config("mock", safe_state, active_high), hardware=gpio)
    appliance.build()
    pin = gpio.factory.pin("GPIO17")
    await run_and_stop(appliance)
    assert gpio.factory is None  # the factory was closed
    assert pin.function == "output"
    assert pin.state == level


@pytest.mark.parametrize(("safe_state", "active_high", "level"), SAFE_LEVELS)
def test_closing_the_appliance_keeps_the_safe_state(safe_state: str, active_high: bool, level: int):
    # The path `pi-indi serve` takes when it gives up before serving.
    gpio = Gpio("mock")
    appliance = Appliance(relay_config("mock", safe_state, active_high), hardware=gpio)
    appliance.build()
    pin = gpio.factory.pin("GPIO17")
    appliance.close()
    assert (pin.function, pin.state) == ("output", level)


async def test_a_pwm_output_at_full_duty_stays_high_after_the_service_stops():
    config = parse_config("""\
[server]
host = "127.0.0.1"
[gpio]
pin_factory = "mock"
[[device]]
driver = "pwm_output"
name = "Dew heater"
pin = 18
initial_duty = 100
safe_state = "on"
""")
    config = dataclasses.replace(config, server=dataclasses.replace(config.server, port=0))
    gpio = Gpio("mock")
    appliance = Appliance(config, hardware=gpio)
    appliance.build()
    pin = gpio.factory.pin("GPIO18")
    await run_and_stop(appliance)
    assert (pin.function, pin.state) == ("output", 1)


async def test_a_server_that_cannot_listen_leaves_the_safe_state():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = relay_config("mock", "on", True)
        port = taken.getsockname()[1]
        config = dataclasses.replace(config, server=dataclasses.replace(config.server, port=port))
        gpio = Gpio("mock")
        appliance = Appliance(config, hardware=gpio)
        appliance.build()
        pin = gpio.factory.pin("GPIO17")
        with pytest.raises(OSError, match="address already in use"):
            await appliance.run()
    assert (pin.function, pin.state) == ("output", 1)


def test_releasing_a_device_while_running_still_frees_its_pin():
    # A reload gives pins back for the devices that replace them.
    gpio = Gpio("mock")
    gpio.open()
    try:
        relay = gpio.create("DigitalOutputDevice", pin="GPIO17", initial_value=True)
        pin = gpio.factory.pin("GPIO17")
        gpio.release(relay)
        assert pin.function == "input"
        button = gpio.create("Button", pin="GPIO17")
        assert not button.closed
    finally:
        gpio.close()


class _Callback:
    def cancel(self) -> None:
        pass


class FakeLgpio:
    """Just enough of lgpio for gpiozero's LGPIOFactory, recording what is done to each line."""

    GPIO_IS_OUT = 1 << 1

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.outputs: set[int] = set()
        self.levels: dict[int, int] = {}

    def gpiochip_open(self, chip: int) -> int:
        self.calls.append(("gpiochip_open", chip))
        return 5

    def gpiochip_close(self, handle: int) -> int:
        self.calls.append(("gpiochip_close",))
        return 0

    def gpio_claim_input(self, handle: int, gpio: int, flags: int = 0) -> int:
        self.calls.append(("gpio_claim_input", gpio))
        self.outputs.discard(gpio)
        return 0

    def gpio_claim_output(self, handle: int, gpio: int, level: int = 0, flags: int = 0) -> int:
        self.calls.append(("gpio_claim_output", gpio, level))
        self.outputs.add(gpio)
        self.levels[gpio] = level
        return 0

    def gpio_free(self, handle: int, gpio: int) -> int:
        self.calls.append(("gpio_free", gpio))
        return 0

    def gpio_get_mode(self, handle: int, gpio: int) -> int:
        return self.GPIO_IS_OUT if gpio in self.outputs else 0

    def gpio_read(self, handle: int, gpio: int) -> int:
        return self.levels.get(gpio, 0)

    def gpio_write(self, handle: int, gpio: int, level: int) -> int:
        self.calls.append(("gpio_write", gpio, int(level)))
        self.levels[gpio] = int(level)
        return 0

    def tx_pwm(self, handle: int, gpio: int, frequency: float, duty: float, *args: int) -> int:
        self.calls.append(("tx_pwm", gpio, frequency, duty))
        return 0

    def gpio_claim_alert(self, handle: int, gpio: int, edges: int, flags: int = 0) -> int:
        self.calls.append(("gpio_claim_alert", gpio))
        self.outputs.discard(gpio)
        return 0

    def gpio_set_debounce_micros(self, handle: int, gpio: int, micros: int) -> int:
        return 0

    def callback(self, handle: int, gpio: int, edges: int, func: Any) -> Any:
        return _Callback()

    def for_line(self, gpio: int) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if len(call) > 1 and call[1] == gpio]


@pytest.fixture
def fake_lgpio(monkeypatch: pytest.MonkeyPatch) -> FakeLgpio:
    lgpio = pytest.importorskip("lgpio")  # gpiozero's LGPIOFactory imports it
    fake = FakeLgpio()
    for name in dir(fake):
        if name.startswith(("gpio", "tx_", "callback")):
            monkeypatch.setattr(lgpio, name, getattr(fake, name))
    # A Raspberry Pi 5, whatever this machine is.
    monkeypatch.setattr(gpiozero.pins.local, "get_pi_revision", lambda: 0xD04170)
    return fake


@pytest.mark.parametrize(("safe_state", "active_high", "level"), SAFE_LEVELS)
async def test_on_lgpio_no_output_is_claimed_as_an_input_at_stop(
    fake_lgpio: FakeLgpio, safe_state: str, active_high: bool, level: int
):
    gpio = Gpio("lgpio")
    appliance = Appliance(relay_config("lgpio", safe_state, active_high), hardware=gpio)
    appliance.build()
    await run_and_stop(appliance)
    line = fake_lgpio.for_line(17)
    assert ("gpio_claim_input", 17) not in line[1:], line  # only when gpiozero first takes it
    assert fake_lgpio.levels[17] == level
    assert fake_lgpio.calls[-1] == ("gpiochip_close",)


def test_on_lgpio_an_input_is_still_released_as_one(fake_lgpio: FakeLgpio):
    gpio = Gpio("lgpio")
    gpio.open()
    gpio.create("Button", pin="GPIO26")
    gpio.close()
    assert fake_lgpio.calls[-1] == ("gpiochip_close",)
    assert fake_lgpio.for_line(26)[-1] == ("gpio_claim_input", 26)
