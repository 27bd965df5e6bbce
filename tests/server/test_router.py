"""The router, without sockets: feed it events, read what each peer was given."""

from __future__ import annotations

import ast
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pi_indi.protocol import (
    BLOBPolicy,
    BLOBPolicyTable,
    DefSwitch,
    DefSwitchVector,
    DelProperty,
    ElementStream,
    EnableBLOB,
    Event,
    GetProperties,
    Message,
    NewNumberVector,
    NewSwitchVector,
    OneBLOB,
    Permission,
    PingReply,
    PingRequest,
    PlainVector,
    PropertyState,
    SetBLOBVector,
    SetNumberVector,
    SetSwitchVector,
    SwitchRule,
    SwitchState,
    decode_element,
    encode,
)
from pi_indi.server._router import Interest, Router

ROOT = Path(__file__).resolve().parents[2]
T = datetime(2026, 1, 1, 12, 0, 0)


class FakeClient:
    def __init__(self, label: str = "client") -> None:
        self.label = label
        self.chained = False
        self.interest = Interest()
        self.blobs = BLOBPolicyTable()
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def events(self) -> list[Event]:
        stream = ElementStream()
        stream.feed(b"".join(self.written))
        out = []
        while (item := stream.next_element()) is not None:
            out.append(decode_element(item))
        return out

    def messages(self) -> list[str]:
        return [e.message or "" for e in self.events() if isinstance(e, Message)]


class FakeDriver:
    def __init__(self, label: str = "driver", *, remote: bool = False) -> None:
        self.label = label
        self.remote = remote
        self.debug_enable = False
        self.snoop = Interest()
        self.snoop_blobs = BLOBPolicyTable()
        self.snoop_blobs.update(EnableBLOB(policy=BLOBPolicy.ALSO))
        self.got: list[Event] = []
        self.senders: list[Any] = []

    def deliver(self, event: Event, data: bytes | None) -> None:
        if data is not None:
            assert data == encode(event)
        self.got.append(event)

    def accepted(self, sender: Any) -> None:
        self.senders.append(sender)


def number(device: str = "Dev", name: str = "LEVEL", value: str = "1") -> SetNumberVector:
    return SetNumberVector(device=device, name=name, values={"V": value}, timestamp=T)


@pytest.fixture
def router() -> Router:
    return Router(clock=lambda: T)


def serve(router: Router, *devices: str, label: str = "driver") -> FakeDriver:
    driver = FakeDriver(label)
    router.add_side(driver, devices)
    return driver


def connect(router: Router, *requests: Event, label: str = "client") -> FakeClient:
    client = FakeClient(label)
    router.add_client(client)
    for request in requests:
        router.from_client(client, request)
    return client


# -- requests from clients ------------------------------------------------------------------


def test_get_properties_for_a_device_goes_to_its_owner_only(router):
    a = serve(router, "A", label="a")
    b = serve(router, "B", label="b")
    client = connect(router, GetProperties(version="1.7", device="A"))
    assert a.got == [GetProperties(version="1.7", device="A")]
    assert a.senders == [client]  # flow control sees who asked
    assert b.got == []


def test_get_properties_for_everything_goes_to_every_driver_with_a_version(router):
    a = serve(router, "A", label="a")
    b = serve(router, "B", label="b")
    connect(router, GetProperties(device="*"))
    assert a.got == b.got == [GetProperties(version="1.7")]


def test_get_properties_for_a_device_nobody_serves_is_answered(router):
    serve(router, "A")
    client = connect(router, GetProperties(version="1.7", device="Nobody"))
    assert client.messages() == ["[WARNING] no device 'Nobody' on this server (yet)"]


def test_get_properties_for_an_unknown_device_goes_to_the_remotes_instead(router):
    remote = FakeDriver("remote", remote=True)
    router.add_side(remote)
    client = connect(router, GetProperties(version="1.7", device="Far"))
    assert remote.got == [GetProperties(version="1.7", device="Far")]
    assert client.written == []


def test_a_device_added_later_reaches_a_client_that_asked_for_it(router):
    client = connect(router, GetProperties(version="1.7", device="Late"))
    client.written.clear()
    late = serve(router, "Late")
    router.from_driver(late, number("Late"))
    assert client.events() == [number("Late")]


