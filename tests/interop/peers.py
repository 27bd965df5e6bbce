"""Helpers to run real INDI peers (indiserver, IPyServer, indilib's tools) in tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from pi_indi.protocol import NEED_DATA, Connection, Event, encode
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def driver_executable(
    tmp_path: Path, script: Path, name: str, env: dict[str, str] | None = None
) -> Path:
    """An executable indiserver can start with no arguments."""
    exe = tmp_path / name
    lines = [
        f"#!{sys.executable}",
        "import os, runpy, sys",
        f"sys.path[:0] = [{str(ROOT)!r}, {str(script.parent)!r}]",
        *(f"os.environ[{k!r}] = {v!r}" for k, v in (env or {}).items()),
        f"runpy.run_path({str(script)!r}, run_name='__main__')",
    ]
    exe.write_text("\n".join(lines) + "\n")
    exe.chmod(0o755)
    return exe


def wait_until(check: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited early"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


class Peer:
    """A running INDI server, and indilib's tools pointed at it."""

    def __init__(self, port: int, log: Path, proc: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.log = log
        self.proc = proc

    def run(self, tool: str, *args: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool, "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def getprop(self, *specs: str, timeout: int = 2) -> dict[str, str]:
        out = self.run("indi_getprop", "-t", str(timeout), *specs)
        assert out.returncode in (0, 1), out.stderr
        return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)

    def setprop(self, *specs: str) -> None:
        out = self.run("indi_setprop", *specs)
        assert out.returncode == 0, out.stderr

    def value(self, spec: str) -> str | None:
        return self.getprop(spec).get(spec)

    def eval_waits_until_true(self, expression: str, make_true: Callable[[], None]) -> None:
        """Start ``indi_eval -w``, check it waits, make the expression true, see it exit 0."""
        with subprocess.Popen(
            ["indi_eval", "-p", str(self.port), "-t", "10", "-w", expression],
            stderr=subprocess.PIPE,
            text=True,
        ) as watcher:
            time.sleep(0.5)
            assert watcher.poll() is None, "indi_eval should still be waiting"
            make_true()
            _, err = watcher.communicate(timeout=10)
            assert watcher.returncode == 0, err

    def send_raw(self, xml: bytes) -> None:
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(xml)
            time.sleep(0.3)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running(
    cmd: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[Peer]:
    with log.open("wb") as logf:
        proc = subprocess.Popen(
            cmd,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    try:
        wait_for_port(port, proc)
        yield Peer(port, log, proc)
    finally:
        stop_session(proc, timeout=10)


def stop_session(proc: subprocess.Popen[bytes], timeout: float = 5) -> None:
    """End a process started in its own session, and everything it started.

    The group is signalled even when its leader has gone: what it started
    (a browser under its driver) may still be there.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def indiserver(
    tmp_path: Path, *drivers: str, port: int | None = None
) -> contextlib.AbstractContextManager[Peer]:
    port = port or free_port()
    cmd = ["indiserver", "-v", "-p", str(port), "-u", f"/tmp/pi-indi-{uuid.uuid4().hex}", *drivers]
    return running(cmd, port, tmp_path / f"indiserver-{port}.log")


def ipyserver(
    tmp_path: Path, *args: str, port: int | None = None, env: dict[str, str] | None = None
) -> contextlib.AbstractContextManager[Peer]:
    port = port or free_port()
    cmd = [sys.executable, str(HERE / "serve.py"), str(port), *args]
    return running(cmd, port, tmp_path / f"ipyserver-{port}.log", env)


class RawClient:
    """A blocking INDI client on a plain socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.conn = Connection(max_blob_element=256 << 20)
        self.events: list[Event] = []

    def send(self, event: Event | bytes) -> None:
        self.sock.sendall(event if isinstance(event, bytes) else encode(event))

    def collect(self, seconds: float) -> list[Event]:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                break
            if not chunk:
                break
            self.conn.receive_data(chunk)
            while (event := self.conn.next_event()) is not NEED_DATA:
                self.events.append(event)  # type: ignore[arg-type]
        return self.events

    def wait_for(self, match: Callable[[Event], bool], seconds: float = 10) -> Event:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for event in self.events:
                if match(event):
                    return event
            self.collect(0.2)
        raise TimeoutError("expected event never came")

    def close(self) -> None:
        self.sock.close()
