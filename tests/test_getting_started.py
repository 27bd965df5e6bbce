"""docs/getting-started.md works as written: its commands run here, or are checked against the sources.

The page's shell blocks carry a marker, ``<!-- test: run -->`` or ``<!-- test: not run -->``.

- The walk-through runs the page in order against ``pi-indi serve --mock``, which stands
  in for the service: it starts with the config both install routes install
  (``deploy/pi-indi.toml``), gets the page's ```toml block, is reloaded with the unit's own
  ``ExecReload`` command, and is then driven by every command of the "run" blocks, on a
  free loopback port. ``raspberrypi.local`` becomes 127.0.0.1 and ``/etc/pi-indi.toml``
  the test's file. A press of the button is simulated through the "Mock GPIO" device.
- Every command of the "not run" blocks (apt, SSH, systemd, the installers) is listed in
  ``NOT_RUN`` with the reason, and with a check of what it names where there is one: the
  list and the page must agree line for line, so neither drifts.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from tests.helpers import free_port
from tests.interop import peers

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "getting-started.md"
INSTALLED = ROOT / "deploy" / "pi-indi.toml"  # the /etc/pi-indi.toml both routes install
UNIT = ROOT / "systemd" / "pi-indi.service"
PI_INDI = Path(sys.executable).parent / "pi-indi"
INDI_TOOLS = Path("/usr/bin")

BLOCK = re.compile(
    r"(?:<!-- test: (?P<marker>run|not run) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)^```", re.M | re.S
)


@dataclass(frozen=True)
class Block:
    lang: str
    marker: str | None
    body: str

    @property
    def commands(self) -> list[str]:
        """The command lines, without their trailing comments."""
        lines = (re.sub(r"\s+#\s.*$", "", line).strip() for line in self.body.splitlines())
        return [line for line in lines if line and not line.startswith("#")]


def page_blocks() -> list[Block]:
    text = PAGE.read_text()
    return [Block(m["lang"], m["marker"], m["body"]) for m in BLOCK.finditer(text)]


def shell_blocks() -> list[Block]:
    return [b for b in page_blocks() if b.lang == "sh"]


def device_tables() -> str:
    (toml,) = [b.body for b in page_blocks() if b.lang == "toml"]
    return toml


def edited_config() -> str:
    """The installed config with the page's device tables, as the page says to edit it."""
    return INSTALLED.read_text() + "\n" + device_tables()


# -- what the commands not run here name -------------------------------------------------


def _words_after(command: str, prefix: str) -> set[str]:
    assert command.startswith(prefix)
    return set(command.removeprefix(prefix).split())


def _deb_name() -> str:
    """The file deploy/build-deb.sh builds: pi-indi_VERSION_all.deb, from deploy/debian."""
    changelog = (ROOT / "deploy" / "debian" / "changelog").read_text()
    version = re.match(r"pi-indi \(([^)]+)\)", changelog)
    assert version is not None
    control = (ROOT / "deploy" / "debian" / "control").read_text()
    assert re.search(r"^Architecture: all$", control, re.M)
    return f"pi-indi_{version[1]}_all.deb"


def check_build_dependencies(command: str) -> None:
    script = (ROOT / "deploy" / "build-deb.sh").read_text()
    needs = re.search(r"# Needs \(Debian 12 or later\): (.*?)\.\n", script, re.S)
    assert needs is not None
    needed = set(needs[1].replace("#", " ").split())
    # build-essential: dpkg-buildpackage's implicit build dependency (dpkg-checkbuilddeps).
    assert _words_after(command, "sudo apt install ") == {"git", "build-essential"} | needed
    control = (ROOT / "deploy" / "debian" / "control").read_text()
    build_depends = re.search(r"^Build-Depends:(.*?)^\S", control, re.M | re.S)
    assert build_depends is not None
    for dep in build_depends[1].split(","):
        name = dep.split()[0].replace("debhelper-compat", "debhelper")
        assert name in needed


def check_build_script(command: str) -> None:
    script = ROOT / "deploy" / "build-deb.sh"
    assert command == f"bash {script.relative_to(ROOT)}"
    assert 'outdir="${1:-$here/build/deb}"' in script.read_text()
    example = re.search(r"`(build/deb/pi-indi_[^`]*\.deb)`", PAGE.read_text())
    assert example is not None
    assert example[1] == f"build/deb/{_deb_name()}"


def check_deb_pattern(command: str) -> None:
    (pattern,) = re.findall(r"\S*pi-indi_\S*\.deb", command)
    assert fnmatch.fnmatch(_deb_name(), Path(pattern).name)


def check_install_packages(command: str) -> None:
    script = (ROOT / "deploy" / "install.sh").read_text()
    for package in _words_after(command, "sudo apt install ") - {"git"}:
        assert package in script, package


def check_install_script(command: str) -> None:
    script = ROOT / "deploy" / "install.sh"
    assert command == f"sudo {script.relative_to(ROOT)}"
    assert os.access(script, os.X_OK)
    # With no argument it installs the checkout it sits in when this holds.
    assert """grep -q '^name = "pi-indi"' "$top/pyproject.toml\"""" in script.read_text()
    assert re.search(r'^name = "pi-indi"$', (ROOT / "pyproject.toml").read_text(), re.M)


