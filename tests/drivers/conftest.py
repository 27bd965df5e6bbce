"""Bundled drivers on gpiozero's mock pin factory, served by a real IPyServer on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pi_indi.config import DeviceConfig, parse_config
from pi_indi.driver import IPyDriver
from pi_indi.protocol import GetProperties, NewNumberVector, SetNumberVector
from pi_indi.registry import DriverContext, simulation_driver
from pi_indi_drivers._gpio import Gpio
from pi_indi_drivers.mock_control import DEVICE_NAME, MockControlDriver
from tests.helpers import Client


@pytest.fixture
def gpio() -> Iterator[Gpio]:
    """The gpio back end on a fresh mock pin factory (PWM-capable pins), closed afterwards."""
    backend = Gpio("mock")
    backend.open()
    try:
        yield backend
    finally:
        backend.close()


@dataclass
class SavedStates:
    """What drivers asked to persist, by device name."""

    states: dict[str, dict[str, Any]] = field(default_factory=dict)


def make_context(
    gpio: Gpio,
    devicename: str,
    options: Any,
    saved: Mapping[str, Any] | None = None,
    store: SavedStates | None = None,
) -> DriverContext:
    """A DriverContext as the appliance builds it; saved states go to *store*."""

    def save(state: Mapping[str, Any]) -> None:
        if store is not None:
            store.states[devicename] = dict(state)

    return DriverContext(
        devicename=devicename, options=options, hardware=gpio, saved_state=saved, save_state=save
    )


@pytest.fixture
def serve(start: Any) -> Any:
    """``await serve(*drivers)`` runs an IPyServer (the ``start`` fixture) and returns a Client.

    The client is connected and has already sent ``getProperties``; the
    server and every client are stopped when the test ends.
    """

    async def serve(*drivers: IPyDriver) -> Client:
        server = await start(*drivers)
        client: Client = await server.connect()
        await client.send(GetProperties(version="1.7"))
        return client

    return serve


def update(kind: Any, name: str, state: Any = None) -> Callable[[Any], bool]:
    """A matcher for ``client.expect``: an event of *kind* for vector *name* (in *state*)."""

    def match(e: Any) -> bool:
        return type(e) is kind and e.name == name and (state is None or e.state == state)

    return match


def documented_devices(page: str) -> list[DeviceConfig]:
    """The [[device]] tables of the TOML examples in docs/drivers/<page>.md, checked."""
    text = (Path(__file__).parents[2] / "docs" / "drivers" / f"{page}.md").read_text()
    devices: list[DeviceConfig] = []
    for block in re.findall(r"```toml\n(.*?)```", text, re.DOTALL):
        config = parse_config('[gpio]\npin_factory = "mock"\n' + block)
        devices += config.devices
    return devices


def controlled(gpio: Any) -> MockControlDriver:
    """The Mock GPIO device of *gpio* (a mock back end), as the appliance builds it."""
    control = simulation_driver(gpio)
    assert isinstance(control, MockControlDriver)
    return control


async def simulate(client: Any, control: MockControlDriver, device: str, name: str, value: float):
    """Set a simulated reading from the client, as a person would in a GUI."""
    vector = control.reading_vector(device, name)
    await client.send(
        NewNumberVector(device=DEVICE_NAME, name=vector, values={"VALUE": str(value)})
    )
    # The reading it causes may come before this answer: it is kept for the test.
    answer = await client.expect(
        lambda e: isinstance(e, SetNumberVector) and e.name == vector, keep_others=True
    )
    assert answer.state == "Ok"
    assert float(answer.values["VALUE"]) == value
