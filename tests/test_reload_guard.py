"""A reload refuses a config that would drop every device or let more clients in.

A file truncated or emptied by mistake is a valid config: no devices, and
``[server]`` back at its defaults (every interface, every private network).
Applied by SIGHUP it would stop every device and open the service up. Such a
reload is refused, logged as a WARNING and published like a refused config
(so ``pi-indi reload`` fails and STATUS= says so); a restart applies it, as
it applies any valid config at start. Narrowing access and dropping some of
the devices stay a reload.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pi_indi._systemd import ReloadStateFile
from pi_indi.appliance import Appliance
from pi_indi.config import Config, parse_config
from pi_indi.protocol import GetProperties, NewSwitchVector, SetSwitchVector, SwitchState
from pi_indi_drivers._gpio import Gpio
from tests.helpers import Client

SERVER = """\
[server]
host = "{host}"
bind = {bind}
allow = {allow}
[gpio]
pin_factory = "mock"
"""

RELAYS = """\
[[device]]
driver = "relay"
name = "Relays"
pins = [17]
"""

LAMP = """\
[[device]]
driver = "led"
name = "Lamp"
pins = [27]
"""

OLD_ALLOW = '["127.0.0.0/8", "192.168.1.0/25", "192.168.1.128/25"]'


def config(
    devices: str = RELAYS + LAMP,
    host: str = "127.0.0.1",
    allow: str = OLD_ALLOW,
    bind: str = "[]",
) -> Config:
    parsed = parse_config(SERVER.format(host=host, bind=bind, allow=allow) + devices)
    # Any free port (0 is not a port a config may name).
    return dataclasses.replace(parsed, server=dataclasses.replace(parsed.server, port=0))


class Service:
    """An appliance serving on 127.0.0.1, whose reloads read :attr:`next`."""

    def __init__(self, appliance: Appliance, gpio: Gpio, states: ReloadStateFile) -> None:
        self.appliance = appliance
        self.gpio = gpio
        self.states = states
        self.next = appliance.config

    def outcome(self) -> tuple[str, str]:
        state = self.states.read(os.getpid())
        assert state is not None
        last = state.outcomes[-1]
        return last.result, last.reason


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    gpio = Gpio("mock")
    states = ReloadStateFile(str(tmp_path))
    holder: list[Service] = []
    appliance = Appliance(
        config(), hardware=gpio, reload_config=lambda: holder[0].next, reload_state=states
    )
    svc = Service(appliance, gpio, states)
    holder.append(svc)
    appliance.build()
    server = appliance.make_server()
    task = asyncio.create_task(server.asyncrun())
    async with asyncio.timeout(5):
        await server.listening.wait()
    try:
        yield svc
    finally:
        appliance.shutdown()
        async with asyncio.timeout(10):
            await task
        appliance.close()


def allowed(appliance: Appliance) -> list[str]:
    assert appliance.server is not None
    assert appliance.server.allow is not None
    return [str(network) for network in appliance.server.allow]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "pi_indi.appliance" and r.levelno == logging.WARNING
    ]


async def assert_refused(
    svc: Service, caplog: pytest.LogCaptureFixture, new: Config, why: str
) -> None:
    appliance = svc.appliance
    assert appliance.server is not None
    before_allow = allowed(appliance)
    before_drivers = {name: driver for name, (_, driver) in appliance.running.items()}
    before_addresses = list(appliance.server.addresses)
    svc.next = new
    with caplog.at_level(logging.INFO, logger="pi_indi"):
        assert await appliance.reload() is False
    # Nothing changed: the same drivers, still served; the same access.
    assert {name: driver for name, (_, driver) in appliance.running.items()} == before_drivers
    assert all(driver in appliance.server.drivers for driver in before_drivers.values())
    assert allowed(appliance) == before_allow
    assert list(appliance.server.addresses) == before_addresses
    assert appliance.config is not new
    # Refused as a bad config is: pi-indi reload exits 78, STATUS= says so.
    result, reason = svc.outcome()
    assert result == "refused"
    assert why in reason
    assert "systemctl restart pi-indi" in reason
    assert appliance.status_text().startswith("reload refused")
    warned = warnings_of(caplog)
    assert any(why in message for message in warned), warned


async def test_an_emptied_config_file_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture
):
    assert service.appliance.server is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", service.appliance.server.port)
    client = Client(reader, writer)
    await client.send(GetProperties(version="1.7"))
    on = NewSwitchVector(device="Relays", name="DIGITAL_OUTPUT_1", values={"ON": SwitchState.ON})
    await client.send(on)
    await client.expect(lambda e: isinstance(e, SetSwitchVector) and e.device == "Relays")
    relay = service.gpio.factory.pin("GPIO17")
    assert relay.state == 1
    parsed = parse_config("")
    empty = dataclasses.replace(parsed, server=dataclasses.replace(parsed.server, port=0))
    try:
        await assert_refused(service, caplog, empty, "would stop every device")
        assert sorted(service.appliance.running) == ["Lamp", "Relays"]
        assert relay.state == 1
        # Still served to the same client.
        await client.send(on)
        await client.expect(lambda e: isinstance(e, SetSwitchVector) and e.device == "Relays")
    finally:
        writer.close()


async def test_a_config_with_every_device_disabled_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture
):
    disabled = (
        (RELAYS + LAMP)
        .replace("pins = [17]", "pins = [17]\nenabled = false")
        .replace("pins = [27]", "pins = [27]\nenabled = false")
    )
    await assert_refused(service, caplog, config(disabled), "would stop every device")


@pytest.mark.parametrize(
    "allow",
    [
        pytest.param('["0.0.0.0/0"]', id="everyone"),
        pytest.param('["127.0.0.0/8", "192.168.0.0/16"]', id="a larger network"),
        pytest.param('["127.0.0.0/8", "::1/128"]', id="another family"),
        pytest.param('["10.0.0.1/32"]', id="one other address"),
    ],
)
async def test_a_reload_that_widens_allow_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture, allow: str
):
    await assert_refused(service, caplog, config(allow=allow), "would widen [server] allow")


@pytest.mark.parametrize(
    "allow",
    [
        pytest.param('["127.0.0.1/32"]', id="loopback only"),
        pytest.param('["192.168.1.0/24"]', id="the union of two old networks"),
        pytest.param('["192.168.1.64/26", "127.0.0.0/8"]', id="fewer addresses"),
    ],
)
async def test_a_reload_that_narrows_allow_is_applied(
    service: Service, caplog: pytest.LogCaptureFixture, allow: str
):
    with caplog.at_level(logging.INFO, logger="pi_indi"):
        assert await service.appliance.reload() is True  # the same file: applied
        service.next = config(allow=allow)
        assert await service.appliance.reload() is True
    assert service.appliance.server is not None
    expected = [ipaddress.ip_network(text) for text in json.loads(allow)]
    assert list(service.appliance.server.allow or ()) == expected
    assert service.outcome()[0] == "applied"
    assert warnings_of(caplog) == []


@pytest.mark.parametrize(
    ("host", "bind"),
    [
        pytest.param("0.0.0.0", "[]", id="every IPv4 address"),
        pytest.param("::", "[]", id="every IPv6 address"),
        pytest.param("127.0.0.1", '["0.0.0.0"]', id="bind every address"),
        pytest.param("192.168.1.20", "[]", id="a LAN address"),
    ],
)
async def test_a_reload_from_loopback_to_wider_addresses_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture, host: str, bind: str
):
    new = config(host=host, bind=bind)
    await assert_refused(service, caplog, new, "would listen on more addresses")


@pytest.mark.parametrize(
    ("old", "new", "widens"),
    [
        pytest.param('["192.168.1.20"]', '["0.0.0.0"]', True, id="specific to every"),
        pytest.param('["192.168.1.20"]', '["::"]', True, id="IPv4 to every IPv6"),
        pytest.param('["192.168.1.20"]', '["10.0.0.5"]', True, id="another interface"),
        pytest.param('["192.168.1.20", "10.0.0.5"]', '["10.0.0.5"]', False, id="fewer"),
        pytest.param('["192.168.1.20"]', '["127.0.0.1"]', False, id="to loopback"),
        pytest.param('["0.0.0.0"]', '["192.168.1.20", "127.0.0.1"]', False, id="every to some"),
        pytest.param('["::"]', '["0.0.0.0"]', False, id="every address to every IPv4 one"),
        pytest.param('["::"]', '["192.168.1.20"]', False, id="every address to an IPv4 one"),
    ],
)
async def test_which_bind_changes_widen_access(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, old: str, new: str, widens: bool
):
    # Not served: these addresses need not be this machine's.
    states = ReloadStateFile(str(tmp_path))
    target = config(bind=new)
    appliance = Appliance(
        config(bind=old), hardware=Gpio("mock"), reload_config=lambda: target, reload_state=states
    )
    appliance.build()
    try:
        with caplog.at_level(logging.INFO, logger="pi_indi"):
            assert await appliance.reload() is not widens
        assert (appliance.config is target) is not widens
        assert bool(warnings_of(caplog)) is widens
    finally:
        appliance.close()


async def test_removing_one_of_two_devices_is_applied(
    service: Service, caplog: pytest.LogCaptureFixture
):
    service.next = config(RELAYS)
    with caplog.at_level(logging.INFO, logger="pi_indi"):
        assert await service.appliance.reload() is True
    assert sorted(service.appliance.running) == ["Relays"]
    assert service.outcome()[0] == "applied"
    assert warnings_of(caplog) == []
