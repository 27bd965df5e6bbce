"""The pi-indi command: check-config, show-config, list-drivers, init, serve."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from pi_indi import cli
from pi_indi.config import DEFAULT_ALLOW
from pi_indi.registry import bundled_driver_names

BAD = """\
[server]
prot = 7624
[gpio]
pin_factory = "lgpoi"
[[device]]
driver = "led"
name = "A"
pins = [17]
[[device]]
driver = "relay"
name = "B"
pins = ["BOARD11"]
"""


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pi_indi", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_check_config_lists_every_problem_and_exits_78(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    out = run_cli("check-config", "--config", str(path))
    assert out.returncode == cli.EX_CONFIG == 78
    # Problems go to stderr, as serve and show-config print them.
    assert out.stdout == ""
    assert out.stderr.splitlines() == [
        f"pi-indi: {path}: 3 problems",
        "  server.prot: unknown key; did you mean 'port'?",
        "  gpio.pin_factory: must be one of 'auto', 'lgpio', 'rpigpio', 'pigpio', 'native',"
        " 'mock', not 'lgpoi'; did you mean 'lgpio'?",
        "  device[1] ('B').pins[0]: GPIO17 is already used by device[0] ('A').pins[0]",
    ]


def test_serve_refuses_a_bad_config_with_78_before_listening(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    out = run_cli("serve", "--mock", "--config", str(path), "--port", "0")
    assert out.returncode == 78
    assert "3 problems" in out.stderr


def test_reload_with_a_bad_file_exits_78_without_signalling(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    # sleep dies of a SIGHUP: it is still there only if it was not signalled.
    with subprocess.Popen(["sleep", "30"]) as victim:
        try:
            out = run_cli("reload", "--pid", str(victim.pid), "--config", str(path))
            assert out.returncode == cli.EX_CONFIG
            assert "  server.prot: unknown key; did you mean 'port'?" in out.stderr
            assert f"not reloading PID {victim.pid}" in out.stderr
            assert victim.poll() is None
        finally:
            victim.kill()


def test_reload_does_not_signal_a_process_that_published_nothing(tmp_path: Path):
    # A runtime directory is known but this PID never said it can reload
    # (a wrong PID, or a service not listening yet): SIGHUP could end it.
    path = tmp_path / "good.toml"
    path.write_text("")
    with subprocess.Popen(["sleep", "30"]) as victim:
        try:
            out = run_cli(
                "reload", "--pid", str(victim.pid), "--config", str(path),
                "--runtime-dir", str(tmp_path),
            )  # fmt: skip
            assert out.returncode == 1
            assert "published nothing" in out.stderr
            assert victim.poll() is None
        finally:
            victim.kill()


def test_reload_looks_where_the_service_writes_when_runtime_directory_names_several(
    tmp_path: Path,
):
    from pi_indi._systemd import ReloadState, ReloadStateFile

    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    path = tmp_path / "good.toml"
    path.write_text("")
    env = {**os.environ, "RUNTIME_DIRECTORY": f"{first}:{second}"}
    with subprocess.Popen(["sleep", "30"]) as victim:
        try:
            # What the service publishes: its file in the first directory,
            # saying it cannot reload (so the command refuses, without a signal).
            written = ReloadStateFile.from_environ(env)
            assert written.path == str(first / "reload.json")
            written.write(
                ReloadState(pid=victim.pid, config=str(path), reloadable=False, started=0,
                            outcomes=())
            )  # fmt: skip
            out = subprocess.run(
                [sys.executable, "-m", "pi_indi", "reload", "--pid", str(victim.pid),
                 "--config", str(path)],
                capture_output=True, text=True, check=False, timeout=60, env=env,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            assert out.returncode == 1, out.stderr
            assert "cannot reload" in out.stderr
            assert victim.poll() is None
        finally:
            victim.kill()


def test_reload_help_says_what_systemctl_reload_shows():
    out = run_cli("reload", "--help")
    assert "ExecReload=" in out.stdout
    assert "RUNTIME_DIRECTORY" in out.stdout


@pytest.mark.parametrize("command", ["check-config", "show-config", "serve"])
def test_a_missing_config_file_says_how_to_write_one(tmp_path: Path, command: str):
    path = tmp_path / "none.toml"
    out = run_cli(command, "--config", str(path))
    assert out.returncode == 78
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert lines[:2] == [
        f"pi-indi: {path}: 1 problem",
        "  cannot read it: No such file or directory",
    ]
    assert f"pi-indi init {path}" in out.stderr


def run_cli_without_etc(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pi-indi ARGS`` where the default config file (/etc/pi-indi.toml) is not there."""
    missing = str(tmp_path / "etc" / "pi-indi.toml")
    code = (
        "import sys; from pi_indi import cli; cli.DEFAULT_CONFIG = sys.argv[1];"
        " sys.exit(cli.main(sys.argv[2:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, missing, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "STATE_DIRECTORY": str(tmp_path / "state")},
    )


