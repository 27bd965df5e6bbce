# ruff: noqa: S101 - pytest asserts
"""Black-box tests of the file_sensor plugin: pi-indi serves it on mock pins, a raw client reads.

Run with the Python of an environment where pi-indi and this plugin are
installed: the server is ``python -m pi_indi serve --mock``, which finds the
driver through its entry point, as on an appliance.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

DEVICE = "Test file"
MOCK_DEVICE = "Mock GPIO"  # where pi-indi serve --mock lets clients set simulated readings
SERVER_START_TIMEOUT = 20.0
REPLY_TIMEOUT = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path, value_file: Path) -> Path:
    config = tmp_path / "pi-indi.toml"
    config.write_text(
        f"""\
[state]
directory = "{tmp_path / "state"}"

[[device]]
driver = "file_sensor"
name = "{DEVICE}"
path = "{value_file}"
scale = 0.001
offset = 1.5
label = "Temperature"
unit = "°C"
minimum = -40.0
maximum = 125.0
interval = 0.1
""",
        encoding="utf-8",
    )
    return config


class Client:
    """A raw INDI client: a socket, and the top-level elements it received."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT)
        self.parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        self.parser.feed(b"<stream>")  # the INDI stream has no root element
        self.depth = 0
        #: Messages received and not yet expected, in arrival order.
        self.received: list[ET.Element] = []

    def close(self) -> None:
        self.sock.close()

    def send(self, xml: str) -> None:
        self.sock.sendall(xml.encode())

    def expect(
        self,
        tag: str,
        name: str | None,
        timeout: float = REPLY_TIMEOUT,
        device: str = DEVICE,
        label: str | None = None,
    ) -> ET.Element:
        """The first *tag* element for vector *name* (any: None) of *device*, within *timeout* s.

        It is taken from :attr:`received`; the others stay there.
        """
        deadline = time.monotonic() + timeout
        while True:
            for i, element in enumerate(self.received):
                if (
                    element.tag == tag
                    and element.get("device") == device
                    and name in (None, element.get("name"))
                    and label in (None, element.get("label"))
                ):
                    return self.received.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no <{tag} name={name!r}> within {timeout} s")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise AssertionError("the server closed the connection")
            self.parser.feed(data)
            self._read_messages()

    def _read_messages(self) -> None:
        for item in self.parser.read_events():
            event, element = item[0], item[-1]
            if not isinstance(element, ET.Element):
                continue  # only with "start-ns"/"end-ns", not asked for
            if event == "start":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 1:  # a child of <stream>: one INDI message
                    self.received.append(element)


def _write(path: Path, text: str) -> None:
    # Atomically, as sysfs changes: a reading never sees a half-written file.
    new = path.with_suffix(".new")
    new.write_text(text)
    os.replace(new, path)


def _value(element: ET.Element) -> float:
    (member,) = [m for m in element if m.get("name") == "VALUE"]
    return float((member.text or "").strip())


def _wait_for_value(client: Client, expected: float) -> ET.Element:
    """The definition, or an update after it, showing *expected*."""
    element = client.expect("defNumberVector", "FILE_VALUE")
    deadline = time.monotonic() + REPLY_TIMEOUT
    while _value(element) != pytest.approx(expected):
        element = client.expect("setNumberVector", "FILE_VALUE", deadline - time.monotonic())
    return element


@pytest.fixture
def value_file(tmp_path: Path) -> Path:
    path = tmp_path / "temp"
    _write(path, "42000\n")
    return path


@contextlib.contextmanager
def _serving(tmp_path: Path, value_file: Path) -> Iterator[int]:
    """A pi-indi serving a file_sensor reading *value_file* on mock pins; its port."""
    port = _free_port()
    config = _config(tmp_path, value_file)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "pi_indi",
                "serve",
                "--mock",
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"pi-indi serve exited with {process.returncode}:\n{log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"pi-indi serve did not listen:\n{log.read_text()}")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def port(tmp_path: Path, value_file: Path) -> Iterator[int]:
    with _serving(tmp_path, value_file) as port:
        yield port


