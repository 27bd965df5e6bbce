"""Run an indipydriver-style script under indipydriver/indipyserver and under pi_indi.

The scripts in ``scripts/`` are written for indipydriver 3.1.2 and
indipyserver 0.0.6, as their documentation writes them. For pi_indi they are
copied with their import lines changed and nothing else (``port``), which is
the promise being tested. The reference packages are installed with pip in a
venv of their own, made on first use in a cache directory
(``$PI_INDI_COMPAT_CACHE``, else ``~/.cache/pi-indi-compat``); they are never
a dependency of the project.

What is compared is what a client sees: every element it is sent, with the
timestamps dropped, grouped by property, plus ``indi_getprop``'s listing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
REFERENCE = {"indipydriver": "3.1.2", "indipyserver": "0.0.6"}

# Only these lines change between the two runs of a script.
_IMPORTS = [
    (re.compile(r"^import indipydriver as (\w+)$"), r"import pi_indi as \1"),
    (re.compile(r"^import indipydriver$"), "import pi_indi as indipydriver"),
    (re.compile(r"^from indipydriver import "), "from pi_indi import "),
    (re.compile(r"^from indipyserver import "), "from pi_indi import "),
]


def port_pi_indi(text: str) -> str:
    """A script's text with its indipydriver/indipyserver imports changed to pi_indi's."""
    lines = []
    for line in text.splitlines():
        for pattern, repl in _IMPORTS:
            line = pattern.sub(repl, line)
        lines.append(line)
    ported = "\n".join(lines) + "\n"
    for old, new in zip(text.splitlines(), ported.splitlines(), strict=True):
        assert old == new or old.startswith(("import ", "from ")), f"not an import: {old!r}"
    return ported


def cache_dir() -> Path:
    return Path(os.environ.get("PI_INDI_COMPAT_CACHE", Path.home() / ".cache" / "pi-indi-compat"))


def reference_python() -> Path:
    """The python of a venv with indipydriver 3.1.2 and indipyserver 0.0.6, made once.

    Raises:
        RuntimeError: the venv could not be made (no network for pip, say).
    """
    venv = cache_dir() / "venv-{}".format("-".join(f"{k}{v}" for k, v in REFERENCE.items()))
    python = venv / "bin" / "python"
    marker = venv / "installed.json"
    if marker.exists() and json.loads(marker.read_text()) == REFERENCE and python.exists():
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *(f"{name}=={version}" for name, version in REFERENCE.items()),
        ],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(step)} failed: {done.stderr.strip()[-500:]}")
    marker.write_text(json.dumps(REFERENCE))
    return python


@dataclass
class Side:
    """One implementation: the python to run and where its copies of the scripts are."""

    name: str  # "indipy" or "pi_indi"
    python: Path
    scripts: Path
    env: dict[str, str] = field(default_factory=dict)


def prepare_sides(tmp: Path, reference: Path) -> tuple[Side, Side]:
    """Copies of every script: as written (indipy) and with imports ported (pi_indi)."""
    sides = []
    for name, python, transform in (
        ("indipy", reference, lambda t: t),
        ("pi_indi", Path(sys.executable), port_pi_indi),
    ):
        folder = tmp / name
        folder.mkdir()
        for script in SCRIPTS.glob("*.py"):
            (folder / script.name).write_text(transform(script.read_text()))
        env = {"PYTHONPATH": str(ROOT)} if name == "pi_indi" else {}
        sides.append(Side(name, python, folder, env))
    return sides[0], sides[1]


# -- processes -------------------------------------------------------------------------


class Process:
    """A script (or indiserver) running in a session of its own, killed as a group."""

    def __init__(self, cmd: Sequence[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.log = log
        self.logf = log.open("wb")
        clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        self.proc = subprocess.Popen(
            list(cmd),
            stdout=self.logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**clean, **env},
            cwd=cwd,
        )

    def wait_for_port(self, port: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited early:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"nothing listening on {port}:\n{self.output()}")

    def output(self) -> str:
        self.logf.flush()
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.logf.close()


@contextlib.contextmanager
def running(cmd: Sequence[str], env: dict[str, str], log: Path, cwd: Path) -> Iterator[Process]:
    process = Process(cmd, env, log, cwd)
    try:
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def running_scenario(
    side: Side, kind: str, script: str, upstream: str, port: int, folder: Path
) -> Iterator[Process]:
    """Start a scenario's processes; yield the one clients talk to, once it listens.

    *kind* is "server" (the script serves *port*), "stdio" (indiserver runs the
    script as a driver) or "remote" (the script serves *port* and links to
    *upstream*, another script, on a port of its own).
    """
    env = {**side.env, "INDI_PORT": str(port)}
    with contextlib.ExitStack() as stack:
        if kind == "stdio":
            exe = stdio_executable(side, script, folder)
            socket_path = f"/tmp/pi-indi-compat-{uuid.uuid4().hex}"
            cmd = ["indiserver", "-p", str(port), "-u", socket_path, str(exe)]
        else:
            if kind == "remote":
                up_port = free_port()
                up = stack.enter_context(
                    running(
                        [str(side.python), str(side.scripts / upstream)],
                        {**side.env, "INDI_PORT": str(up_port)},
                        folder / f"{Path(upstream).stem}-upstream.log",
                        folder,
                    )
                )
                up.wait_for_port(up_port)
                env["INDI_REMOTE_PORT"] = str(up_port)
            cmd = [str(side.python), str(side.scripts / script)]
        main = stack.enter_context(running(cmd, env, folder / f"{Path(script).stem}.log", folder))
        main.wait_for_port(port)
        if kind == "remote":
            time.sleep(1.5)  # the link: indipyserver's RemoteConnection polls every 0.1 s
        yield main


def stdio_executable(side: Side, script: str, folder: Path) -> Path:
    """An executable indiserver can start: the side's python running the script."""
    exe = folder / f"{side.name}-{Path(script).stem}"
    lines = [
        f"#!{side.python}",
        "import runpy, sys",
        *([f"sys.path.insert(0, {str(ROOT)!r})"] if side.name == "pi_indi" else []),
        f"runpy.run_path({str(side.scripts / script)!r}, run_name='__main__')",
    ]
    exe.write_text("\n".join(lines) + "\n")
    exe.chmod(0o755)
    return exe


