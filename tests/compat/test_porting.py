"""What a driver or server script written for indipydriver 3.x / indipyserver meets.

Each test is one thing issue 11 found when such scripts were run with only
their imports changed (docs/porting.md has the list, with the reasons).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import UserDict
from pathlib import Path
from typing import Any

import pytest

import pi_indi as ipd
from pi_indi.protocol import (
    BLOBPolicy,
    DefTextVector,
    EnableBLOB,
    Event,
    GetProperties,
    Message,
    NewNumberVector,
    PropertyState,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
)
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


class Camera(ipd.IPyDriver):
    """A device "Cam" whose BLOB vector the tests fill by calling ``shoot``."""

    def __init__(self) -> None:
        member = ipd.BLOBMember("FRAME", blobformat=".bin")
        super().__init__(
            ipd.Device("Cam", [ipd.BLOBVector("IMAGE", "Image", "", "ro", "Idle", [member])])
        )

    async def shoot(self, data: bytes) -> None:
        vector = self["Cam"]["IMAGE"]
        vector["FRAME"] = data
        await vector.send_setVectorMembers(state="Ok", members=["FRAME"])


class Snooper(ipd.IPyDriver):
    """Snoops on device "Cam" and keeps what comes."""

    def __init__(self) -> None:
        text = ipd.TextVector("T", "T", "", "ro", "Ok", [ipd.TextMember("t")])
        super().__init__(ipd.Device("Watcher", [text]))
        self.seen: asyncio.Queue[Any] = asyncio.Queue()

    async def hardware(self) -> None:
        await self.send_getProperties("Cam")

    async def snoopevent(self, event: Any) -> None:
        await self.seen.put(event)

    async def next(self, kind: type, timeout: float = 5) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                event = await self.seen.get()
                if isinstance(event, kind):
                    return event


class Echo(ipd.IPyDriver):
    """Device "Dev": a number vector LEVEL and a text vector NOTE; keeps what rxevent gets."""

    def __init__(self) -> None:
        level = ipd.NumberMember("PCT", format="%.1f", min=0, max=100, step=1, membervalue=5)
        ra = ipd.NumberMember("RA", format="%9.6m", min=0, max=24, step=0, membervalue=0)
        super().__init__(
            ipd.Device(
                "Dev",
                [
                    ipd.NumberVector("LEVEL", "Level", "", "rw", "Ok", [level, ra]),
                    ipd.TextVector("NOTE", "Note", "", "rw", "Ok", [ipd.TextMember("TEXT")]),
                ],
            )
        )
        self.received: list[Any] = []

    async def rxevent(self, event: Any) -> None:
        self.received.append(event)


# -- IPyServer.add_remote(host, port, blob_enable=..., debug_enable=...) --------------


async def test_add_remote_takes_indipyservers_debug_enable_and_logs_the_link(start, caplog):
    upstream = await start(Camera())
    caplog.set_level(logging.DEBUG, logger="pi_indi.server")
    snooper = Snooper()
    await start(
        snooper,
        remotes=[
            {"host": "127.0.0.1", "port": upstream.port, "blob_enable": True, "debug_enable": True}
        ],
    )
    await snooper.next(ipd.defBLOBVector)
    label = f"remote 127.0.0.1:{upstream.port}"
    assert f"{label} RX:: <getProperties" in caplog.text  # what we sent it
    assert f'{label} TX:: <defBLOBVector device="Cam"' in caplog.text  # what it sent


# -- snooped BLOBs --------------------------------------------------------------------


async def test_driver_snooping_a_remote_device_gets_its_blobs(start):
    camera = Camera()
    upstream = await start(camera)
    snooper = Snooper()
    await start(
        snooper, remotes=[{"host": "127.0.0.1", "port": upstream.port, "blob_enable": True}]
    )
    await snooper.next(ipd.defBLOBVector)
    await camera.shoot(b"\x00frame one\xff")
    event = await snooper.next(ipd.setBLOBVector)
    assert event["FRAME"] == b"\x00frame one\xff"
    assert event.sizeformat == {"FRAME": (11, ".bin")}


async def test_driver_snooping_a_local_device_gets_its_blobs_until_it_says_never(start):
    camera = Camera()
    snooper = Snooper()
    await start(camera, snooper)
    await snooper.next(ipd.defBLOBVector)
    await camera.shoot(b"one")
    assert (await snooper.next(ipd.setBLOBVector))["FRAME"] == b"one"
    await snooper.send_enableBLOB("Never", "Cam")
    await camera.shoot(b"two")
    with pytest.raises(TimeoutError):
        await snooper.next(ipd.setBLOBVector, timeout=0.5)
    await snooper.send_enableBLOB("Also", "Cam", "IMAGE")
    await camera.shoot(b"three")
    assert (await snooper.next(ipd.setBLOBVector))["FRAME"] == b"three"


async def test_send_enableBLOB_on_stdio_asks_the_server_as_a_libindi_driver_does(run_driver):
    r = await run_driver(Snooper())
    await r.link.reply()  # the snoop request from hardware()
    await r.driver.send_enableBLOB("Also", "Cam")
    assert await r.link.reply() == EnableBLOB(device="Cam", policy=BLOBPolicy.ALSO)
    with pytest.raises(ValueError, match="Never, Also or Only"):
        await r.driver.send_enableBLOB("Sometimes", "Cam")


# -- IPyServer.shutdown(message), stop, stopped, keepalive ----------------------------


async def test_shutdown_takes_a_message_and_stop_and_stopped_tell_the_state(start, caplog):
    server = await start(Echo())
    assert server.stop is False
    assert not server.stopped.is_set()
    server.shutdown("stopping for the night")
    assert server.stop is True
    async with asyncio.timeout(5):
        await server.stopped.wait()
    assert ("pi_indi.server", logging.ERROR, "stopping for the night") in caplog.record_tuples


async def test_keepalive_message_reaches_a_client_that_heard_nothing(start):
    server = await start(Echo())
    assert server.keepalive == 30
    client = await server.connect()
    server.keepalive = 0.3
    message = await client.expect(lambda e: isinstance(e, Message), timeout=3)
    assert isinstance(message, Message)
    assert message.message == "Keep alive message"
    server.keepalive = 0
    assert await client.silent(lambda e: isinstance(e, Message), wait=0.8)
    with pytest.raises(ValueError, match="keepalive"):
        server.keepalive = -1


async def test_keepalive_is_not_sent_to_a_client_kept_busy(start):
    echo = Echo()
    server = await start(echo)
    client = await server.connect()
    await client.send(GetProperties(device="Dev"))
    await client.expect(lambda e: isinstance(e, DefTextVector))
    messages: list[Event] = []

    def update_noting_messages(event: Event) -> bool:
        if isinstance(event, Message) and all(m is not event for m in messages):
            messages.append(event)
        return isinstance(event, SetTextVector)

    server.keepalive = 0.6
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        await echo["Dev"]["NOTE"].send_setVector(state="Ok")
        await client.expect(update_noting_messages)
        await asyncio.sleep(0.1)
    assert messages == []


# -- events are UserDicts ---------------------------------------------------------------


async def test_rxevent_gets_a_userdict_it_may_read_and_trim(run_driver):
    r = await run_driver(Echo())
    await r.link.request(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "7"}))
    async with asyncio.timeout(2):
        while not r.driver.received:
            await asyncio.sleep(0.01)
    event = r.driver.received[0]
    assert isinstance(event, UserDict)
    assert event.data == {"PCT": "7"}
    assert event.get("PCT") == "7"
    assert event.get("RA", "none") == "none"
    assert list(event) == ["PCT"]
    copy = event.copy()
    assert isinstance(copy, ipd.newNumberVector)
    assert event.pop("PCT") == "7"
    assert "PCT" not in event
    assert copy["PCT"] == "7"
    assert copy.getfloatvalue("PCT") == 7.0
    with pytest.raises(TypeError, match=r"event.vector\['PCT'\] = value"):
        copy["PCT"] = "8"


async def test_snooped_events_are_userdicts_too(start):
    camera = Camera()
    snooper = Snooper()
    await start(camera, snooper)
    definition = await snooper.next(ipd.defBLOBVector)
    assert isinstance(definition, UserDict)
    await camera.shoot(b"x")
    update = await snooper.next(ipd.setBLOBVector)
    assert update.data == {"FRAME": b"x"}


# -- a refused request ------------------------------------------------------------------


class LEDDriver(ipd.IPyDriver):
    """As indipydriver's first example: answers with send_setVector(), never sets a state."""

    async def rxevent(self, event: Any) -> None:
        if isinstance(event, ipd.newSwitchVector):
            event.vector["ledmember"] = event["ledmember"]
            await event.vector.send_setVector()


