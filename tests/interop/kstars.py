"""Run KStars headless (Xvfb, a private D-Bus session bus) and drive its INDI D-Bus interface.

KStars 3.6.2 (Debian's ``kstars``) exports ``org.kde.kstars.INDI`` at ``/KStars/INDI`` and
one ``/KStars/INDI/GenericDevice/N`` object per INDI device (``kstars/indi/indidbus.*``,
``kstars/indi/indistd.cpp``). Everything here is bounded in time, uses its own HOME and XDG
directories, and never touches the user's session bus or display.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from tests.interop.peers import stop_session

T = TypeVar("T")

TOOLS = ("kstars", "Xvfb", "qdbus", "dbus-daemon")
SERVICE = "org.kde.kstars"
INDI = "/KStars/INDI"
GENERIC_DEVICE = "org.kde.kstars.INDI.GenericDevice"
#: KStars makes one of these (``kstars/indi/indiweather.*``, ``ISD::Weather``) for each
#: device whose DRIVER_INTERFACE has libindi's WEATHER_INTERFACE bit: what Ekos'
#: observatory module reads the weather from.
WEATHER = "org.kde.kstars.INDI.Weather"
XVFB = ["Xvfb", "-nolisten", "tcp", "-screen", "0", "1280x1024x24", "-displayfd"]
DBUS_DAEMON = [
    "dbus-daemon",
    "--session",
    "--nofork",
    "--nopidfile",
    "--nosyslog",
    "--print-address=1",
]
QUIT = ("/kstars/MainWindow_1/actions/quit", "org.qtproject.Qt.QAction.trigger")

# Without these KStars opens its startup wizard, a first-run dialog, the tip of the day, a
# KWallet prompt, or goes online for orbital elements and object names.
KSTARSRC = """\
[GUI]
RunStartupWizard=false

[General]
KStarsFirstRun=false

[View]
OrbitalElementsAutoUpdate=false

[Catalogs]
ResolveNamesOnline=false

[TipOfDay]
RunOnStart=false
"""
KWALLETRC = """\
[Wallet]
Enabled=false
First Use=false
"""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def poll(fetch: Callable[[], T], ok: Callable[[T], bool], timeout: float, what: str) -> T:
    """Call ``fetch`` until ``ok`` accepts its value; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s, last seen {value!r}")
        time.sleep(0.1)


def _read_line(fd: int, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"{what} did not answer within {timeout} s")
        chunk = os.read(fd, 256)
        if not chunk:
            raise RuntimeError(f"{what} exited before answering")
        data += chunk
    return data.decode().strip()


@contextlib.contextmanager
def _xvfb(log: Path) -> Iterator[str]:
    """An X server on a display it picks itself (``-displayfd``), with no TCP listener."""
    read_fd, write_fd = os.pipe()
    try:
        with log.open("wb") as logf:
            proc = subprocess.Popen(
                [*XVFB, str(write_fd)],
                stdout=logf,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                start_new_session=True,
            )
        os.close(write_fd)
        write_fd = -1
        try:
            yield ":" + _read_line(read_fd, 20, "Xvfb")
        finally:
            stop_session(proc)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


@contextlib.contextmanager
def _session_bus(runtime: Path, log: Path) -> Iterator[str]:
    """A private ``dbus-daemon --session``; yields its address."""
    # A unix socket path must fit in sun_path (108 bytes); fall back to a fresh name in /tmp.
    address = f"unix:dir={runtime}" if len(str(runtime)) < 80 else "unix:tmpdir=/tmp"
    with log.open("wb") as logf:
        proc = subprocess.Popen(
            [*DBUS_DAEMON, f"--address={address}"],
            stdout=subprocess.PIPE,
            stderr=logf,
            start_new_session=True,
        )
    try:
        assert proc.stdout is not None
        yield _read_line(proc.stdout.fileno(), 20, "dbus-daemon")
    finally:
        stop_session(proc)
        if proc.stdout is not None:
            proc.stdout.close()


