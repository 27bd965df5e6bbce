"""A reload that changes only a device's labels leaves its outputs as they are.

The device is made again (its definitions carry the new labels), but from
the state it had, and its pins are handed over still driven: no output
changes level, and no safe state in between.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pi_indi._systemd import ReloadStateFile
from pi_indi.appliance import Appliance
from pi_indi.config import Config, parse_config
from pi_indi.protocol import (
    DefSwitchVector,
    DefTextVector,
    GetProperties,
    NewSwitchVector,
    NewTextVector,
    SetSwitchVector,
    SetTextVector,
    SwitchState,
)
from pi_indi_drivers._gpio import Gpio
from tests.helpers import Client

CONFIG = """\
[server]
host = "127.0.0.1"
[gpio]
pin_factory = "mock"
[state]
directory = "{directory}"
[[device]]
driver = "relay"
name = "Relays"
pins = [17, 27]
labels = [{labels}]
{extra}
"""


class Service:
    def __init__(self, appliance: Appliance, gpio: Gpio, client: Client, tmp_path: Path) -> None:
        self.appliance = appliance
        self.gpio = gpio
        self.client = client
        self.tmp_path = tmp_path
        self.next = appliance.config

    def config(self, labels: str, extra: str = "") -> Config:
        parsed = parse_config(CONFIG.format(directory=self.tmp_path, labels=labels, extra=extra))
        return dataclasses.replace(parsed, server=dataclasses.replace(parsed.server, port=0))

    def pin(self, number: int) -> Any:
        return self.gpio.factory.pin(f"GPIO{number}")

    def driver(self) -> Any:
        return self.appliance.running["Relays"][1]

    async def reload(self, new: Config) -> None:
        self.next = new
        assert await self.appliance.reload() is True

    async def switch_on(self, output: int) -> None:
        await self.client.send(
            NewSwitchVector(
                device="Relays", name=f"DIGITAL_OUTPUT_{output}", values={"ON": SwitchState.ON}
            )
        )
        await self.client.expect(
            lambda e: (
                isinstance(e, SetSwitchVector)
                and e.name == f"DIGITAL_OUTPUT_{output}"
                and e.values.get("ON") == SwitchState.ON
            )
        )

    async def definition(self, name: str) -> Any:
        return await self.client.expect(
            lambda e: isinstance(e, (DefSwitchVector, DefTextVector)) and e.name == name
        )


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    gpio = Gpio("mock")
    holder: list[Service] = []
    parsed = parse_config(CONFIG.format(directory=tmp_path, labels='"Roof", "Fan"', extra=""))
    config = dataclasses.replace(parsed, server=dataclasses.replace(parsed.server, port=0))
    appliance = Appliance(
        config,
        hardware=gpio,
        reload_config=lambda: holder[0].next,
        reload_state=ReloadStateFile(str(tmp_path)),
    )
    appliance.build()
    server = appliance.make_server()
    task = asyncio.create_task(server.asyncrun())
    async with asyncio.timeout(5):
        await server.listening.wait()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    client = Client(reader, writer)
    await client.send(GetProperties(version="1.7"))
    svc = Service(appliance, gpio, client, tmp_path)
    holder.append(svc)
    try:
        yield svc
    finally:
        writer.close()
        appliance.shutdown()
        async with asyncio.timeout(10):
            await task
        appliance.close()


async def test_a_label_only_reload_keeps_a_relay_on(service: Service):
    await service.switch_on(1)
    relay, other = service.pin(17), service.pin(27)
    assert (relay.state, other.state) == (1, 0)
    relay.clear_states()
    other.clear_states()
    service.client.events.clear()

    await service.reload(service.config('"Dome", "Fan"'))

    # Never a different level, not even for a moment.
    assert [s.state for s in relay.states] == [True]
    assert [s.state for s in other.states] == [False]
    assert (service.pin(17).state, service.pin(27).state) == (1, 0)
    assert service.pin(17).function == "output"
    switch = service.driver()["Relays"]["DIGITAL_OUTPUT_1"]
    assert (switch["ON"], switch["OFF"]) == ("On", "Off")
    # The clients see the new label, and the state it kept.
    defined = await service.definition("DIGITAL_OUTPUT_1")
    assert defined.label == "Dome"
    assert {m.name: m.value for m in defined.members}["ON"] == SwitchState.ON
    labels = await service.definition("DIGITAL_OUTPUT_LABELS")
    assert {m.name: m.value for m in labels.members}["DIGITAL_OUTPUT_1"] == "Dome"
    # And it still works: off, then on again.
    await service.client.send(
        NewSwitchVector(device="Relays", name="DIGITAL_OUTPUT_1", values={"OFF": SwitchState.ON})
    )
    await service.client.expect(
        lambda e: isinstance(e, SetSwitchVector) and e.values.get("OFF") == SwitchState.ON
    )
    assert service.pin(17).state == 0
    await service.switch_on(1)
    assert service.pin(17).state == 1


async def test_a_label_only_reload_keeps_a_label_a_client_set(service: Service):
    await service.client.send(
        NewTextVector(
            device="Relays", name="DIGITAL_OUTPUT_LABELS", values={"DIGITAL_OUTPUT_2": "Heater"}
        )
    )
    await service.client.expect(lambda e: isinstance(e, SetTextVector))
    await service.switch_on(2)
    service.client.events.clear()

    await service.reload(service.config('"Dome", "Blower"'))

    assert service.pin(27).state == 1
    assert service.driver()["Relays"]["DIGITAL_OUTPUT_2"]["ON"] == "On"
    labels = await service.definition("DIGITAL_OUTPUT_LABELS")
    assert {m.name: m.value for m in labels.members} == {
        "DIGITAL_OUTPUT_1": "Dome",
        "DIGITAL_OUTPUT_2": "Heater",
    }


async def test_any_other_change_still_makes_the_device_afresh(service: Service):
    await service.switch_on(1)
    before = service.driver()

    await service.reload(service.config('"Dome", "Fan"', extra="blink_on_time = 1.0"))

    assert service.driver() is not before
    # Made from its new table: the relay starts off, as its table says.
    assert service.pin(17).state == 0


async def test_a_label_only_reload_keeps_the_state_of_a_relay_that_never_restores(
    service: Service,
):
    # restore = false is about starting the service: a reload is not a start.
    await service.reload(service.config('"Roof", "Fan"', extra="restore = false"))
    await service.switch_on(1)
    relay = service.pin(17)
    relay.clear_states()

    await service.reload(service.config('"Dome", "Fan"', extra="restore = false"))

    assert [s.state for s in relay.states] == [True]
    assert service.driver()["Relays"]["DIGITAL_OUTPUT_1"]["ON"] == "On"
    assert service.appliance.running["Relays"][0].options.restore is False
