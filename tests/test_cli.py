"""The pi-indi command: check-config, show-config, list-drivers, init, serve."""

from __future__ import annotations

import os
import subprocess
import sys
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
    assert out.stdout.splitlines() == [
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


def test_check_config_of_a_missing_file(tmp_path: Path):
    out = run_cli("check-config", "--config", str(tmp_path / "none.toml"))
    assert out.returncode == 78
    assert "cannot read it: No such file or directory" in out.stdout


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