def check_commented_examples(command: str) -> None:
    text = INSTALLED.read_text()
    for driver in ("relay", "button"):
        assert re.search(rf'^# driver = "{driver}"', text, re.M), driver


def check_unit(command: str) -> None:
    assert re.search(r"(-u |systemctl \w+ )pi-indi\b", command)
    assert UNIT.is_file()


def check_reload(command: str) -> None:
    check_unit(command)
    assert exec_reload()


def check_ssh_tunnel(command: str) -> None:
    assert tomllib.loads(INSTALLED.read_text())["server"]["port"] == 7624
    assert "-L 7624:localhost:7624 " in command


# command line -> (why it is not run here, what is checked instead)
NOT_RUN: dict[str, tuple[str, Callable[[str], None] | None]] = {
    "sudo apt install git build-essential dpkg-dev debhelper dh-python"
    " pybuild-plugin-pyproject python3-all python3-setuptools": (
        "installs packages as root; the list is checked against build-deb.sh and the control file",
        check_build_dependencies,
    ),
    "cd pi-indi": ("the reader's clone of the source", None),
    "bash deploy/build-deb.sh": (
        "a 15 s build that scripts/check-packaging.sh runs; the file name it gives is checked",
        check_build_script,
    ),
    "scp build/deb/pi-indi_*_all.deb pi@raspberrypi.local:": (
        "needs a Pi to copy to; the pattern must match the .deb's name",
        check_deb_pattern,
    ),
    "sudo apt install ./pi-indi_*_all.deb": (
        "installs as root on a Pi; scripts/test-deb-chroot.sh and the system test install the"
        " .deb; the pattern must match its name",
        check_deb_pattern,
    ),
    "sudo apt install git python3-venv python3-lgpio python3-systemd": (
        "installs packages as root; each is one install.sh expects",
        check_install_packages,
    ),
    "sudo deploy/install.sh": (
        "installs into / as root; scripts/check-packaging.sh runs it into a temporary root",
        check_install_script,
    ),
    "sudo nano /etc/pi-indi.toml": (
        "an editor: the test writes the page's device tables into its copy of the installed"
        " config instead",
        check_commented_examples,
    ),
    "sudo systemctl reload pi-indi": (
        "systemd is not running here: the test runs the unit's ExecReload command instead",
        check_reload,
    ),
    "systemctl status pi-indi": ("systemd is not running here", check_unit),
    "journalctl -u pi-indi -n 20": (
        "systemd is not running here: the test reads the server's log instead",
        check_unit,
    ),
    "sudo apt install indi-bin": (
        "installs packages on the laptop; the test uses indi-bin's tools from /usr/bin",
        None,
    ),
    "ssh pi@raspberrypi.local 'python3 -m venv ~/indipyterm && ~/indipyterm/bin/pip install"
    " indipyterm'": ("needs a Pi to log in to, and PyPI", None),
    "ssh -t pi@raspberrypi.local '~/indipyterm/bin/indipyterm'": (
        "needs a Pi to log in to, and a terminal for the full-screen client",
        None,
    ),
    "ssh -N -L 7624:localhost:7624 pi@raspberrypi.local": (
        "needs a Pi to log in to; the client after it is run against the test's port",
        check_ssh_tunnel,
    ),
    "python3 -m venv ~/indipyweb && ~/indipyweb/bin/pip install indipyweb==0.2.1": (
        "installs into the Pi user's home; scripts/test.sh installs this version in a venv"
        " of the tests, and tests/interop/test_indipyweb.py drives it from a browser",
        None,
    ),
    "~/indipyweb/bin/indipyweb --port 8000 --dbfolder ~/indipyweb": (
        "a server that runs until stopped; tests/interop/test_indipyweb.py runs it so",
        None,
    ),
}


def test_every_shell_block_says_whether_it_is_run():
    blocks = shell_blocks()
    assert blocks
    assert [b.body for b in blocks if b.marker is None] == []
    assert any(b.marker == "run" for b in blocks)


def test_the_commands_not_run_are_the_ones_listed_with_a_reason():
    on_page = [c for b in shell_blocks() if b.marker == "not run" for c in b.commands]
    assert set(on_page) == set(NOT_RUN)


@pytest.mark.parametrize("command", [c for c, (_, check) in NOT_RUN.items() if check])
def test_what_a_command_not_run_names_is_there(command: str):
    _, check = NOT_RUN[command]
    assert check is not None
    check(command)


def test_the_wiring_uses_the_header_pins_it_names():
    page = PAGE.read_text()
    header = MockFactory().board_info.headers["J8"]  # every 40-pin Pi has this header
    named = re.findall(r"pin (\d+) \(([0-9A-Z]+)\)", page)
    assert named
    for number, name in named:
        assert header.pins[int(number)].name == name, f"pin {number}"
    for device in tomllib.loads(device_tables())["device"]:
        for pin in device["pins"]:
            assert f"(GPIO{pin})" in page, pin


