"""Who may connect and what they may change: allow lists, bind addresses, read-only devices.

Real sockets on the loopback network: 127.0.0.1 and, as a second address,
127.0.0.2 (Linux routes all of 127.0.0.0/8 to the loopback interface).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import logging
import socket
from pathlib import Path
from typing import Any

import pytest

import pi_indi as ipd
from pi_indi.appliance import Appliance
from pi_indi.config import parse_config
from pi_indi.protocol import (
    DefNumberVector,
    DefSwitchVector,
    DelProperty,
    GetProperties,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    Permission,
    PingReply,
    PingRequest,
    PropertyState,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    SwitchState,
)
from pi_indi.server._access import peer_ip
from pi_indi_drivers._gpio import Gpio
from tests.helpers import (
    Client,
    Recorder,
    defined,
    free_port,
    is_,
    make_device,
    noisy_script,
    refusals,
    refused_with,
)

# -- allow -----------------------------------------------------------------------


async def test_a_client_outside_the_allow_list_is_told_and_closed_unread(start, caplog):
    driver = Recorder(make_device())
    server = await start(driver, allow=["10.0.0.0/8"])
    client = await server.connect()
    await client.send(GetProperties(version="1.7"))
    told = await refused_with(client, "connections from 127.0.0.1 are not allowed here")
    assert told.device is None
    assert refusals(caplog) == [
        f"client 127.0.0.1:{client.writer.get_extra_info('sockname')[1]} refused:"
        " its address is not in the allow list"
    ]
    # Nothing it sent was read: the driver saw no request from it.
    assert not [e for e in driver.received if isinstance(e, ipd.getProperties)]
    assert server.client_count == 0


async def test_a_client_inside_the_allow_list_is_served(start):
    server = await start(Recorder(make_device()), allow=["10.0.0.0/8", "127.0.0.0/8"])
    client = await server.connect()
    await client.send(GetProperties(version="1.7", device="Dev"))
    await client.expect(is_(DefSwitchVector, name="MODE"))


async def test_one_address_can_be_allowed_and_its_neighbour_refused(start):
    server = await start(Recorder(make_device()), allow=["127.0.0.2"])
    allowed = await server.connect(source="127.0.0.2")
    await allowed.send(PingRequest(uid="in"))
    await allowed.expect(is_(PingReply, uid="in"))
    await refused_with(await server.connect(source="127.0.0.1"), "not allowed")


async def test_without_an_allow_list_everyone_is_let_in(start):
    server = await start(Recorder(make_device()))
    assert server.allow is None
    client = await server.connect(source="127.0.0.3")
    await client.send(PingRequest(uid="x"))
    await client.expect(is_(PingReply, uid="x"))


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        pytest.param(("::ffff:192.168.1.5", 7624, 0, 0), "192.168.1.5", id="mapped"),
        pytest.param(("192.168.1.5", 7624), "192.168.1.5", id="ipv4"),
        pytest.param(("fe80::1%lo", 7624, 0, 1), "fe80::1%lo", id="scoped"),
        pytest.param(None, None, id="none"),
        pytest.param(("", 0), None, id="unix"),
    ],
)
def test_peer_addresses_are_read_and_ipv4_mapped_ones_unwrapped(peer, expected):
    ip = peer_ip(peer)
    assert (str(ip) if ip is not None else None) == expected


@pytest.mark.parametrize(
    ("allow", "admitted"),
    [
        pytest.param(["127.0.0.0/8"], True, id="matched-as-ipv4"),
        pytest.param(["::/0"], False, id="not-as-ipv6"),
        pytest.param(["::ffff:0:0/96"], False, id="not-as-mapped"),
    ],
)
async def test_an_ipv4_mapped_peer_is_matched_as_its_ipv4_address(start, allow, admitted):
    # On "::" the server takes IPv4 too (as indiserver does): a client of
    # 127.0.0.1 comes as ::ffff:127.0.0.1, and is matched as 127.0.0.1.
    try:
        server = await start(Recorder(make_device()), host="::", allow=allow)
    except OSError:
        pytest.skip("no dual-stack IPv6 socket here")
    client = await server.connect("127.0.0.1")
    if admitted:
        await client.send(PingRequest(uid="mapped"))
        await client.expect(is_(PingReply, uid="mapped"))
    else:
        await refused_with(client, "connections from 127.0.0.1 are not allowed")


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
async def test_ipv6_loopback_is_allowed_or_refused_by_its_own_network(start):
    try:
        server = await start(Recorder(make_device()), bind=["::1"], allow=["::1/128"])
    except OSError:
        pytest.skip("::1 cannot be bound here")
    client = await server.connect("::1")
    await client.send(PingRequest(uid="v6"))
    await client.expect(is_(PingReply, uid="v6"))
    server.allow = ["127.0.0.0/8"]
    assert await client.closed()
    await refused_with(await server.connect("::1"), "connections from ::1 are not allowed")


async def test_narrowing_the_allow_list_closes_clients_it_no_longer_allows(start, caplog):
    server = await start(Recorder(make_device()), allow=["127.0.0.0/8"])
    kept = await server.connect(source="127.0.0.2")
    dropped = await server.connect(source="127.0.0.1")
    for client in (kept, dropped):
        await client.send(PingRequest(uid="1"))
        await client.expect(is_(PingReply))
    server.allow = ["127.0.0.2/32"]
    assert await dropped.closed()
    await kept.send(PingRequest(uid="2"))
    await kept.expect(is_(PingReply, uid="2"))
    assert any("no longer allowed; closing it" in r.getMessage() for r in caplog.records)


def test_an_allow_entry_that_is_not_a_network_is_refused():
    with pytest.raises(ValueError, match="has host bits set"):
        ipd.IPyServer(allow=["192.168.1.5/24"])


# -- read-only devices -----------------------------------------------------------------


READONLY_REQUESTS = [
    pytest.param(
        NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "42"}), id="newNumberVector"
    ),
    pytest.param(
        NewSwitchVector(device="Dev", name="RELAY", values={"ON": SwitchState.ON}),
        id="newSwitchVector",
    ),
    pytest.param(
        NewTextVector(device="Dev", name="NOTE", values={"TEXT": "y"}), id="newTextVector"
    ),
]


@pytest.mark.parametrize("request_", READONLY_REQUESTS)
async def test_a_readonly_device_refuses_every_change_and_stays_as_it_was(start, caplog, request_):
    dev = Recorder(make_device("Dev"))
    other = Recorder(make_device("Other"))
    server = await start(dev, other, readonly_devices={"Dev"})
    client, watcher = await server.connect(), await server.connect()
    for c in (client, watcher):
        await c.send(GetProperties(version="1.7"))
    # Clients still see the device and its values.
    level = await client.expect(is_(DefNumberVector, device="Dev", name="LEVEL"))
    assert [member.name for member in level.members] == ["PCT"]
    # ... as read-only, so that their controls are not offered.
    assert level.perm == Permission.RO
    await watcher.expect(is_(DefNumberVector, device="Other", name="LEVEL"))
    before = {name: dict(vector.items()) for name, vector in dev["Dev"].items()}

    await client.send(request_)
    # Answered as libindi answers a refused request: the vector in Alert, and why.
    answer = {NewNumberVector: SetNumberVector, NewSwitchVector: SetSwitchVector}.get(
        type(request_), SetTextVector
    )
    told = await client.expect(is_(answer, device="Dev", name=request_.name))
    assert told.state == PropertyState.ALERT
    assert told.values == {}
    assert told.message == (
        f"[ERROR] Dev is read-only on this server; {request_.name} was not changed"
    )
    assert any(
        f"refused <{type(request_).__name__[0].lower()}{type(request_).__name__[1:]}>"
        f" for Dev.{request_.name}: the device is read-only" in line
        for line in refusals(caplog)
    )
    # Another device of the same server is still writable, and its answer
    # comes after any echo of the refused request would have.
    await watcher.send(NewNumberVector(device="Other", name="LEVEL", values={"PCT": "7"}))
    await watcher.expect(is_(SetNumberVector, device="Other", name="LEVEL"))
    assert other["Other"]["LEVEL"]["PCT"] == "7"
    # The driver never saw it, nobody was told of it, nothing changed.
    assert not [e for e in dev.received if not isinstance(e, ipd.getProperties)]
    assert {name: dict(vector.items()) for name, vector in dev["Dev"].items()} == before
    assert await watcher.silent(lambda e: getattr(e, "device", None) == "Dev", wait=0.2)


async def test_readonly_devices_can_change_while_running(start):
    dev = Recorder(make_device())
    server = await start(dev, readonly_devices=["Dev"])
    client = await server.connect()
    await client.send(GetProperties(version="1.7", device="Dev"))
    await client.send(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "1"}))
    refused = await client.expect(is_(SetNumberVector, device="Dev", name="LEVEL"))
    assert refused.state == PropertyState.ALERT
    server.readonly_devices.discard("Dev")
    await client.send(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "2"}))
    answer = await client.expect(is_(SetNumberVector, device="Dev", name="LEVEL"))
    assert answer.values == {"PCT": "2"}


async def test_a_readonly_exdriver_device_never_gets_the_request(start, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="pi_indi.server")
    server = await start(
        exdrivers=[(str(noisy_script(tmp_path)),)], debug_enable=True, readonly_devices={"Noisy"}
    )
    client = await server.connect()
    await defined(client, "Noisy", SetNumberVector)
    await client.send(NewNumberVector(device="Noisy", name="N", values={"x": "3"}))
    told = await client.expect(is_(SetNumberVector, device="Noisy", state=PropertyState.ALERT))
    assert "read-only" in (told.message or "")
    # A request after it that does reach the driver, and is answered: the
    # refused one would have been logged by then, had it been passed on.
    await client.send(GetProperties(version="1.7", device="Noisy", name="N"))
    await client.expect(is_(SetNumberVector, device="Noisy"))
    sent = [r.getMessage() for r in caplog.records if " RX:: " in r.getMessage()]
    assert any('name="N"' in line for line in sent)
    assert not [line for line in sent if "newNumberVector" in line]


# -- bind ----------------------------------------------------------------------------


async def test_bind_listens_on_every_address_given(start):
    server = await start(Recorder(make_device()), bind=["127.0.0.1", "127.0.0.2"])
    assert server.addresses == [f"127.0.0.1:{server.port}", f"127.0.0.2:{server.port}"]
    for host in ("127.0.0.1", "127.0.0.2"):
        client = await server.connect(host)
        await client.send(GetProperties(version="1.7", device="Dev"))
        await client.expect(is_(DefNumberVector, name="LEVEL"))
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.3", server.port)


async def test_bind_overrides_host():
    server = ipd.IPyServer(host="0.0.0.0", port=7624, bind=["127.0.0.1", "127.0.0.2"])
    assert server.addresses == ["127.0.0.1:7624", "127.0.0.2:7624"]
    assert ipd.IPyServer(host="::1", port=1).addresses == ["[::1]:1"]


async def test_listening_moves_to_other_addresses_keeping_clients(start):
    server = await start(Recorder(make_device()))
    port = server.port
    old = await server.connect()
    await server.listen("127.0.0.1", port, bind=["127.0.0.1", "127.0.0.2"])
    assert server.addresses == [f"127.0.0.1:{port}", f"127.0.0.2:{port}"]
    added = await server.connect("127.0.0.2")
    await server.listen("127.0.0.2", port)
    assert server.addresses == [f"127.0.0.2:{port}"]
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    for client in (old, added):
        await client.send(PingRequest(uid="still"))
        await client.expect(is_(PingReply, uid="still"))


async def test_an_address_that_cannot_be_bound_keeps_the_old_ones(start, caplog):
    server = await start(Recorder(make_device()))
    before = server.addresses
    with socket.socket() as taken:
        taken.bind(("127.0.0.2", 0))
        taken.listen()
        port = taken.getsockname()[1]
        await server.listen("127.0.0.1", port, bind=["127.0.0.3", "127.0.0.2"])
    assert server.addresses == before
    assert any("cannot listen on 127.0.0.3" in r.getMessage() for r in caplog.records)
    client = await server.connect()
    await client.send(PingRequest(uid="ok"))
    await client.expect(is_(PingReply, uid="ok"))


# -- the appliance -----------------------------------------------------------------------

CONFIG = """\
[server]
host = "0.0.0.0"
bind = ["127.0.0.1", "127.0.0.2"]
allow = ["127.0.0.2/32"]
[gpio]
pin_factory = "mock"
[[device]]
driver = "relay"
name = "Relays"
pins = [17]
[[device]]
driver = "led"
name = "Lamp"
pins = [27]
readonly = true
"""


async def test_the_appliance_serves_its_access_settings_and_reloads_them():
    config = parse_config(CONFIG)
    port = free_port()
    config = dataclasses.replace(config, server=dataclasses.replace(config.server, port=port))
    appliance = Appliance(config, hardware=Gpio("mock"))
    appliance.build()
    server = appliance.make_server()
    assert server.readonly_devices == {"Lamp"}
    assert server.allow == (ipaddress.ip_network("127.0.0.2/32"),)
    task = asyncio.create_task(server.asyncrun())
    clients: list[Client] = []
    try:
        async with asyncio.timeout(5):
            await server.listening.wait()
        assert appliance.status_text().endswith(f"on 127.0.0.1:{port}, 127.0.0.2:{port}")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        clients.append(Client(reader, writer))
        await refused_with(clients[-1], "not allowed")
        reader, writer = await asyncio.open_connection(
            "127.0.0.2", port, local_addr=("127.0.0.2", 0)
        )
        client = Client(reader, writer)
        clients.append(client)
        await client.send(GetProperties(version="1.7"))
        await client.send(
            NewSwitchVector(device="Lamp", name="DIGITAL_OUTPUT_1", values={"ON": SwitchState.ON})
        )
        await client.expect(is_(SetSwitchVector, device="Lamp", state=PropertyState.ALERT))
        lamp = appliance.running["Lamp"][1]

        # Reloaded: the lamp is writable, the relays read-only, and 127.0.0.1
        # allowed; the lamp's driver is the same object (not rebuilt).
        new = (
            CONFIG.replace("readonly = true", "")
            .replace(
                'driver = "relay"\nname = "Relays"\n',
                'driver = "relay"\nname = "Relays"\nreadonly = true\n',
            )
            .replace('allow = ["127.0.0.2/32"]', 'allow = ["127.0.0.0/8"]')
        )
        reloaded = parse_config(new)
        await appliance.apply(
            dataclasses.replace(reloaded, server=dataclasses.replace(reloaded.server, port=port))
        )
        assert server.readonly_devices == {"Relays"}
        assert appliance.running["Lamp"][1] is lamp
        # Deleted and defined again with their new permissions, without a
        # reconnect (libindi's clients ignore a second definition).
        seen: list[Any] = []

        def redefined(e: Any) -> bool:
            # expect() looks at the events again as more come: each is kept once.
            wanted = isinstance(e, (DelProperty, DefSwitchVector)) and e.name == "DIGITAL_OUTPUT_1"
            if wanted and not any(x is e for x in seen):
                seen.append(e)
            return sum(isinstance(x, DefSwitchVector) for x in seen) == 2

        await client.expect(redefined, keep_others=True)
        for device, perm in (("Lamp", Permission.RW), ("Relays", Permission.RO)):
            mine = [e for e in seen if e.device == device]
            assert [type(e) for e in mine] == [DelProperty, DefSwitchVector]
            assert mine[1].perm == perm
        await client.send(
            NewSwitchVector(device="Lamp", name="DIGITAL_OUTPUT_1", values={"ON": SwitchState.ON})
        )
        await client.expect(
            lambda e: (
                isinstance(e, ipd.protocol.SetSwitchVector)
                and e.device == "Lamp"
                and e.values.get("ON") == SwitchState.ON
            )
        )
        await client.send(
            NewSwitchVector(device="Relays", name="DIGITAL_OUTPUT_1", values={"ON": SwitchState.ON})
        )
        await client.expect(is_(SetSwitchVector, device="Relays", state=PropertyState.ALERT))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        clients.append(Client(reader, writer))
        await clients[-1].send(PingRequest(uid="now allowed"))
        await clients[-1].expect(is_(PingReply))
    finally:
        for c in clients:
            c.close()
        appliance.shutdown()
        async with asyncio.timeout(10):
            await task
        appliance.close()


def test_serve_host_overrides_bind_too(tmp_path: Path):
    from pi_indi import cli

    path = tmp_path / "c.toml"
    path.write_text('[server]\nbind = ["127.0.0.1", "127.0.0.2"]\n')
    args = argparse.Namespace(config=str(path), mock=True, host="127.0.0.3", port=None)
    config = cli._load(args)
    assert (config.server.host, config.server.bind) == ("127.0.0.3", ())
    args.host = None
    assert cli._load(args).server.bind == ("127.0.0.1", "127.0.0.2")
