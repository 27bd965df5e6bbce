"""Chains of INDI servers: indilib's indiserver and IPyServer linked both ways.

indiserver links to another server in two forms: ``Dev@host:port`` (one
device; it sends ``<getProperties device="Dev">``) and ``@host:port`` (every
device; it sends ``<getProperties device="*">``, which also tells the other
server that this connection is a chained server, to be sent its drivers'
snoop requests). IPyServer links with ``add_remote``. Each test runs real
servers on 127.0.0.1 and checks with indilib's tools or a raw client that
properties are listed and changed through the chain, that a driver on one
server snoops a device on the other, and that BLOBs cross the link.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pi_indi.protocol import (
    BLOBPolicy,
    DefBLOBVector,
    EnableBLOB,
    GetProperties,
    NewBLOBVector,
    OneBLOB,
    SetBLOBVector,
)
from tests.interop import peers
from tests.interop.peers import HERE, Peer, RawClient, driver_executable, wait_until

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("indiserver") is None, reason="indi-bin is not installed"),
]

# The two forms of indiserver's remote driver argument.
FORMS = [pytest.param(False, id="all-devices"), pytest.param(True, id="one-device")]


def remote(port: int, device: str | None = None) -> str:
    """indiserver's argument for a remote server: ``[device]@host:port``."""
    return f"{device or ''}@127.0.0.1:{port}"


def demo(tmp_path: Path, device: str, snoop: str | None = None) -> str:
    """The demo driver as an executable indiserver can start, serving *device*."""
    env = {"DEMO_DEVICE": device, **({"DEMO_SNOOP": snoop} if snoop else {})}
    return str(driver_executable(tmp_path, HERE / "demo_driver.py", f"demo_{device}", env))


def echo(tmp_path: Path) -> str:
    return str(driver_executable(tmp_path, HERE / "blob_echo_driver.py", "blob_echo"))


# -- indiserver in front of IPyServer --------------------------------------------------


@pytest.mark.parametrize("one_device", FORMS)
def test_indiserver_lists_and_sets_through_a_link_to_ipyserver(tmp_path: Path, one_device):
    with (
        peers.ipyserver(
            tmp_path, "--demo", "Demo", "--exdriver", "indi_simulator_focus"
        ) as upstream,
        peers.indiserver(
            tmp_path, remote(upstream.port, "Demo" if one_device else None)
        ) as downstream,
    ):
        wait_until(lambda: downstream.value("Demo.NUMBER.VALUE") == "10", 15)
        props = downstream.getprop("Demo.*.*")
        assert props["Demo.SWITCH.OFF"] == "On"
        assert props["Demo.TEXT.NOTE"] == "hello"
        downstream.setprop("Demo.NUMBER.VALUE=33")
        wait_until(lambda: upstream.value("Demo.NUMBER.VALUE") == "33")
        wait_until(lambda: downstream.value("Demo.NUMBER.VALUE") == "33")
        if not one_device:
            # Every device of the upstream server, the simulator as well.
            wait_until(
                lambda: downstream.value("Focuser Simulator.CONNECTION.CONNECT") == "Off", 15
            )
            downstream.setprop("Focuser Simulator.CONNECTION.CONNECT=On")
            wait_until(lambda: upstream.value("Focuser Simulator.CONNECTION.CONNECT") == "On")


@pytest.mark.parametrize("one_device", FORMS)
@pytest.mark.parametrize(
    "snooper_upstream", [True, False], ids=["snooper-in-ipyserver", "snooper-in-indiserver"]
)
def test_snooping_across_indiserver_linked_to_ipyserver(
    tmp_path: Path, one_device, snooper_upstream
):
    # Mirror snoops Demo.NUMBER; one of them is in each server.
    if snooper_upstream:
        up_args = ["--demo", "Mirror"]
        env = {"DEMO_SNOOP": "Demo"}
        down_drivers = [demo(tmp_path, "Demo")]
        linked = "Mirror"
    else:
        up_args = ["--demo", "Demo"]
        env = {}
        down_drivers = [demo(tmp_path, "Mirror", snoop="Demo")]
        linked = "Demo"
    with (
        peers.ipyserver(tmp_path, *up_args, env=env) as upstream,
        peers.indiserver(
            tmp_path, *down_drivers, remote(upstream.port, linked if one_device else None)
        ) as downstream,
    ):
        wait_until(lambda: downstream.value(f"{linked}.NUMBER.VALUE") == "10", 15)
        wait_until(lambda: set_and_snooped(downstream, "64"), 20)
        if snooper_upstream:
            assert upstream.value("Mirror.SNOOPED.VALUE") == "64"


@pytest.mark.parametrize("one_device", FORMS)
def test_blob_set_in_ipyserver_reaches_a_client_of_a_linked_indiserver(tmp_path: Path, one_device):
    with (
        peers.ipyserver(tmp_path, "--exdriver", echo(tmp_path)) as upstream,
        peers.indiserver(
            tmp_path, remote(upstream.port, "Echo" if one_device else None)
        ) as downstream,
    ):
        check_blob_echo(downstream)


