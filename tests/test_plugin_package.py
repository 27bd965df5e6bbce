"""examples/plugin, installed as a third party's distribution would be, works from its venv.

A fresh venv sees this environment's packages (pi-indi, installed editable by
scripts/test.sh, and the test tools) through a ``.pth`` file, and gets the
plugin installed by pip from a copy of examples/plugin: a distribution with
its entry point, in that venv only. Every command then runs with the venv's
Python, from a directory outside the repo.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pi_indi import cli
from pi_indi.protocol import DefNumberVector, GetProperties, SetNumberVector
from tests.helpers import free_port
from tests.interop.peers import ROOT, RawClient, wait_for_port

PLUGIN = ROOT / "examples" / "plugin"
DISTRIBUTION = "pi-indi-example-plugin"
TIMEOUT = 60  # seconds, for any one command

GOOD = """\
[state]
directory = "{state}"

[[device]]
driver = "file_sensor"
name = "Enclosure"
path = "{path}"
scale = 0.001
offset = -0.5
unit = "°C"
minimum = -40.0
maximum = 125.0
interval = 0.1
"""

BAD = """\
[[device]]
driver = "file_sensor"
name = "Enclosure"
path = "/sys/class/thermal/thermal_zone0/temp"
scael = 0.001
interval = 0
"""


@dataclass(frozen=True)
class Venv:
    python: Path
    purelib: Path
    workdir: Path  # outside the repo: nothing there shadows an installed package

    def run(self, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args],
            cwd=self.workdir,
            env=_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PIP_NO_INPUT": "1"}
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A new venv with the plugin installed into it by pip."""
    try:
        importlib.metadata.distribution("pi-indi")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("pi-indi is not installed here (scripts/test.sh runs pip install -e .)")
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed here: nothing can install the plugin")
    root = tmp_path_factory.mktemp("plugin-venv")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root / "venv")],
        check=True,
        timeout=TIMEOUT,
        env=_env(),
    )
    python = root / "venv" / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=_env(),
        ).stdout.strip()
    )
    # addsitedir, not a bare path: it also runs that directory's .pth files,
    # which is how the editable pi-indi (and coverage in subprocesses) load.
    here = sysconfig.get_paths()["purelib"]
    (purelib / "_pi_indi_test_env.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    # pip builds in the source tree (build/, *.egg-info): give it a copy.
    source = root / "src"
    shutil.copytree(
        PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    workdir = root / "work"
    workdir.mkdir()
    env = Venv(python, purelib, workdir)
    # The plugin's build backend (setuptools) comes from the configured index;
    # its dependency, pi-indi, is the editable install seen through the .pth.
    out = env.run(
        "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
        "--root-user-action=ignore", str(source),
    )  # fmt: skip
    if (
        out.returncode != 0
        and "setuptools" in out.stderr
        and ("No matching distribution" in out.stderr or "Could not find a version" in out.stderr)
    ):
        pytest.skip(f"pip cannot get the plugin's build backend here: {out.stderr[-300:]}")
    assert out.returncode == 0, out.stdout + out.stderr
    return env


def test_the_plugin_is_a_distribution_installed_in_the_venv_only(venv: Venv):
    out = venv.run(
        "-c",
        "import importlib.metadata as m, pi_indi_example_plugin as p\n"
        f"d = m.distribution({DISTRIBUTION!r})\n"
        "print(d.locate_file(''))\n"
        "print([(e.group, e.name, e.value) for e in d.entry_points])\n"
        "print(p.__file__)",
    )
    assert out.returncode == 0, out.stderr
    location, entry_points, module = out.stdout.splitlines()
    assert Path(location) == venv.purelib
    assert entry_points == str(
        [("pi_indi.drivers", "file_sensor", "pi_indi_example_plugin:FileSensorDriver")]
    )
    assert Path(module).is_relative_to(venv.purelib)
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution(DISTRIBUTION)  # not in this environment


def test_list_drivers_shows_the_plugin_with_its_distribution(venv: Venv):
    out = venv.run("-m", "pi_indi", "list-drivers")
    assert out.returncode == 0, out.stderr
    (line,) = [line for line in out.stdout.splitlines() if line.startswith("file_sensor ")]
    assert line.endswith(f"[{DISTRIBUTION}]")
    assert "A number read from a file" in line
    assert any(line.startswith("cpu_temperature ") for line in out.stdout.splitlines())


def test_check_config_accepts_a_table_using_the_plugin(venv: Venv, tmp_path: Path):
    config = tmp_path / "good.toml"
    config.write_text(GOOD.format(state=tmp_path / "state", path=tmp_path / "temp"))
    out = venv.run("-m", "pi_indi", "check-config", "--config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr


def test_check_config_refuses_bad_options_naming_the_keys(venv: Venv, tmp_path: Path):
    config = tmp_path / "bad.toml"
    config.write_text(BAD)
    out = venv.run("-m", "pi_indi", "check-config", "--config", str(config))
    assert out.returncode == cli.EX_CONFIG == 78, out.stdout + out.stderr
    assert "device[0] ('Enclosure').scael: unknown key; did you mean 'scale'?" in out.stderr
    assert "device[0] ('Enclosure').interval: must be between 0.05 and 86400 s" in out.stderr


def test_check_config_runs_the_plugins_own_checks(venv: Venv, tmp_path: Path):
    config = tmp_path / "bad.toml"
    config.write_text(
        GOOD.format(state=tmp_path / "state", path=tmp_path / "temp").replace(
            "scale = 0.001", "scale = 0.0"
        )
    )
    out = venv.run("-m", "pi_indi", "check-config", "--config", str(config))
    assert out.returncode == 78, out.stdout + out.stderr
    assert "device[0] ('Enclosure').scale: is 0: every reading would be the offset" in out.stderr


@pytest.fixture
def served(venv: Venv, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """``pi-indi serve --mock`` from the venv, serving a file_sensor; its port and file."""
    value = tmp_path / "temp"
    value.write_text("21500\n")
    config = tmp_path / "pi-indi.toml"
    config.write_text(GOOD.format(state=tmp_path / "state", path=value))
    port = free_port()
    args = ["serve", "--mock", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [str(venv.python), "-m", "pi_indi", *args],
        cwd=venv.workdir,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, proc, timeout=20)
        yield port, value
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()


def _number(event: object) -> float | None:
    if isinstance(event, DefNumberVector) and event.name == "FILE_VALUE":
        return float(event.members[0].value)
    if isinstance(event, SetNumberVector) and event.name == "FILE_VALUE":
        return float(event.values["VALUE"])
    return None


def test_serve_mock_serves_the_plugins_device(served: tuple[int, Path]):
    port, value = served
    client = RawClient(port)
    try:
        client.send(GetProperties(version="1.7"))
        # The definition, or (when it came before the first reading) an update after it.
        client.wait_for(lambda e: _number(e) == pytest.approx(21.0), seconds=10)
        (definition,) = [
            e for e in client.events if isinstance(e, DefNumberVector) and e.name == "FILE_VALUE"
        ]
        assert definition.device == "Enclosure"
        assert definition.perm == "ro"
        value.write_text("30000\n")
        client.wait_for(lambda e: _number(e) == pytest.approx(29.5), seconds=5)
    finally:
        client.close()


def test_the_plugins_own_tests_pass_in_the_venv(venv: Venv):
    out = venv.run(
        "-m",
        "pytest",
        str(PLUGIN / "tests"),
        "-q",
        "-p",
        "no:cacheprovider",
        # Installed here for this repo's suite; the plugin's tests do not use it.
        "-p",
        "no:asyncio",
        "-c",
        str(PLUGIN / "pyproject.toml"),
        "--rootdir",
        str(PLUGIN),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert " passed" in out.stdout
