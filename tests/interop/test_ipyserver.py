"""IPyServer with real peers: indilib's tools and simulators, indiserver, indipyclient."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pi_indi.protocol import (
    BLOBPolicy,
    DefBLOBVector,
    DelProperty,
    EnableBLOB,
    GetProperties,
    NewNumberVector,
    NewSwitchVector,
    SetBLOBVector,
    SwitchState,
)
from tests.interop import peers
from tests.interop.peers import HERE, RawClient, driver_executable, wait_until

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("indiserver") is None, reason="indi-bin is not installed"),
]


def test_indi_tools_list_set_and_watch_through_ipyserver(tmp_path: Path):
    with peers.ipyserver(tmp_path, "--demo", "Demo") as server:
        props = server.getprop("Demo.*.*")
        assert props["Demo.SWITCH.OFF"] == "On"
        assert props["Demo.NUMBER.VALUE"] == "10"
        server.setprop("Demo.SWITCH.ON=On")
        wait_until(lambda: server.value("Demo.LIGHT.LAMP") == "Ok")
        server.setprop("Demo.NUMBER.VALUE=12:30")
        wait_until(lambda: server.value("Demo.NUMBER.VALUE") == "12.5")
        server.setprop("Demo.TEXT.NOTE=set through pi-indi")
        wait_until(lambda: server.value("Demo.TEXT.NOTE") == "set through pi-indi")
        server.eval_waits_until_true(
            '"Demo.NUMBER.VALUE" > 50', lambda: server.setprop("Demo.NUMBER.VALUE=75")
        )


def test_indipyclient_lists_devices_and_sets_a_switch(tmp_path: Path):
    indipyclient = pytest.importorskip("indipyclient")

    with peers.ipyserver(tmp_path, "--demo", "Demo") as server:

        async def session() -> Any:
            client = indipyclient.IPyClient(indihost="127.0.0.1", indiport=server.port)
            task = asyncio.create_task(client.asyncrun())
            try:
                async with asyncio.timeout(15):
                    while "Demo" not in client or "SWITCH" not in client["Demo"]:
                        await asyncio.sleep(0.05)
                    devices = list(client)
                    await client.send_newVector("Demo", "SWITCH", members={"ON": "On"})
                    while client["Demo"]["SWITCH"]["ON"] != "On":
                        await asyncio.sleep(0.05)
                    return devices, dict(client["Demo"]["SWITCH"])
            finally:
                client.shutdown()
                await task

        devices, switch = asyncio.run(session())
    assert devices == ["Demo"]
    assert switch == {"ON": "On", "OFF": "Off"}


def test_indilib_simulators_run_as_exdrivers(tmp_path: Path):
    with peers.ipyserver(
        tmp_path, "--exdriver", "indi_simulator_telescope", "--exdriver", "indi_simulator_ccd"
    ) as server:
        wait_until(lambda: server.value("Telescope Simulator.CONNECTION.CONNECT") == "Off", 15)
        # A getProperties without version makes libindi drivers exit; the
        # server adds the version, so the simulator lives on.
        server.send_raw(b"<getProperties/>")
        server.setprop("Telescope Simulator.CONNECTION.CONNECT=On")
        wait_until(
            lambda: (
                "Telescope Simulator.EQUATORIAL_EOD_COORD.RA"
                in server.getprop("Telescope Simulator.EQUATORIAL_EOD_COORD.*")
            ),
            15,
        )
        log = server.log_text()
    assert "exited with status" not in log.split("shutting down")[0], log


def test_ccd_blob_reaches_the_client_that_asked_and_no_other(tmp_path: Path):
    with peers.ipyserver(tmp_path, "--exdriver", "indi_simulator_ccd") as server:
        wants, never = RawClient(server.port), RawClient(server.port)
        try:
            never.send(GetProperties(device="CCD Simulator"))
            image = _expose_and_wait_for_image(wants).blobs[0]
            assert len(image.data) > 1000
            assert image.format.startswith(".fits")
            never.collect(1.0)
            assert not [e for e in never.events if isinstance(e, SetBLOBVector) and e.blobs]
            assert [e for e in never.events if getattr(e, "name", "") == "CCD_EXPOSURE"]
        finally:
            wants.close()
            never.close()


def _expose_and_wait_for_image(client: RawClient) -> SetBLOBVector:
    client.send(GetProperties(device="CCD Simulator"))
    client.wait_for(lambda e: getattr(e, "name", "") == "CONNECTION", 15)
    client.send(EnableBLOB(device="CCD Simulator", policy=BLOBPolicy.ALSO))
    client.send(
        NewSwitchVector(
            device="CCD Simulator", name="CONNECTION", values={"CONNECT": SwitchState.ON}
        )
    )
    client.wait_for(lambda e: isinstance(e, DefBLOBVector), 15)
    client.wait_for(lambda e: getattr(e, "name", "") == "CCD_EXPOSURE", 15)
    client.send(
        NewNumberVector(
            device="CCD Simulator",
            name="CCD_EXPOSURE",
            values={"CCD_EXPOSURE_VALUE": "0.1"},
        )
    )
    blob = client.wait_for(lambda e: isinstance(e, SetBLOBVector) and bool(e.blobs), 30)
    assert isinstance(blob, SetBLOBVector)
    return blob


def test_blobs_cross_a_remote_link_when_enabled(tmp_path: Path):
    with (
        peers.indiserver(tmp_path, "indi_simulator_ccd") as upstream,
        peers.ipyserver(tmp_path, "--remote", f"127.0.0.1:{upstream.port}", "--blobs") as server,
    ):
        wait_until(lambda: server.value("CCD Simulator.CONNECTION.CONNECT") == "Off", 15)
        client = RawClient(server.port)
        try:
            image = _expose_and_wait_for_image(client).blobs[0]
        finally:
            client.close()
    assert image.format.startswith(".fits")
    assert image.size >= len(image.data) > 1000


def test_exdriver_killed_is_deleted_for_clients_and_restarted(tmp_path: Path):
    exe = driver_executable(tmp_path, HERE / "demo_driver.py", "pi_indi_demo")
    with peers.ipyserver(tmp_path, "--exdriver", str(exe)) as server:
        watcher = RawClient(server.port)
        try:
            watcher.send(GetProperties(device="Demo"))
            watcher.wait_for(lambda e: getattr(e, "name", "") == "SWITCH")
            out = subprocess.run(
                ["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True, check=False
            )
            pids = [int(p) for p in out.stdout.split()]
            assert pids
            for pid in pids:
                subprocess.run(["kill", "-9", str(pid)], check=False)
            watcher.wait_for(lambda e: isinstance(e, DelProperty) and e.device == "Demo")
            wait_until(lambda: server.value("Demo.SWITCH.OFF") == "On", 15)
        finally:
            watcher.close()
        assert "restart 1 of 10" in server.log_text()


def test_ipyserver_chains_to_indiserver_with_snooping_across_the_link(tmp_path: Path):
    demo = driver_executable(tmp_path, HERE / "demo_driver.py", "pi_indi_demo")
    with (
        peers.indiserver(tmp_path, str(demo)) as upstream,
        peers.ipyserver(
            tmp_path,
            "--demo",
            "Mirror",
            "--remote",
            f"127.0.0.1:{upstream.port}",
            env={"DEMO_SNOOP": "Demo"},
        ) as server,
    ):
        wait_until(lambda: server.value("Demo.NUMBER.VALUE") == "10", 15)
        server.setprop("Demo.NUMBER.VALUE=64")
        wait_until(lambda: upstream.value("Demo.NUMBER.VALUE") == "64")
        # Mirror (in our server) snoops Demo (behind indiserver).
        wait_until(lambda: server.value("Mirror.SNOOPED.VALUE") == "64", 15)


def test_indiserver_chains_to_ipyserver(tmp_path: Path):
    with (
        peers.ipyserver(tmp_path, "--demo", "Demo") as upstream,
        peers.indiserver(tmp_path, f"Demo@127.0.0.1:{upstream.port}") as downstream,
    ):
        wait_until(lambda: downstream.value("Demo.NUMBER.VALUE") == "10", 15)
        downstream.setprop("Demo.NUMBER.VALUE=33")
        wait_until(lambda: upstream.value("Demo.NUMBER.VALUE") == "33")
        wait_until(lambda: downstream.value("Demo.NUMBER.VALUE") == "33")


def test_no_exdriver_outlives_a_server_killed_with_sigkill(tmp_path: Path):
    # A driver that never reads stdin, so only the parent-death signal can end
    # it: closing its pipes would not.
    stubborn = tmp_path / "stubborn_driver"
    stubborn.write_text("#!/bin/sh\nexec sleep 600\n")
    stubborn.chmod(0o755)
    with peers.ipyserver(tmp_path, "--exdriver", str(stubborn)) as server:
        wait_until(lambda: "started" in server.log_text(), 10)
        out = subprocess.run(
            ["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True, check=False
        )
        children = [int(p) for p in out.stdout.split()]
        assert children
        server.proc.kill()  # the server only, not its process group
        server.proc.wait()

        def gone() -> bool:
            return all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in children)

        wait_until(gone, 10)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