async def test_a_refused_request_leaves_the_vector_in_alert_until_its_driver_sets_a_state(
    run_driver,
):
    # As in libindi. A driver that never sets a state (the first example)
    # keeps showing Alert: porting.md says to set one when answering.
    member = ipd.SwitchMember("ledmember", membervalue="Off")
    vector = ipd.SwitchVector("ledvector", "LED", "", "wo", "AtMostOne", "Ok", [member])
    r = await run_driver(LEDDriver(ipd.Device("led", [vector])))
    await r.link.request(NewNumberVector(device="led", name="ledvector", values={"x": "1"}))
    refused = await r.link.reply()
    assert isinstance(refused, SetSwitchVector)
    assert refused.state is PropertyState.ALERT
    assert vector.state == "Alert"


# -- getfloat -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   "])
def test_getfloat_of_an_empty_string_is_zero_as_in_indipydriver(text):
    assert ipd.getfloat(text) == 0.0
    assert ipd.IPyDriver.indi_number_to_float(text) == 0.0


def test_getfloat_still_refuses_what_is_no_number():
    with pytest.raises(TypeError):
        ipd.getfloat("twelve")


# -- logging under indipydriver's and indipyserver's names ----------------------------


class Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def handlers() -> Any:
    names = ["", "pi_indi", "indipydriver", "indipyserver"]
    counters = {name: Counter() for name in names}
    levels = {name: logging.getLogger(name).level for name in names}
    for name, counter in counters.items():
        logging.getLogger(name).addHandler(counter)
    yield counters
    for name, counter in counters.items():
        logging.getLogger(name).removeHandler(counter)
        logging.getLogger(name).setLevel(levels[name])