@pytest.mark.parametrize("command", ["check-config", "show-config", "serve"])
def test_no_default_config_says_to_init_one_or_try_mock(tmp_path: Path, command: str):
    out = run_cli_without_etc(tmp_path, command)
    assert out.returncode == 78
    assert out.stdout == ""
    assert "cannot read it: No such file or directory" in out.stderr
    assert "sudo pi-indi init" in out.stderr
    assert "pi-indi serve --mock" in out.stderr


def test_reload_without_a_config_file_does_not_offer_mock(tmp_path: Path):
    out = run_cli_without_etc(tmp_path, "reload", "--pid", "999999")
    assert out.returncode == 78
    assert "sudo pi-indi init" in out.stderr
    assert "--mock" not in out.stderr


@pytest.mark.parametrize("command", ["check-config", "show-config"])
def test_mock_without_a_config_file_checks_the_bundled_example(tmp_path: Path, command: str):
    # What the hint offers works: --mock with no config file is the bundled example.
    out = run_cli_without_etc(tmp_path, command, "--mock")
    assert out.returncode == 0, out.stderr
    assert "<bundled example>" in out.stdout


def test_list_drivers_names_every_bundled_driver():
    out = run_cli("list-drivers")
    assert out.returncode == 0, out.stderr
    listed = [line.split()[0] for line in out.stdout.splitlines() if line and line[0] != " "]
    assert listed == bundled_driver_names()
    assert "load error" not in out.stdout


def test_init_writes_the_example_and_will_not_overwrite(tmp_path: Path):
    path = tmp_path / "pi-indi.toml"
    out = run_cli("init", str(path))
    assert out.returncode == 0, out.stderr
    assert path.read_text() == (Path(cli.__file__).parent / "example.toml").read_text()
    again = run_cli("init", str(path))
    assert again.returncode == 1
    assert "exists; use --force" in again.stderr
    assert run_cli("init", "--force", str(path)).returncode == 0


def test_show_config_prints_the_effective_config_as_toml(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[server]\nport = 7000\n[[device]]\ndriver = "led"\nname = "A"\npins = ["J8:11"]\n'
    )
    out = run_cli("show-config", "--config", str(path))
    assert out.returncode == 0, out.stderr
    shown = tomllib.loads(out.stdout)
    assert shown["server"] == {
        "host": "0.0.0.0",
        "port": 7000,
        "bind": [],
        "allow": [*DEFAULT_ALLOW],
        "maxconnections": 5,
        "max_connections_per_minute": 120,
        "max_connections_per_address": 4,
        "handshake_seconds": 10.0,
        "max_client_queue_mb": 4.0,
        "max_element_kb": 1024,
        "max_blob_mb": 4.0,
    }
    assert shown["gpio"]["pin_factory"] == "auto"
    (device,) = shown["device"]
    assert device["pins"] == ["GPIO17"]
    assert device["driver"] == "led"


@pytest.mark.parametrize(
    "command", ["serve", "check-config", "show-config", "list-drivers", "init", "reload"]
)
def test_every_command_has_help(command: str):
    out = run_cli(command, "--help")
    assert out.returncode == 0
    assert out.stdout.startswith(f"usage: pi-indi {command}")


def test_top_level_help_teaches_the_first_steps():
    out = run_cli("--help")
    assert out.returncode == 0
    assert "pi-indi serve --mock" in out.stdout
    assert "check-config" in out.stdout