class KStars:
    """A running KStars, driven with ``qdbus`` on its private session bus."""

    def __init__(self, proc: subprocess.Popen[bytes], env: dict[str, str], log: Path) -> None:
        self.proc = proc
        self.env = env
        self.log = log

    def qdbus(self, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["qdbus", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def call(self, path: str, method: str, *args: str) -> str:
        assert self.proc.poll() is None, f"KStars exited ({self.proc.returncode})\n{self.tail()}"
        out = self.qdbus(SERVICE, path, method, *args)
        assert out.returncode == 0, f"qdbus {path} {method} {args}: {out.stderr or out.stdout}"
        return out.stdout.rstrip("\n")

    def indi(self, method: str, *args: str) -> str:
        return self.call(INDI, method, *args)

    def answers(self) -> bool:
        return self.qdbus(SERVICE, INDI, "getDevices", timeout=5).returncode == 0

    def devices(self) -> list[str]:
        return self.indi("getDevices").splitlines()

    def objects(self, kind: str, interface: str) -> dict[str, dict[str, str]]:
        """Each ``/KStars/INDI/<kind>/N`` object by its device name: its D-Bus
        properties on *interface*, with its ``path`` added."""
        out = self.qdbus(SERVICE)
        assert out.returncode == 0, out.stderr
        found = {}
        for path in re.findall(rf"^/KStars/INDI/{kind}/\d+$", out.stdout, re.MULTILINE):
            text = self.call(path, "org.freedesktop.DBus.Properties.GetAll", interface)
            props = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
            found[props["name"]] = {**props, "path": path}
        return found

    def generic_devices(self) -> dict[str, dict[str, str]]:
        """Each ``GenericDevice``: name, connected, driverVersion..."""
        return self.objects("GenericDevice", GENERIC_DEVICE)

    def weather_stations(self) -> dict[str, dict[str, str]]:
        """Each ``Weather`` object: connected, status, refreshPeriod, data."""
        return self.objects("Weather", WEATHER)

    def quit(self, timeout: float = 30) -> int:
        """Trigger File ▸ Quit and wait for KStars to exit; returns its exit status."""
        self.call(*QUIT)
        return self.proc.wait(timeout=timeout)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def headless(tmp_path: Path, startup_timeout: float = 90) -> Iterator[KStars]:
    """KStars under Xvfb on a private session bus, with HOME and XDG dirs inside ``tmp_path``.

    Yields once KStars answers on D-Bus; KStars, the bus and the X server are killed on exit
    if still running.
    """
    home = tmp_path / "home"
    runtime = tmp_path / "run"
    (home / ".config").mkdir(parents=True)
    runtime.mkdir(mode=0o700)
    (home / ".config" / "kstarsrc").write_text(KSTARSRC)
    (home / ".config" / "kwalletrc").write_text(KWALLETRC)
    with (
        _xvfb(tmp_path / "xvfb.log") as display,
        _session_bus(runtime, tmp_path / "dbus.log") as bus,
    ):
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"SESSION_MANAGER", "WAYLAND_DISPLAY", "XAUTHORITY"}
        }
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            XDG_CACHE_HOME=str(home / ".cache"),
            XDG_STATE_HOME=str(home / ".local" / "state"),
            XDG_RUNTIME_DIR=str(runtime),
            DISPLAY=display,
            DBUS_SESSION_BUS_ADDRESS=bus,
            QT_QPA_PLATFORM="xcb",
        )
        log = tmp_path / "kstars.log"
        # KStars 3.6 now and then dies of a signal while it builds its first
        # user database, before it has seen any INDI server: started once
        # more then. Any other exit, or a second crash, fails the test.
        for attempt in (1, 2):
            with log.open("wb") as logf:
                proc = subprocess.Popen(
                    ["kstars"],
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=tmp_path,
                    start_new_session=True,
                )
            kstars = KStars(proc, env, log)
            poll(
                lambda: proc.poll() is None and kstars.answers(),  # noqa: B023 - this attempt's
                lambda up: up or proc.poll() is not None,  # noqa: B023
                startup_timeout,
                "KStars on D-Bus",
            )
            code = proc.poll()
            if code is None or code >= 0 or attempt == 2:
                break
            stop_session(proc)
        try:
            assert proc.poll() is None, f"KStars exited ({proc.returncode})\n{kstars.tail()}"
            yield kstars
        finally:
            stop_session(proc)