# -- IPyServer in front of indiserver ---------------------------------------------------


def test_ipyserver_lists_and_sets_through_a_link_to_indiserver(tmp_path: Path):
    with (
        peers.indiserver(tmp_path, "indi_simulator_focus", demo(tmp_path, "Demo")) as upstream,
        peers.ipyserver(tmp_path, "--remote", f"127.0.0.1:{upstream.port}") as downstream,
    ):
        wait_until(lambda: downstream.value("Demo.NUMBER.VALUE") == "10", 15)
        wait_until(lambda: downstream.value("Focuser Simulator.CONNECTION.CONNECT") == "Off", 15)
        downstream.setprop("Demo.NUMBER.VALUE=33", "Focuser Simulator.CONNECTION.CONNECT=On")
        wait_until(lambda: upstream.value("Demo.NUMBER.VALUE") == "33")
        wait_until(lambda: upstream.value("Focuser Simulator.CONNECTION.CONNECT") == "On")
        wait_until(lambda: downstream.value("Demo.NUMBER.VALUE") == "33")


@pytest.mark.parametrize(
    "snooper_upstream", [True, False], ids=["snooper-in-indiserver", "snooper-in-ipyserver"]
)
def test_snooping_across_ipyserver_linked_to_indiserver(tmp_path: Path, snooper_upstream):
    if snooper_upstream:
        up_driver = demo(tmp_path, "Mirror", snoop="Demo")
        down_args = ["--demo", "Demo"]
        env = {}
    else:
        up_driver = demo(tmp_path, "Demo")
        down_args = ["--demo", "Mirror"]
        env = {"DEMO_SNOOP": "Demo"}
    with (
        peers.indiserver(tmp_path, up_driver) as upstream,
        peers.ipyserver(
            tmp_path, *down_args, "--remote", f"127.0.0.1:{upstream.port}", env=env
        ) as downstream,
    ):
        wait_until(lambda: downstream.value("Demo.NUMBER.VALUE") == "10", 15)
        wait_until(lambda: downstream.value("Mirror.NUMBER.VALUE") == "10", 15)
        wait_until(lambda: set_and_snooped(downstream, "64"), 20)
        if snooper_upstream:
            assert upstream.value("Mirror.SNOOPED.VALUE") == "64"


def test_blob_set_in_indiserver_reaches_a_client_of_a_linked_ipyserver(tmp_path: Path):
    with (
        peers.indiserver(tmp_path, echo(tmp_path)) as upstream,
        peers.ipyserver(
            tmp_path, "--remote", f"127.0.0.1:{upstream.port}", "--blobs"
        ) as downstream,
    ):
        check_blob_echo(downstream)


# -- helpers --------------------------------------------------------------------------


def set_and_snooped(server: Peer, value: str) -> bool:
    """Set Demo.NUMBER.VALUE through *server*; True once Mirror has snooped it.

    Set again until then: the snooping driver asks again every 5 s while it
    hears nothing, and a snoop request sent before the link was up (or the
    device seen) reaches nobody, as with indiserver. A chained indiserver also
    passes only ``set*`` from its clients to snoopers, not the ``def*`` that
    answer the request, so the value must change after the request arrived.
    """
    server.setprop(f"Demo.NUMBER.VALUE={value}")
    return server.value("Mirror.SNOOPED.VALUE") == value


@contextmanager
def raw_clients(port: int, count: int) -> Iterator[list[RawClient]]:
    clients = [RawClient(port) for _ in range(count)]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


def check_blob_echo(server: Peer) -> None:
    """Upload known bytes through *server*; only the client that enabled BLOBs gets the echo."""
    data = bytes(range(256)) * 64 + b"end of the echo"
    with raw_clients(server.port, 2) as (wants, never):
        for client in (wants, never):
            client.send(GetProperties(device="Echo"))
            client.wait_for(lambda e: isinstance(e, DefBLOBVector) and e.name == "ECHO", 15)
        wants.send(EnableBLOB(device="Echo", policy=BLOBPolicy.ALSO))
        wants.send(
            NewBLOBVector(
                device="Echo",
                name="UPLOAD",
                blobs=(OneBLOB(name="UPLOAD", size=len(data), format=".bin", data=data),),
            )
        )
        got = wants.wait_for(
            lambda e: isinstance(e, SetBLOBVector) and e.name == "ECHO" and bool(e.blobs), 15
        )
        assert isinstance(got, SetBLOBVector)
        assert got.device == "Echo"
        assert (got.blobs[0].data, got.blobs[0].size, got.blobs[0].format) == (
            data,
            len(data),
            ".bin",
        )
        never.collect(1.0)
        assert not [e for e in never.events if isinstance(e, SetBLOBVector) and e.blobs]