def test_new_vector_goes_to_the_owner_and_is_echoed_to_other_watchers(router):
    driver = serve(router, "Dev")
    sender = connect(router, GetProperties(version="1.7"), label="sender")
    watcher = connect(router, GetProperties(version="1.7", device="Dev"), label="watcher")
    other = connect(router, GetProperties(version="1.7", device="Other"), label="other")
    for c in (sender, watcher, other):
        c.written.clear()
    driver.senders.clear()
    new = NewNumberVector(device="Dev", name="LEVEL", values={"V": "2"})
    router.from_client(sender, new)
    assert driver.got[-1] == new
    assert driver.senders == [sender]
    assert watcher.events() == [new]
    assert sender.written == other.written == []


def test_new_vector_for_a_read_only_device_is_refused_and_never_delivered(router):
    router.readonly_devices.add("Dev")
    driver = serve(router, "Dev")
    client = connect(router)
    router.from_client(
        client, NewSwitchVector(device="Dev", name="S", values={"ON": SwitchState.ON})
    )
    assert driver.got == []
    (reply,) = client.events()
    assert isinstance(reply, SetSwitchVector)
    assert (reply.device, reply.name, reply.state) == ("Dev", "S", PropertyState.ALERT)
    assert "read-only" in (reply.message or "")


def test_new_vector_for_a_device_nobody_serves_is_answered(router):
    client = connect(router)
    router.from_client(
        client, NewSwitchVector(device="Ghost", name="S", values={"ON": SwitchState.ON})
    )
    assert client.messages() == ["[ERROR] no device 'Ghost' on this server; 'S' was not changed"]


def test_a_ping_is_answered(router):
    client = connect(router, PingRequest(uid="7"))
    assert client.events() == [PingReply(uid="7")]


# -- what drivers send --------------------------------------------------------------------


def test_a_set_vector_reaches_the_clients_watching_it_only(router):
    driver = serve(router, "Dev")
    by_device = connect(router, GetProperties(version="1.7", device="Dev"))
    by_prop = connect(router, GetProperties(version="1.7", device="Dev", name="LEVEL"))
    by_other_prop = connect(router, GetProperties(version="1.7", device="Dev", name="OTHER"))
    for c in (by_device, by_prop, by_other_prop):
        c.written.clear()
    router.from_driver(driver, number())
    assert by_device.events() == by_prop.events() == [number()]
    assert by_other_prop.written == []


def test_the_relay_takes_the_same_route_as_the_event_as_the_drivers_own_bytes(router):
    driver = serve(router, "Dev")
    client = connect(router, GetProperties(version="1.7", device="Dev"))
    only = connect(router, GetProperties(version="1.7", device="Dev"), label="only")
    router.from_client(only, EnableBLOB(device="Dev", policy=BLOBPolicy.ONLY))
    client.written.clear()
    only.written.clear()
    raw = '<setNumberVector device="Dev" name="LEVEL"><oneNumber name="V">3</oneNumber></setNumberVector>'
    stream = ElementStream()
    stream.feed(raw.encode())
    item = stream.next_element()
    assert isinstance(item, PlainVector)
    assert router.relay_plain(driver, item) is True
    assert client.written == [(raw + "\n").encode()]
    assert only.written == []  # Only: BLOBs alone, as for the event


def test_the_relay_leaves_a_vector_a_driver_snoops_on_to_the_event_path(router):
    owner = serve(router, "Dev", label="owner")
    snooper = serve(router, "Mine", label="snooper")
    router.from_driver(snooper, GetProperties(version="1.7", device="Dev"))
    stream = ElementStream()
    stream.feed(
        b'<setNumberVector device="Dev" name="LEVEL"><oneNumber name="V">3</oneNumber></setNumberVector>'
    )
    item = stream.next_element()
    assert isinstance(item, PlainVector)
    assert router.relay_plain(owner, item) is False
    router.from_driver(owner, decode_element(item))
    assert isinstance(snooper.got[-1], SetNumberVector)