def _serve_and_ask(tmp_path: Path, *options: str) -> str:
    """Run ``pi-indi serve --mock`` on a one-LED config, ask it for everything, stop it; its log."""
    from tests.helpers import free_port

    path = tmp_path / "led.toml"
    path.write_text('[[device]]\ndriver = "led"\nname = "Lamp"\npins = [17]\n')
    port = free_port()
    args = ["serve", "--mock", "--config", str(path), "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "STATE_DIRECTORY": str(tmp_path / "state")}
    with subprocess.Popen(
        [sys.executable, "-m", "pi_indi", *args, *options],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as server:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.1)
            with sock:
                sock.sendall(b'<getProperties version="1.7"/>')
                received = b""
                while b"CONNECTION" not in received:
                    received += sock.recv(1 << 16)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                _, log = server.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                raise
    return log


def test_serve_vv_logs_every_indi_message(tmp_path: Path):
    log = _serve_and_ask(tmp_path, "-vv")
    assert 'RX:: <getProperties version="1.7"/>' in log
    assert 'TX:: <defSwitchVector device="Lamp" name="CONNECTION"' in log
    # libindi's DEBUG switch says so.
    debug = log.split('TX:: <defSwitchVector device="Lamp" name="DEBUG"', 1)[1]
    debug = debug.split("</defSwitchVector>", 1)[0]
    enable = debug.split('<defSwitch name="ENABLE"', 1)[1].split("</defSwitch>", 1)[0]
    assert enable.split(">", 1)[1].strip() == "On"


def test_serve_v_logs_no_indi_message(tmp_path: Path):
    log = _serve_and_ask(tmp_path, "-v")
    assert "RX::" not in log
    assert "TX::" not in log


def test_a_config_file_not_readable_says_who_may_read_it(capsys: pytest.CaptureFixture[str]):
    # Run as root, the tests cannot make a file it may not read: the hint alone.
    from pi_indi.errors import ConfigError, ConfigIssue

    error = ConfigError([ConfigIssue("", "cannot read it: Permission denied")], "/etc/x.toml")
    error.__cause__ = PermissionError(13, "Permission denied")
    args = cli._parser().parse_args(["check-config", "--config", "/etc/x.toml"])
    hint = cli._unreadable_hint(args, error)
    assert "may not read /etc/x.toml" in hint
    assert "sudo pi-indi check-config" in hint
    # serve is not to run as root outside the hardened unit: the chmod, or the service.
    args = cli._parser().parse_args(["serve", "--config", "/etc/x.toml"])
    hint = cli._unreadable_hint(args, error)
    assert "sudo pi-indi serve" not in hint
    assert "sudo chmod a+r /etc/x.toml" in hint
    assert "sudo systemctl start pi-indi" in hint


def test_serve_on_a_port_in_use_says_what_to_do(tmp_path: Path):
    path = tmp_path / "empty.toml"
    path.write_text("")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run_cli("serve", "--config", str(path), "--host", "127.0.0.1", "--port", str(port))
    assert out.returncode == 1
    line = next(line for line in out.stderr.splitlines() if line.startswith("pi-indi:"))
    assert f"cannot listen on 127.0.0.1:{port}:" in line
    assert "address already in use" in line
    assert "another INDI server" in out.stderr
    assert "--port" in out.stderr


def test_an_unknown_driver_does_not_hide_the_pin_problems(tmp_path: Path):
    # Every problem at once: fixing the driver's name must not bring new ones to light.
    path = tmp_path / "typo.toml"
    path.write_text(
        '[gpio]\npin_factory = "mock"\n'
        '[[device]]\ndriver = "relya"\nname = "Relays"\npins = [17, "GPIO99"]\n'
        '[[device]]\ndriver = "led"\nname = "Lamp"\npins = [17]\n'
    )
    out = run_cli("check-config", "--config", str(path))
    assert out.returncode == 78
    assert out.stderr.splitlines() == [
        f"pi-indi: {path}: 3 problems",
        "  device[0] ('Relays').driver: unknown driver 'relya'; did you mean 'relay'?",
        "  device[0] ('Relays').pins[1]: GPIO99 is not a valid pin name on a simulated Raspberry Pi 5B",
        "  device[1] ('Lamp').pins[0]: GPIO17 is already used by device[0] ('Relays').pins[0]",
    ]