@contextlib.contextmanager
def _client(port: int) -> Iterator[Client]:
    client = Client(port)
    try:
        client.send('<getProperties version="1.7"/>')
        yield client
    finally:
        client.close()


@pytest.fixture
def client(port: int) -> Iterator[Client]:
    with _client(port) as client:
        yield client


def test_the_definition_carries_the_scaled_value_from_the_file(port: int, client: Client) -> None:
    # The first reading may come after a first client's getProperties...
    _wait_for_value(client, 42000 * 0.001 + 1.5)
    # ...but from then on a definition carries it.
    late = Client(port)
    try:
        late.send('<getProperties version="1.7"/>')
        definition = late.expect("defNumberVector", "FILE_VALUE")
    finally:
        late.close()
    assert _value(definition) == pytest.approx(43.5)
    assert definition.get("perm") == "ro"
    assert definition.get("label") == "Temperature"
    (member,) = list(definition)
    assert member.get("label") == "Temperature (°C)"
    assert float(member.get("min", "nan")) == -40.0
    assert float(member.get("max", "nan")) == 125.0


def test_a_changed_file_is_sent_at_the_next_reading(client: Client, value_file: Path) -> None:
    _wait_for_value(client, 43.5)
    _write(value_file, "50000\n")
    update = client.expect("setNumberVector", "FILE_VALUE")
    assert _value(update) == pytest.approx(51.5)
    assert update.get("state") == "Ok"


def test_a_file_without_a_number_is_an_alert_with_the_reason(
    client: Client, value_file: Path
) -> None:
    _wait_for_value(client, 43.5)
    _write(value_file, "not a number\n")
    alert = client.expect("setNumberVector", "FILE_VALUE")
    assert alert.get("state") == "Alert"
    assert "does not hold a number" in (alert.get("message") or "")
    _write(value_file, "20000\n")
    again = client.expect("setNumberVector", "FILE_VALUE")
    assert again.get("state") == "Ok"
    assert _value(again) == pytest.approx(21.5)


def test_in_mock_mode_a_value_set_on_the_mock_device_is_shown(client: Client) -> None:
    _wait_for_value(client, 43.5)
    # The Mock GPIO device has a number vector per simulated reading, labelled
    # "<device>: <reading's label>"; setting it replaces what the file says.
    control = client.expect(
        "defNumberVector", None, device=MOCK_DEVICE, label=f"{DEVICE}: Temperature"
    )
    vectorname = control.get("name")
    client.send(
        f'<newNumberVector device="{MOCK_DEVICE}" name="{vectorname}">'
        '<oneNumber name="VALUE">-12.25</oneNumber></newNumberVector>'
    )
    update = client.expect("setNumberVector", "FILE_VALUE")
    assert _value(update) == pytest.approx(-12.25)
    assert update.get("state") == "Ok"


def test_in_mock_mode_a_missing_file_shows_the_simulated_value(tmp_path: Path) -> None:
    with _serving(tmp_path, tmp_path / "missing") as port, _client(port) as client:
        definition = client.expect("defNumberVector", "FILE_VALUE")
        assert _value(definition) == 0.0  # the start of the range -40..125
        # The first reading puts it in Ok (a file read would be an Alert),
        # before the definition or after it.
        shown = definition
        if shown.get("state") == "Idle":
            shown = client.expect("setNumberVector", "FILE_VALUE")
        assert shown.get("state") == "Ok"
        assert _value(shown) == 0.0
        control = client.expect(
            "defNumberVector", None, device=MOCK_DEVICE, label=f"{DEVICE}: Temperature"
        )
        client.send(
            f'<newNumberVector device="{MOCK_DEVICE}" name="{control.get("name")}">'
            '<oneNumber name="VALUE">30</oneNumber></newNumberVector>'
        )
        update = client.expect("setNumberVector", "FILE_VALUE")
        assert _value(update) == pytest.approx(30.0)
        assert update.get("state") == "Ok"