def test_a_blob_reaches_only_the_clients_that_enabled_blobs(router):
    driver = serve(router, "Cam")
    never = connect(router, GetProperties(version="1.7"), label="never")
    also = connect(router, GetProperties(version="1.7"), EnableBLOB(policy=BLOBPolicy.ALSO))
    never.written.clear()
    also.written.clear()
    blob = SetBLOBVector(
        device="Cam",
        name="IMG",
        blobs=(OneBLOB(name="F", size=3, format=".raw", data=b"abc"),),
        timestamp=T,
    )
    router.from_driver(driver, blob)
    assert never.written == []
    assert also.events() == [blob]


def test_a_second_driver_cannot_take_a_served_device(router, caplog):
    first = serve(router, "Dev", label="first")
    second = serve(router, label="second")
    client = connect(router, GetProperties(version="1.7"))
    client.written.clear()
    with caplog.at_level(logging.ERROR, logger="pi_indi.server"):
        router.from_driver(second, number())
        router.from_driver(second, number())
    assert client.written == []
    assert router.owners["Dev"] is first
    assert len([r for r in caplog.records if "also defines" in r.getMessage()]) == 1


def test_a_driver_that_goes_away_takes_its_devices_with_it(router):
    driver = serve(router, "A", "B")
    client = connect(router, GetProperties(version="1.7", device="A"))
    client.written.clear()
    router.remove_side(driver)
    assert client.events() == [DelProperty(device="A", timestamp=T)]
    assert router.owners == {}
    assert router.sides == []


def test_a_snooping_driver_gets_what_it_asked_for_and_not_its_own(router):
    a = serve(router, "A", label="a")
    b = serve(router, "B", label="b")
    router.from_driver(b, GetProperties(version="1.7", device="A"))
    assert a.got == [GetProperties(version="1.7", device="A")]
    router.from_driver(a, number("A"))
    router.from_driver(b, number("B"))
    assert b.got == [number("A")]


def test_a_new_vector_from_a_driver_for_a_read_only_device_is_refused(router):
    router.readonly_devices.add("Dev")
    owner = serve(router, "Dev", label="owner")
    other = serve(router, "Other", label="other")
    router.from_driver(
        other, NewSwitchVector(device="Dev", name="S", values={"ON": SwitchState.ON})
    )
    assert owner.got == []


def test_a_snoop_request_goes_down_to_chained_servers(router):
    serve(router, "A", label="a")
    snooper = serve(router, "B", label="b")
    chained = connect(router, GetProperties(version="1.7", device="*"), label="chained")
    plain = connect(router, GetProperties(version="1.7", device="Z"), label="plain")
    chained.written.clear()
    plain.written.clear()
    router.from_driver(snooper, GetProperties(version="1.7", device="Far"))
    assert chained.events() == [GetProperties(version="1.7", device="Far")]
    assert plain.written == []


def test_nothing_is_routed_once_stopped(router):
    driver = serve(router, "Dev")
    client = connect(router, GetProperties(version="1.7"))
    client.written.clear()
    router.stopped = True
    router.from_driver(driver, number())
    assert client.written == []


# -- bounds -------------------------------------------------------------------------------


def test_what_one_client_may_ask_to_watch_is_bounded(router, caplog):
    router.max_interest = 50
    serve(router, "Dev")
    client = connect(router)
    with caplog.at_level(logging.WARNING, logger="pi_indi.server"):
        for i in range(5000):
            router.from_client(
                client, GetProperties(version="1.7", device=f"nodev{i}", name=f"p{i}")
            )
    assert len(client.interest) == 50
    assert sum(len(v) for v in router.client_watch.props.values()) == 50
    refusals = [m for m in client.messages() if m.startswith("[ERROR] refused")]
    assert len(refusals) == 5000 - 50
    assert len([r for r in caplog.records if "refused <getProperties>" in r.getMessage()]) == 1
    # Asking again for what it watches already is not refused, nor is everything.
    client.written.clear()
    router.from_client(client, GetProperties(version="1.7", device="nodev0", name="p0"))
    router.from_client(client, GetProperties(version="1.7"))
    assert not [m for m in client.messages() if m.startswith("[ERROR] refused")]


