"""``device="*"`` (and ``name="*"``) mean "every one" wherever a request can carry them.

indiserver reserves the device name ``*``: a chained indiserver sends
``<getProperties device="*">`` to mean every device, and any message whose
device starts with ``*`` marks a connection as a chained server that gets
everything (indiserver.cpp, ClInfo::onMessage). IPyServer reads ``*`` the same
way in a client's ``getProperties`` and ``enableBLOB`` and in a driver's snoop
request and its ``enableBLOB``; a ``*`` property name means every property.
Real IPyServer processes on 127.0.0.1, raw clients and a raw snooping driver.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from pi_indi.protocol import (
    CLOSED,
    NEED_DATA,
    BLOBPolicy,
    Connection,
    DefBLOBVector,
    DefVector,
    EnableBLOB,
    Event,
    GetProperties,
    NewBLOBVector,
    OneBLOB,
    SetBLOBVector,
    SetNumberVector,
)
from tests.interop import peers
from tests.interop.peers import HERE, RawClient, driver_executable, wait_until

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("indiserver") is None, reason="indi-bin is not installed"),
]

DATA = b"\x00\x01 wildcard BLOB \xfe\xff" * 100


def defined(events: list[Event]) -> set[tuple[str, str]]:
    return {(e.device, e.name) for e in events if isinstance(e, DefVector)}


@pytest.mark.parametrize(
    ("device", "name", "expected"),
    [
        pytest.param("*", None, {("Demo", "NUMBER"), ("Other", "NUMBER")}, id="every-device"),
        pytest.param("Demo", "*", {("Demo", "NUMBER"), ("Demo", "SWITCH")}, id="every-property"),
        pytest.param("*", "*", {("Demo", "NUMBER"), ("Other", "SWITCH")}, id="everything"),
    ],
)
def test_client_getproperties_with_star(tmp_path: Path, device, name, expected):
    with peers.ipyserver(tmp_path, "--demo", "Demo", "--demo", "Other") as server:
        client = RawClient(server.port)
        try:
            client.send(GetProperties(device=device, name=name))
            wait_until(lambda: expected <= defined(client.collect(0.2)), 10)
        finally:
            client.close()
    if device == "Demo":
        assert not any(d == "Other" for d, _ in defined(client.events))


@pytest.mark.parametrize(
    ("device", "name"),
    [
        pytest.param("*", None, id="every-device"),
        pytest.param("*", "ECHO", id="that-property-of-every-device"),
        pytest.param("Echo", "*", id="every-property-of-the-device"),
    ],
)
def test_client_enableblob_with_star(tmp_path: Path, device, name):
    echo = driver_executable(tmp_path, HERE / "blob_echo_driver.py", "blob_echo")
    with peers.ipyserver(tmp_path, "--exdriver", str(echo)) as server:
        client = RawClient(server.port)
        try:
            client.send(GetProperties(device="Echo"))
            client.wait_for(lambda e: isinstance(e, DefBLOBVector) and e.name == "ECHO", 15)
            client.send(EnableBLOB(device=device, name=name, policy=BLOBPolicy.ALSO))
            upload(client)
            got = client.wait_for(
                lambda e: isinstance(e, SetBLOBVector) and e.name == "ECHO" and bool(e.blobs)
            )
        finally:
            client.close()
    assert isinstance(got, SetBLOBVector)
    assert got.blobs[0].data == DATA


@pytest.mark.parametrize(
    ("requests", "blobs"),
    [
        pytest.param(
            '<getProperties version="1.7" device="*"/><enableBLOB device="*">Also</enableBLOB>',
            True,
            id="every-device",
        ),
        pytest.param(
            '<getProperties version="1.7" device="Demo" name="*"/>', False, id="every-property"
        ),
    ],
)
def test_driver_snoops_with_star(tmp_path: Path, requests, blobs):
    log = tmp_path / "snooped.xml"
    log.touch()
    snooper = driver_executable(
        tmp_path,
        HERE / "raw_snooper.py",
        "raw_snooper",
        {"SNOOP_LOG": str(log), "SNOOP_REQUESTS": requests},
    )
    echo = driver_executable(tmp_path, HERE / "blob_echo_driver.py", "blob_echo")
    with peers.ipyserver(
        tmp_path, "--demo", "Demo", "--exdriver", str(echo), "--exdriver", str(snooper)
    ) as server:
        # Answered: the request reached Demo's driver, which defined its properties again.
        wait_until(lambda: ("Demo", "NUMBER") in defined(read(log)), 15)
        server.setprop("Demo.NUMBER.VALUE=64")
        client = RawClient(server.port)
        try:
            client.send(GetProperties(device="Echo"))
            client.wait_for(lambda e: isinstance(e, DefBLOBVector) and e.name == "ECHO", 15)
            upload(client)
            time.sleep(0.5)
        finally:
            client.close()

        def snooped_number() -> bool:
            return any(
                isinstance(e, SetNumberVector) and e.device == "Demo" and e.values["VALUE"] == "64"
                for e in read(log)
            )

        wait_until(snooped_number, 10)
        if blobs:
            wait_until(
                lambda: any(
                    isinstance(e, SetBLOBVector) and e.blobs and e.blobs[0].data == DATA
                    for e in read(log)
                ),
                10,
            )


def upload(client: RawClient) -> None:
    client.send(
        NewBLOBVector(
            device="Echo",
            name="UPLOAD",
            blobs=(OneBLOB(name="UPLOAD", size=len(DATA), format=".bin", data=DATA),),
        )
    )


def read(log: Path) -> list[Event]:
    conn = Connection(max_blob_element=16 << 20)
    data = log.read_bytes()
    if data:  # b"" would mean the end of the stream
        conn.receive_data(data)
    events: list[Event] = []
    while (event := conn.next_event()) is not NEED_DATA and event is not CLOSED:
        events.append(event)  # type: ignore[arg-type]
    return events


def test_pi_indi_driver_under_indiserver_answers_star(tmp_path: Path):
    exe = driver_executable(tmp_path, HERE / "demo_driver.py", "pi_indi_demo")
    with peers.indiserver(tmp_path, str(exe)) as server:
        # Up and done defining its properties (to nobody) before the request.
        wait_until(lambda: server.value("Demo.NUMBER.VALUE") == "10", 10)
        client = RawClient(server.port)
        try:
            client.send(GetProperties(device="*"))
            wait_until(lambda: ("Demo", "NUMBER") in defined(client.collect(0.2)), 5)
        finally:
            client.close()