def test_records_reach_handlers_on_indipydrivers_and_indipyservers_names_once(handlers):
    import pi_indi.driver
    import pi_indi.server

    pi_indi.driver.logger.error("from the driver")
    pi_indi.server.logger.error("from the server")
    assert handlers["indipydriver"].messages == ["from the driver"]
    assert handlers["indipyserver"].messages == ["from the server"]
    assert handlers["pi_indi"].messages == ["from the driver", "from the server"]
    assert handlers[""].messages == ["from the driver", "from the server"]


def test_level_set_on_indipydrivers_name_lets_driver_debug_through(handlers):
    import pi_indi.driver
    import pi_indi.properties

    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("indipydriver").setLevel(logging.DEBUG)
    pi_indi.driver.logger.debug("xml")
    pi_indi.properties.logger.info("vector")
    assert handlers["indipydriver"].messages == ["xml", "vector"]
    assert handlers[""].messages == ["xml", "vector"]


# -- numbers set from sexagesimal text (a difference kept: docs/porting.md) -----------


async def test_sexagesimal_text_goes_out_as_a_decimal_number_as_libindi_sends_it(run_driver):
    # libindi writes a number's value with %.20g, not with its format (checked
    # against indi_simulator_telescope 1.9.9: RA, format %010.6m, is sent as
    # 12.152392583010783511); clients show it with the format.
    r = await run_driver(Echo())
    vector = r.driver["Dev"]["LEVEL"]
    vector["RA"] = "11:18:13"
    await vector.send_setVectorMembers(members=["RA"])
    update = await r.link.reply()
    assert isinstance(update, SetNumberVector)
    assert update.values["RA"] == "11.303611111111111"
    assert vector.getformattedvalue("RA") == " 11:18:13"


# -- Ctrl-C -------------------------------------------------------------------------------

GATHERING_SCRIPT = """
import asyncio, sys
sys.path.insert(0, {root!r})
import pi_indi as ipd
from pi_indi import IPyServer

async def ticking():
    while True:
        await asyncio.sleep(0.1)

async def main(port):
    text = ipd.TextVector("T", "T", "", "ro", "Ok", [ipd.TextMember("t")])
    server = IPyServer(ipd.IPyDriver(ipd.Device("D", [text])), host="127.0.0.1", port=port)
    await asyncio.gather(server.asyncrun(), ticking())

try:
    asyncio.run(main(int(sys.argv[1])))
except KeyboardInterrupt:
    print("KeyboardInterrupt caught", flush=True)
"""


def test_one_ctrl_c_ends_a_script_gathering_the_server_and_reaches_its_except(tmp_path):
    script = tmp_path / "gathering.py"
    script.write_text(GATHERING_SCRIPT.format(root=str(ROOT)))
    port = free_port()
    with subprocess.Popen(
        [sys.executable, str(script), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as proc:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the script never listened"
                time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail("one SIGINT did not end the script")
    assert proc.returncode == 0, err
    assert out.strip() == "KeyboardInterrupt caught"