def test_blob_choices_one_client_may_make_are_bounded(router):
    router.max_interest = 20
    client = connect(router)
    for i in range(1000):
        router.from_client(
            client, EnableBLOB(device=f"nodev{i}", name=f"p{i}", policy=BLOBPolicy.ALSO)
        )
    assert len(client.blobs) == 20
    assert len(client.interest) == 20
    # Changing a choice it has made is not a new one.
    router.from_client(client, EnableBLOB(device="nodev0", name="p0", policy=BLOBPolicy.NEVER))
    assert client.blobs.policy("nodev0", "p0") is BLOBPolicy.NEVER


def test_client_given_names_are_escaped_in_the_log(router, caplog):
    client = connect(router)
    with caplog.at_level(logging.WARNING, logger="pi_indi.server"):
        router.from_client(
            client,
            NewSwitchVector(device="Dev\nFORGED LINE", name="S", values={"ON": SwitchState.ON}),
        )
    (record,) = caplog.records
    assert "\n" not in record.getMessage()
    assert "Dev\\nFORGED LINE" in record.getMessage()


def test_refusals_are_logged_once_per_period_however_many(router, caplog):
    client = connect(router)
    with caplog.at_level(logging.WARNING, logger="pi_indi.server"):
        for i in range(10_000):
            router.from_client(
                client, NewSwitchVector(device=f"G{i}", name="S", values={"ON": SwitchState.ON})
            )
    assert len(caplog.records) == 1


# -- no I/O -------------------------------------------------------------------------------

IO_MODULES = {"asyncio", "socket", "selectors", "threading", "subprocess"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_router_and_what_it_uses_have_no_io():
    seen: set[str] = set()
    todo = ["pi_indi.server._router"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        if module.startswith("pi_indi.protocol"):
            continue  # sans-IO itself: tests/protocol/test_sans_io.py
        path = ROOT / (module.replace(".", "/") + ".py")
        imported = _imports(path)
        assert not imported & IO_MODULES, f"{module} imports {imported & IO_MODULES}"
        todo += [m for m in imported if m.startswith("pi_indi.") and m != "pi_indi.server"]
    assert {"pi_indi._log", "pi_indi.errors"} <= seen


def test_names_too_long_to_be_indi_names_are_not_recorded(router):
    client = connect(router)
    too_long = "x" * 10_000
    router.from_client(client, GetProperties(version="1.7", device=too_long))
    router.from_client(client, GetProperties(version="1.7", device="Dev", name=too_long))
    router.from_client(client, EnableBLOB(device=too_long, policy=BLOBPolicy.ALSO))
    assert len(client.interest) == 0
    assert len(client.blobs) == 0
    assert len([m for m in client.messages() if "at most 256 characters" in m]) == 3
    # A name as long as libindi's longest is fine.
    router.from_client(client, GetProperties(version="1.7", device="D" * 64, name="P" * 64))
    assert len(client.interest) == 1


def test_a_relayed_vector_with_characters_xml_cannot_carry_is_sent_well_formed(router):
    import xml.etree.ElementTree as ET

    driver = serve(router, "Dev")
    client = connect(router, GetProperties(version="1.7", device="Dev"))
    client.written.clear()
    stream = ElementStream()
    stream.feed(
        b'<setTextVector device="Dev" name="T"><oneText name="a">x\x1by</oneText></setTextVector>'
    )
    item = stream.next_element()
    assert item is not None
    if not isinstance(item, PlainVector) or not router.relay_plain(driver, item):
        router.from_driver(driver, decode_element(item))
    (data,) = client.written
    assert ET.fromstring(data).find("oneText").text.strip() == "x\ufffdy"  # type: ignore[union-attr]  # noqa: S314 - our own output


def test_a_read_only_devices_definitions_reach_clients_as_read_only(router):
    # Clients then offer no controls for it; a device that is not read-only keeps its perm.
    router.readonly_devices.add("Dev")
    dev, other = serve(router, "Dev"), serve(router, "Other")
    client = connect(router, GetProperties(version="1.7"))
    for side, device in ((dev, "Dev"), (other, "Other")):
        router.from_driver(
            side,
            DefSwitchVector(
                device=device,
                name="S",
                perm=Permission.RW,
                rule=SwitchRule.ONE_OF_MANY,
                members=(DefSwitch(name="ON", value=SwitchState.OFF),),
            ),
        )
    perms = {e.device: e.perm for e in client.events() if isinstance(e, DefSwitchVector)}
    assert perms == {"Dev": Permission.RO, "Other": Permission.RW}
