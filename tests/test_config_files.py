"""Config files that are not what they seem, and strings that cannot go on the wire."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pi_indi.config import load_config, parse_config
from pi_indi.errors import ConfigError
from tests.helpers import find, parse

DEEP = "a = " + "[" * 100000 + "]" * 100000


def _bounded(call: Callable[[], Any], timeout: float = 5.0) -> list[Any]:
    """Run *call* in a thread: [its result or exception], or [] if it hung."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome


def _unblock(fifo: Path) -> None:
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def _messages(exc: ConfigError) -> list[str]:
    return [str(issue) for issue in exc.issues]


# -- nesting --------------------------------------------------------------------------


def test_a_deeply_nested_config_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        parse(DEEP)
    assert _messages(caught.value) == [
        "not valid TOML: nested too deeply (arrays or inline tables)"
    ]


def test_a_deeply_nested_config_file_is_a_config_error(tmp_path: Path):
    path = tmp_path / "deep.toml"
    path.write_text(DEEP)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(path, resolve_pin=None, find=find)


def test_a_nested_value_tomllib_takes_is_reported_not_raised():
    depth = 400  # tomllib takes it; the checker must not choke on it
    text = "[server]\nport = " + "[" * depth + "1" + "]" * depth
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert len(caught.value.issues) == 1
    assert caught.value.issues[0].path == "server.port"


# -- files that are not regular files, or too large ------------------------------------


def test_a_fifo_as_the_config_file_is_refused_at_once(tmp_path: Path):
    fifo = tmp_path / "pi-indi.toml"
    os.mkfifo(fifo)
    try:
        outcome = _bounded(lambda: load_config(fifo, resolve_pin=None, find=find))
    finally:
        _unblock(fifo)
    assert outcome, "load_config hung on a FIFO"
    assert isinstance(outcome[0], ConfigError)
    assert _messages(outcome[0]) == ["cannot read it: not a regular file (a FIFO)"]


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: p.symlink_to("/dev/zero"), "a character device"),
    ],
)
def test_other_files_that_are_not_regular_are_refused(
    tmp_path: Path, make: Callable[[Path], None], kind: str
):
    path = tmp_path / "pi-indi.toml"
    make(path)
    outcome = _bounded(lambda: load_config(path, resolve_pin=None, find=find))
    assert outcome, "load_config hung"
    assert isinstance(outcome[0], ConfigError)
    assert _messages(outcome[0]) == [f"cannot read it: not a regular file ({kind})"]


def test_a_config_file_over_a_mebibyte_is_refused(tmp_path: Path):
    path = tmp_path / "pi-indi.toml"
    with open(path, "w") as f:
        f.write("# padding\n" * (110 * 1024))  # 1.07 MiB of comments: valid TOML
    with pytest.raises(ConfigError) as caught:
        load_config(path, resolve_pin=None, find=find)
    assert _messages(caught.value) == [
        "cannot read it: larger than 1 MiB (1126400 bytes); is it the right file?"
    ]


def test_a_config_file_of_a_mebibyte_is_read(tmp_path: Path):
    path = tmp_path / "pi-indi.toml"
    line = "# padding\n"
    path.write_text(line * (1024 * 1024 // len(line)))
    assert load_config(path, resolve_pin=None, find=find).devices == ()


def _check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pi_indi", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def test_check_config_on_a_fifo_exits_78_at_once(tmp_path: Path):
    fifo = tmp_path / "pi-indi.toml"
    os.mkfifo(fifo)
    try:
        out = _check_config(fifo)
    except subprocess.TimeoutExpired:
        pytest.fail("check-config hung on a FIFO")
    finally:
        _unblock(fifo)
    assert out.returncode == 78
    assert out.stderr.splitlines() == [
        f"pi-indi: {fifo}: 1 problem",
        "  cannot read it: not a regular file (a FIFO)",
    ]


def test_check_config_on_a_deeply_nested_file_exits_78(tmp_path: Path):
    path = tmp_path / "pi-indi.toml"
    path.write_text(DEEP)
    out = _check_config(path)
    assert out.returncode == 78, out.stderr
    assert out.stderr.splitlines() == [
        f"pi-indi: {path}: 1 problem",
        "  not valid TOML: nested too deeply (arrays or inline tables)",
    ]
    assert out.stdout == ""


# -- strings that go on the wire -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Pi\\nRelays", r"'\n'"),
        ("Pi\\u0001Relays", r"'\x01'"),
        ("Pi\\u007fRelays", r"'\x7f'"),
        ("Pi\\tRelays", r"'\t'"),
        ("Pi\\u0085Relays", r"'\x85'"),
    ],
)
def test_a_device_name_with_a_control_character_is_refused(name: str, shown: str):
    text = f'[[device]]\ndriver = "plain"\nname = "{name}"\n'
    with pytest.raises(ConfigError) as caught:
        parse(text)
    [issue] = caught.value.issues
    assert issue.path.startswith("device[0] (")
    assert issue.path.endswith(").name")
    assert issue.message.endswith(
        f"has the control character {shown}, which is not allowed in an INDI name"
    )


def test_a_device_name_with_blanks_around_it_is_still_refused():
    with pytest.raises(ConfigError, match="no surrounding blanks"):
        parse('[[device]]\ndriver = "plain"\nname = " Relays"\n')


@pytest.mark.parametrize(
    ("label", "shown"),
    [("Roof\\u0000", r"'\x00'"), ("Roof\\u001b[31m", r"'\x1b'"), ("Roof\\uffff", r"'\uffff'")],
)
def test_a_label_with_a_character_xml_cannot_carry_is_refused(label: str, shown: str):
    text = f'[[device]]\ndriver = "lamp"\nname = "L"\npins = [17, 27]\nlabels = ["ok", "{label}"]\n'
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert _messages(caught.value) == [
        f"device[0] ('L').labels[1]: has the character {shown}, which XML (and so INDI)"
        " cannot carry"
    ]


def test_a_label_may_hold_tabs_and_newlines_and_any_printable_text():
    text = (
        '[[device]]\ndriver = "lamp"\nname = "Dôme, Pi 🔭"\npins = [17, 27]\n'
        'labels = ["Roof\\tNorth", "Two\\nlines\\r"]\n'
    )
    config = parse(text)
    assert config.devices[0].options.labels == ("Roof\tNorth", "Two\nlines\r")


def test_the_same_check_holds_for_every_string_of_the_file():
    with pytest.raises(ConfigError) as caught:
        parse_config('[gpio]\nmock_revision = "d0\\u000b4170"\n', resolve_pin=None, find=find)
    assert _messages(caught.value) == [
        "gpio.mock_revision: has the character '\\x0b', which XML (and so INDI) cannot carry"
    ]


# -- the example a new user starts from ------------------------------------------------


def test_the_example_calls_no_two_things_by_the_same_name():
    # A client shows device names and output labels side by side: "Dew heater"
    # as a relay and as a PWM device is two things a user cannot tell apart.
    example = Path(__file__).resolve().parents[1] / "pi_indi" / "example.toml"
    config = parse_config(example.read_text(), source=str(example))
    seen: dict[str, str] = {}
    for device in config.devices:
        names = [device.name, *getattr(device.options, "labels", ())]
        for name in names:
            key = name.casefold()
            assert key not in seen, f"{name!r} of {device.path} is also {seen[key]}"
            seen[key] = device.path