# -- what a client sees ------------------------------------------------------------------

# Messages that are about the link, not the devices: not compared.
_CHATTER = re.compile(
    r"^(Keep alive message|Remote connection .*|Attempting to connect .*|Connected to .*"
    r"|Connection .*)$"
)


def _member(child: ET.Element) -> list[Any]:
    text = (child.text or "").strip()
    if child.tag == "oneBLOB":
        data = base64.b64decode("".join(text.split()))
        text = f"{len(data)} bytes sha256:{hashlib.sha256(data).hexdigest()[:16]}"
    return [child.tag, dict(sorted(child.attrib.items())), text]


def normal(element: ET.Element) -> list[Any]:
    """An element as compared: tag, attributes but the timestamp, members in order."""
    attrs = {k: v for k, v in sorted(element.attrib.items()) if k != "timestamp"}
    return [element.tag, attrs, [_member(child) for child in element]]


class Client:
    """A plain socket client that keeps every top-level element it is sent."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        self.parser.feed(b"<stream>")
        self.depth = 0
        self.elements: list[ET.Element] = []
        self.closed = False

    def send(self, xml: str) -> None:
        self.sock.sendall(xml.encode())

    def collect(self, quiet: float = 0.6, most: float = 5.0) -> list[ET.Element]:
        """Read until nothing came for *quiet* seconds (or *most* passed); return it."""
        start = len(self.elements)
        deadline = time.monotonic() + most
        while not self.closed and (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(min(quiet, left))
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                break
            self.parser.feed(chunk)
            events: Iterator[Any] = self.parser.read_events()
            for event, element in events:
                if event == "start":
                    self.depth += 1
                elif event == "end":
                    self.depth -= 1
                    if self.depth == 1 and isinstance(element, ET.Element):
                        self.elements.append(element)
        return self.elements[start:]

    def close(self) -> None:
        self.sock.close()


def transcript(elements: Sequence[ET.Element]) -> dict[str, list[Any]]:
    """Elements grouped by property, in the order they came for each one."""
    grouped: dict[str, list[Any]] = {}
    for element in elements:
        if element.tag == "message" and _CHATTER.match(element.get("message", "")):
            continue
        key = f"{element.get('device', '')}.{element.get('name', '')}"
        grouped.setdefault(key, []).append(normal(element))
    return dict(sorted(grouped.items()))


def getprop(port: int, cwd: Path) -> list[str]:
    done = subprocess.run(
        ["indi_getprop", "-w", "-p", str(port), "-t", "1", "*.*.*"],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
        cwd=cwd,
    )
    return sorted(done.stdout.splitlines())


def session(port: int, steps: Sequence[str], cwd: Path, settle: float = 0.6) -> dict[str, Any]:
    """What a client sees: the answer to getProperties, then to each step; then indi_getprop."""
    client = Client(port)
    try:
        client.send('<getProperties version="1.7"/>')
        # The answer to getProperties in any order for each property: a
        # driver snooping another may send an update before its definition
        # (clients ignore it), earlier or later depending on when it snooped.
        first = transcript(client.collect(quiet=settle + 0.4))
        seen: dict[str, Any] = {
            "getProperties": {k: sorted(v, key=json.dumps) for k, v in first.items()}
        }
        for n, step in enumerate(steps, 1):
            if step.startswith("sleep "):
                client.collect(quiet=float(step.split()[1]), most=float(step.split()[1]))
                continue
            client.send(step)
            seen[f"step {n}"] = transcript(client.collect(quiet=settle))
        seen["connection closed"] = client.closed
    finally:
        client.close()
    seen["indi_getprop"] = getprop(port, cwd)
    return seen
