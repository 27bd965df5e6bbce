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
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("indiserver") is None, reason="indi-bin is not installed"),
]


def driver_executable(tmp_path: Path, script: Path, name: str) -> Path:
    """An executable indiserver can start with no arguments."""
    exe = tmp_path / name
    exe.write_text(
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        f"sys.path[:0] = [{str(ROOT)!r}, {str(script.parent)!r}]\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
    )
    exe.chmod(0o755)
    return exe


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "indiserver exited early"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


class Server:
    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log

    def run(self, tool: str, *args: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool, "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def getprop(self, *specs: str) -> dict[str, str]:
        out = self.run("indi_getprop", "-t", "2", *specs)
        assert out.returncode == 0, out.stderr
        return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)

    def send_raw(self, xml: bytes) -> None:
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(xml)
            time.sleep(0.3)


def wait_until(check, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.fixture
def indiserver(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    exe = driver_executable(tmp_path, ROOT / "tests" / "interop" / "demo_driver.py", "pi_indi_demo")
    led = driver_executable(tmp_path, ROOT / "examples" / "led_driver.py", "pi_indi_led")
    log = tmp_path / "indiserver.log"
    with log.open("wb") as logf:
        proc = subprocess.Popen(
            [
                "indiserver",
                "-v",
                "-p",
                str(port),
                "-u",
                f"/tmp/pi-indi-{uuid.uuid4().hex}",
                str(exe),
                str(led),
            ],
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, proc)
        server = Server(port, log)
        wait_until(lambda: "Demo.SWITCH.ON" in server.getprop("Demo.SWITCH.ON"))
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "restart" not in log.read_text(), "a driver died under indiserver:\n" + log.read_text()


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
    wait_until(lambda: indiserver.getprop(spec)[spec] == expected)


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
    with subprocess.Popen(
        ["indi_eval", "-p", str(indiserver.port), "-t", "10", "-w", '"Demo.NUMBER.VALUE" > 50'],
        stderr=subprocess.PIPE,
        text=True,
    ) as watcher:
        time.sleep(0.5)
        assert watcher.poll() is None, "indi_eval should still be waiting"
        assert indiserver.run("indi_setprop", "Demo.NUMBER.VALUE=60").returncode == 0
        _, err = watcher.communicate(timeout=10)
        assert watcher.returncode == 0, err


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
