"""pi_indi drivers run by indilib's indiserver, driven by indilib's own tools.

These are the tests that prove interoperability: the driver is an executable
started by the C indiserver (stdin/stdout one AF_UNIX socket, BLOBs passed as
memfd attachments), and it is read and changed with indi_getprop,
indi_setprop and indi_eval from Debian's indi-bin.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop import peers
from tests.interop.peers import ROOT, Peer, driver_executable, wait_until

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("indiserver") is None, reason="indi-bin is not installed"),
]


@pytest.fixture
def indiserver(tmp_path: Path) -> Iterator[Peer]:
    exe = driver_executable(tmp_path, ROOT / "tests" / "interop" / "demo_driver.py", "pi_indi_demo")
    led = driver_executable(tmp_path, ROOT / "examples" / "led_driver.py", "pi_indi_led")
    with peers.indiserver(tmp_path, str(exe), str(led)) as server:
        wait_until(lambda: "Demo.SWITCH.ON" in server.getprop("Demo.SWITCH.ON"))
        yield server
        log = server.log_text()
    assert "restart" not in log, "a driver died under indiserver:\n" + log


def test_indi_getprop_lists_every_property(indiserver):
    props = indiserver.getprop("Demo.*.*")
    assert props["Demo.SWITCH.ON"] == "Off"
    assert props["Demo.SWITCH.OFF"] == "On"
    assert props["Demo.NUMBER.VALUE"] == "10"
    assert props["Demo.TEXT.NOTE"] == "hello"
    assert props["Demo.LIGHT.LAMP"] == "Idle"
    assert indiserver.getprop("Demo.NUMBER._STATE") == {"Demo.NUMBER._STATE": "Ok"}


def test_indi_setprop_switch_updates_switch_and_light(indiserver):
    out = indiserver.run("indi_setprop", "Demo.SWITCH.ON=On")
    assert out.returncode == 0, out.stderr
    wait_until(lambda: indiserver.getprop("Demo.SWITCH.ON")["Demo.SWITCH.ON"] == "On")
    props = indiserver.getprop("Demo.SWITCH.*", "Demo.LIGHT.LAMP")
    assert props["Demo.SWITCH.OFF"] == "Off"
    assert props["Demo.LIGHT.LAMP"] == "Ok"


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        pytest.param("42.5", "42.5", id="decimal"),
        pytest.param("12:30:00", "12.5", id="sexagesimal-colon"),
        pytest.param("-12:30", "-12.5", id="sexagesimal-negative"),
        pytest.param("1e1", "10", id="exponent"),
    ],
)
def test_indi_setprop_number_in_decimal_and_sexagesimal(indiserver, sent, expected):
    member = "VALUE" if not sent.startswith("-") else "ANGLE"
    out = indiserver.run("indi_setprop", f"Demo.NUMBER.{member}={sent}")
    assert out.returncode == 0, out.stderr
    spec = f"Demo.NUMBER.{member}"
    wait_until(lambda: indiserver.value(spec) == expected)


def test_out_of_range_number_is_refused_with_alert(indiserver):
    out = indiserver.run("indi_setprop", "Demo.NUMBER.VALUE=1000")
    assert out.returncode == 0, out.stderr
    wait_until(lambda: indiserver.getprop("Demo.NUMBER._STATE")["Demo.NUMBER._STATE"] == "Alert")
    assert indiserver.getprop("Demo.NUMBER.VALUE")["Demo.NUMBER.VALUE"] == "10"


def test_text_with_markup_characters_round_trips(indiserver):
    # indi_setprop sends values unescaped (so "<" would be malformed XML) and
    # splits on ";", so the escaped request comes from a raw client.
    indiserver.send_raw(
        b'<newTextVector device="Demo" name="TEXT">'
        b'<oneText name="NOTE">a&lt;b &amp; c "q" \'s\'</oneText></newTextVector>\n'
    )
    wait_until(
        lambda: indiserver.getprop("Demo.TEXT.NOTE")["Demo.TEXT.NOTE"] == "a<b & c \"q\" 's'"
    )
    out = indiserver.run("indi_setprop", "Demo.TEXT.NOTE=plain words")
    assert out.returncode == 0
    wait_until(lambda: indiserver.getprop("Demo.TEXT.NOTE")["Demo.TEXT.NOTE"] == "plain words")


def test_indi_eval_watches_until_an_update_makes_it_true(indiserver):
    indiserver.eval_waits_until_true(
        '"Demo.NUMBER.VALUE" > 50', lambda: indiserver.setprop("Demo.NUMBER.VALUE=60")
    )


def test_blob_from_a_client_reaches_the_driver_through_indiserver_attachment(indiserver):
    data = bytes(range(256)) * 37 + b"tail"
    indiserver.send_raw(
        b'<newBLOBVector device="Demo" name="UPLOAD">'
        b'<oneBLOB name="UPLOAD" size="%d" format=".bin">%s</oneBLOB></newBLOBVector>\n'
        % (len(data), base64.encodebytes(data))
    )
    wait_until(lambda: indiserver.getprop("Demo.UPLOAD_INFO.SIZE")["Demo.UPLOAD_INFO.SIZE"] != "")
    info = indiserver.getprop("Demo.UPLOAD_INFO.*")
    assert info["Demo.UPLOAD_INFO.SIZE"] == str(len(data))
    assert info["Demo.UPLOAD_INFO.SHA256"] == hashlib.sha256(data).hexdigest()
    assert info["Demo.UPLOAD_INFO.FORMAT"] == ".bin"


def test_seed_led_example_runs_under_indiserver(indiserver):
    # The example is indipydriver's first example with only its import changed.
    assert indiserver.run("indi_setprop", "led.ledvector.ledmember=On").returncode == 0

    def lit() -> bool:
        out = indiserver.run("indi_getprop", "-w", "-t", "2", "led.ledvector.ledmember")
        return "led.ledvector.ledmember=On" in out.stdout

    wait_until(lit)