def test_the_readme_sends_newcomers_here_first():
    readme = (ROOT / "README.md").read_text()
    first = re.search(r"docs/[\w/-]+\.md", readme)
    assert first is not None
    assert first[0] == "docs/getting-started.md"


# -- the walk-through ------------------------------------------------------------------


def exec_reload() -> str:
    """The unit's ExecReload= command line."""
    line = re.search(r"^ExecReload=(.*)$", UNIT.read_text(), re.M)
    assert line is not None
    return line[1]


def here(command: str, config: Path, port: int) -> str:
    """*command* as it runs here: the test's config file and server instead of the Pi's."""
    command = command.replace("/etc/pi-indi.toml", str(config))
    if command.startswith("pi-indi "):
        if not re.search(r"(^| )(-c|--config) ", command):
            command += f" --config {config}"
        return f"{PI_INDI} {command.removeprefix('pi-indi ')}"
    tool = re.match(r"indi_\w+", command)
    assert tool is not None, f"no way to run {command!r} here: list it in NOT_RUN"
    command = command.replace("-h raspberrypi.local", "-h 127.0.0.1")
    if "-h " not in command:
        command = command.replace(tool[0], f"{tool[0]} -h 127.0.0.1", 1)
    return command.replace(tool[0], f"{INDI_TOOLS / tool[0]} -p {port}", 1)


def run(command: str, timeout: float = 30) -> str:
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.mark.interop
@pytest.mark.skipif(
    shutil.which("indi_getprop", path=str(INDI_TOOLS)) is None, reason="indi-bin is not installed"
)
def test_the_walk_through_runs_here(tmp_path: Path):
    config = tmp_path / "pi-indi.toml"
    config.write_text(INSTALLED.read_text())
    runtime = tmp_path / "run"
    runtime.mkdir()
    env = {"RUNTIME_DIRECTORY": str(runtime), "STATE_DIRECTORY": str(tmp_path / "state")}
    os_env = {**os.environ, **env}
    port = free_port()
    (button,) = [d for d in tomllib.loads(device_tables())["device"] if d["driver"] == "button"]
    press = here(f'indi_setprop "Mock GPIO.PIN_GPIO{button["pins"][0]}.LOW=On"', config, port)
    serve = [str(PI_INDI), "serve", "--mock", "--config", str(config)]
    serve += ["--host", "127.0.0.1", "--port", str(port)]
    ran: dict[str, str] = {}
    with peers.running(serve, port, tmp_path / "serve.log", env) as server:
        peers.wait_until(lambda: "ready: 0 devices" in server.log_text())
        for block in shell_blocks():
            for command in block.commands:
                if block.marker == "not run":
                    if command == "sudo nano /etc/pi-indi.toml":
                        config.write_text(edited_config())
                    elif command == "sudo systemctl reload pi-indi":
                        reload = exec_reload().replace("/usr/bin/pi-indi", str(PI_INDI))
                        reload = reload.replace("$MAINPID", str(server.proc.pid))
                        done = subprocess.run(
                            ["bash", "-c", reload.replace("/etc/pi-indi.toml", str(config))],
                            env=os_env,
                            capture_output=True,
                            text=True,
                            timeout=60,
                            check=False,
                        )
                        assert done.returncode == 0, done.stderr
                    continue
                line = here(command, config, port)
                if " -w " in command:  # indi_eval waits for the button: press it
                    with subprocess.Popen(
                        ["bash", "-c", line], stdout=subprocess.PIPE, text=True
                    ) as waiting:
                        time.sleep(1)
                        assert waiting.poll() is None, "indi_eval should wait for the press"
                        try:
                            run(press)
                            ran[command], _ = waiting.communicate(timeout=30)
                        finally:
                            waiting.kill()
                        assert waiting.returncode == 0, command
                else:
                    ran[command] = run(line)
        log = server.log_text()

    page = PAGE.read_text()
    # What the page says the commands print, they print.
    said = re.search(r"It prints `([^`]*)`", page)
    assert said is not None
    assert said[1].replace("/etc/pi-indi.toml", str(config)) in ran["pi-indi check-config"]
    said = re.search(r"The log ends with `([^`]*)\.\.\.`", page)
    assert said is not None
    assert said[1] in log
    values = re.findall(r"`([A-Z][\w ]*\.[A-Z0-9_]+\.[A-Z0-9_]+=\w+)`", page)
    assert len(values) >= 2
    outputs = "".join(ran.values())
    for value in values:
        assert value in outputs
    # The relay was switched on, then off (the tunnel's client, last, reads it off);
    # the button's press was seen as it happened, and counted.
    on = 'indi_getprop -h raspberrypi.local "Relay.DIGITAL_OUTPUT_1.*"'
    assert "Relay.DIGITAL_OUTPUT_1.ON=On" in ran[on]
    assert "Relay.DIGITAL_OUTPUT_1.OFF=On" in ran['indi_getprop "Relay.*.*"']
    assert [v for k, v in ran.items() if " -w " in k] == ["pressed\n"]
    assert "Button.INPUT_COUNT.INPUT_1=1" in outputs
