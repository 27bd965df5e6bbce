"""The service under systemd's notify protocol, against a real unix datagram socket.

Each test runs ``pi-indi serve`` as a child process with ``NOTIFY_SOCKET``
pointing at a socket the test reads, as systemd would.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pi_indi._systemd import Notifier, configure_logging, under_journal
from pi_indi.protocol import (
    DefLightVector,
    DefSwitchVector,
    DelProperty,
    Event,
    GetProperties,
    NewSwitchVector,
    SetSwitchVector,
    SwitchState,
)
from tests.helpers import free_port
from tests.interop.peers import ROOT, RawClient, wait_until

CONFIG = """\
[server]
host = "127.0.0.1"
[[device]]
driver = "relay"
name = "Relays"
pins = [17]
[[device]]
driver = "led"
name = "Lamp"
pins = [27]
labels = ["{label}"]
[[device]]
driver = "tests.service.stall_driver:StallDriver"
name = "Staller"
"""


class NotifySocket:
    """The receiving end of sd_notify: what systemd would read."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="notify-", dir="/tmp")  # short: sun_path is 108 bytes
        self.path = os.path.join(self.dir, "sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self.seen = 0  # messages before this one were looked at by wait_for

    def read(self, seconds: float) -> list[tuple[float, dict[str, str]]]:
        deadline = time.monotonic() + seconds
        got = []
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                break
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            got.append((time.monotonic(), fields))
        self.messages += got
        return got

    def wait_for(self, key: str, value: str | None = None, seconds: float = 10) -> dict[str, str]:
        """The next message (after the last one waited for) with KEY (=VALUE)."""
        deadline = time.monotonic() + seconds
        while True:
            while self.seen < len(self.messages):
                _, fields = self.messages[self.seen]
                self.seen += 1
                if key in fields and (value is None or fields[key] == value):
                    return fields
            if time.monotonic() >= deadline:
                break
            self.read(min(0.2, deadline - time.monotonic()))
        raise TimeoutError(f"no {key}={value} from the service; got {self.messages[-5:]}")

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self.dir)


class Service:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, config: Path, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.config = config
        self.log = log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


@contextlib.contextmanager
def service(
    tmp_path: Path, notify: NotifySocket, watchdog_usec: int | None = 200_000, **env: str
) -> Iterator[Service]:
    config = tmp_path / "pi-indi.toml"
    if not config.exists():
        config.write_text(CONFIG.format(label="Lamp"))
    port = free_port()
    log = tmp_path / "service.log"
    environ = {
        **os.environ,
        "NOTIFY_SOCKET": notify.path,
        "STATE_DIRECTORY": str(tmp_path / "state"),
        **env,
    }
    environ.pop("WATCHDOG_USEC", None)
    if watchdog_usec is not None:
        environ["WATCHDOG_USEC"] = str(watchdog_usec)
    cmd = [sys.executable, "-m", "pi_indi", "serve", "--mock", "-c", str(config)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield Service(proc, port, config, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


_open_clients: list[RawClient] = []


def opened(client: RawClient) -> RawClient:
    """Remember *client*, so it is closed even when its test fails."""
    _open_clients.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _open_clients:
        _open_clients.pop().close()


def test_ready_only_once_listening_with_status(tmp_path: Path, notify: NotifySocket):
    with service(tmp_path, notify) as svc:
        fields = notify.wait_for("READY", "1")
        # READY comes after the bind: the port answers at once.
        with socket.create_connection(("127.0.0.1", svc.port), timeout=1):
            pass
        assert fields["STATUS"] == f"3 devices, 0 clients, on 127.0.0.1:{svc.port}"
        ready_at = next(t for t, f in notify.messages if f.get("READY") == "1")
        assert not any("WATCHDOG" in f for t, f in notify.messages if t < ready_at)


def test_watchdog_pings_from_the_loop_and_stop_when_it_stalls(tmp_path: Path, notify: NotifySocket):
    with service(tmp_path, notify, watchdog_usec=200_000) as svc:
        notify.wait_for("READY", "1")
        pings = [t for t, f in notify.read(1.0) if f.get("WATCHDOG") == "1"]
        assert len(pings) >= 6  # every 0.1 s: half of WATCHDOG_USEC
        assert max(b - a for a, b in itertools.pairwise(pings)) < 0.4
        client = opened(RawClient(svc.port))
        sent = time.monotonic()
        client.send(NewSwitchVector(device="Staller", name="STALL", values={"NOW": SwitchState.ON}))
        stalled = [t for t, f in notify.read(2.5) if f.get("WATCHDOG") == "1"]
        # The blocked loop sent nothing for the 1.5 s it was stuck, then went on.
        # (A ping already on its way when the request was sent may come first.)
        times = [sent, *stalled]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        stuck = max(range(len(gaps)), key=gaps.__getitem__)
        assert gaps[stuck] > 1.2
        assert times[stuck] - sent < 0.3  # it stalled at once, not later
        after = stalled[stuck:]
        assert len(after) >= 5
        assert max(b - a for a, b in itertools.pairwise(after)) < 0.4
        client.close()


def test_watchdog_usec_sets_the_interval(tmp_path: Path, notify: NotifySocket):
    with service(tmp_path, notify, watchdog_usec=1_000_000):
        notify.wait_for("READY", "1")
        pings = [t for t, f in notify.read(2.2) if f.get("WATCHDOG") == "1"]
        assert 3 <= len(pings) <= 6  # every 0.5 s


def test_no_watchdog_pings_without_watchdog_usec(tmp_path: Path, notify: NotifySocket):
    with service(tmp_path, notify, watchdog_usec=None):
        notify.wait_for("READY", "1")
        assert not any(f.get("WATCHDOG") for _, f in notify.read(1.0))


def test_no_watchdog_pings_for_another_pid(tmp_path: Path, notify: NotifySocket):
    with service(tmp_path, notify, watchdog_usec=200_000, WATCHDOG_PID="1"):
        notify.wait_for("READY", "1")
        assert not any(f.get("WATCHDOG") for _, f in notify.read(1.0))


def test_stopping_on_sigterm_and_a_clean_exit(tmp_path: Path, notify: NotifySocket):
    with service(tmp_path, notify) as svc:
        notify.wait_for("READY", "1")
        svc.proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING", "1")
        assert svc.proc.wait(timeout=10) == 0


def _collect(client: RawClient, seconds: float) -> list[Event]:
    start = len(client.events)
    client.collect(seconds)
    return client.events[start:]


def test_sighup_with_a_broken_config_keeps_serving_the_old_one(
    tmp_path: Path, notify: NotifySocket
):
    with service(tmp_path, notify) as svc:
        notify.wait_for("READY", "1")
        client = opened(RawClient(svc.port))
        client.send(GetProperties(version="1.7"))
        client.wait_for(lambda e: isinstance(e, DefSwitchVector) and e.device == "Lamp")
        svc.config.write_text('[server]\nprot = 1\n[[device]]\ndriver = "lde"\nname = "X"\n')
        svc.proc.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING", "1")
        ready = notify.wait_for("READY", "1")
        assert ready["STATUS"].startswith("reload refused (2 problems)")
        # Still served, to the same connection.
        client.send(
            NewSwitchVector(device="Lamp", name="DIGITAL_OUTPUT_1", values={"ON": SwitchState.ON})
        )
        client.wait_for(
            lambda e: (
                isinstance(e, SetSwitchVector)
                and e.device == "Lamp"
                and e.values.get("ON") == SwitchState.ON
            )
        )
        assert not any(isinstance(e, DelProperty) for e in client.events)
        log = svc.log_text()
        assert "server.prot: unknown key; did you mean 'port'?" in log
        assert "unknown driver 'lde'; did you mean 'led'?" in log
        client.close()


def test_sighup_with_a_changed_config_redefines_only_what_changed(
    tmp_path: Path, notify: NotifySocket
):
    with service(tmp_path, notify) as svc:
        notify.wait_for("READY", "1")
        client = opened(RawClient(svc.port))
        client.send(GetProperties(version="1.7"))
        client.wait_for(lambda e: isinstance(e, DefSwitchVector) and e.device == "Lamp")
        client.send(
            NewSwitchVector(device="Relays", name="DIGITAL_OUTPUT_1", values={"ON": SwitchState.ON})
        )
        client.wait_for(lambda e: isinstance(e, SetSwitchVector) and e.device == "Relays")
        # Change the lamp's label, add a buzzer, leave the relays alone.
        svc.config.write_text(
            CONFIG.format(label="Porch lamp")
            + '[[device]]\ndriver = "buzzer"\nname = "Buzzer"\npins = [22]\n'
        )
        client.events.clear()
        svc.proc.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING", "1")
        ready = notify.wait_for("READY", "1")
        assert ready["STATUS"].startswith("4 devices, 1 clients")
        events = _collect(client, 1.0)
        deleted = {e.device for e in events if isinstance(e, DelProperty)}
        defined = {e.device for e in events if isinstance(e, DefSwitchVector)}
        assert deleted == {"Lamp"}
        assert defined == {"Lamp", "Buzzer"}
        # The relays kept running, state and all: still on.
        client.send(GetProperties(version="1.7", device="Relays", name="DIGITAL_OUTPUT_1"))
        relay = client.wait_for(lambda e: isinstance(e, DefSwitchVector) and e.device == "Relays")
        assert isinstance(relay, DefSwitchVector)
        assert {m.name: m.value for m in relay.members}["ON"] == SwitchState.ON
        client.close()


# -- pi-indi reload: what ExecReload runs ----------------------------------------------

BAD_CONFIG = '[server]\nprot = 1\n[[device]]\ndriver = "lde"\nname = "X"\n'
GATE = '[[device]]\ndriver = "tests.service.reload_drivers:GateDriver"\nname = "Gate"\n'
BUZZER = '[[device]]\ndriver = "buzzer"\nname = "Buzzer"\npins = [22]\n'


def _runtime(tmp_path: Path) -> dict[str, str]:
    """The environment systemd gives ExecStart and ExecReload: RUNTIME_DIRECTORY."""
    runtime = tmp_path / "run"
    runtime.mkdir(exist_ok=True)
    return {"RUNTIME_DIRECTORY": str(runtime), "PI_INDI_TEST_GATE": str(tmp_path / "gate")}


def _reload_cmd(svc: Service, *args: str) -> list[str]:
    return [sys.executable, "-m", "pi_indi", "reload", "--pid", str(svc.proc.pid), *args]


def _reload(
    svc: Service, env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``pi-indi reload --pid PID --config FILE``, as ExecReload runs it."""
    return subprocess.run(
        _reload_cmd(svc, "--config", str(svc.config), *args),
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _start_reload(
    svc: Service, env: dict[str, str], log: Path, *args: str
) -> subprocess.Popen[str]:
    with log.open("w") as out:
        return subprocess.Popen(
            _reload_cmd(svc, "--config", str(svc.config), *args),
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
            stdin=subprocess.DEVNULL,
        )


def _sees_device(port: int, device: str) -> bool:
    client = opened(RawClient(port))
    client.send(GetProperties(version="1.7"))
    try:
        client.wait_for(
            lambda e: isinstance(e, DefSwitchVector | DefLightVector) and e.device == device, 5
        )
    except TimeoutError:
        return False
    finally:
        client.close()
    return True


def test_reload_with_a_bad_file_exits_78_and_does_not_signal(tmp_path: Path, notify: NotifySocket):
    env = _runtime(tmp_path)
    with service(tmp_path, notify, watchdog_usec=200_000, **env) as svc:
        notify.wait_for("READY", "1")
        svc.config.write_text(BAD_CONFIG)
        out = _reload(svc, env)
        assert out.returncode == 78, out.stderr
        assert "server.prot: unknown key; did you mean 'port'?" in out.stderr
        assert "unknown driver 'lde'; did you mean 'led'?" in out.stderr
        # Not signalled: no reload began, and the old config is still served.
        assert not any("RELOADING" in f for _, f in notify.read(0.5))
        assert svc.proc.poll() is None
        assert "reloading" not in svc.log_text()
        assert _sees_device(svc.port, "Lamp")


def test_reload_exits_0_only_once_the_service_applied_the_file(
    tmp_path: Path, notify: NotifySocket
):
    env = _runtime(tmp_path)
    with service(tmp_path, notify, watchdog_usec=200_000, **env) as svc:
        notify.wait_for("READY", "1")
        # The Gate device holds the reload up until the test opens the gate.
        svc.config.write_text(CONFIG.format(label="Lamp") + GATE)
        cmd = _start_reload(svc, env, tmp_path / "reload.err")
        try:
            notify.wait_for("RELOADING", "1")
            time.sleep(1.0)
            assert cmd.poll() is None, (tmp_path / "reload.err").read_text()
            (tmp_path / "gate").touch()
            stdout, _ = cmd.communicate(timeout=30)
        finally:
            if cmd.poll() is None:
                cmd.kill()
                cmd.wait()
        assert cmd.returncode == 0, (tmp_path / "reload.err").read_text()
        assert stdout.startswith("pi-indi: reload 1 applied: 4 devices")
        assert _sees_device(svc.port, "Gate")


def test_two_reloads_in_quick_succession_each_wait_for_their_own(
    tmp_path: Path, notify: NotifySocket
):
    env = _runtime(tmp_path)
    with service(tmp_path, notify, watchdog_usec=200_000, **env) as svc:
        notify.wait_for("READY", "1")
        svc.config.write_text(CONFIG.format(label="Lamp") + GATE)
        first = _start_reload(svc, env, tmp_path / "first.err")
        second: subprocess.Popen[str] | None = None
        try:
            notify.wait_for("RELOADING", "1")  # reload 1 began; the gate holds it
            svc.config.write_text(CONFIG.format(label="Lamp") + GATE + BUZZER)
            second = _start_reload(svc, env, tmp_path / "second.err", "-v")
            # The second one signalled while reload 1 was still going.
            wait_until(lambda: "waiting" in (tmp_path / "second.err").read_text(), 20)
            assert first.poll() is None
            (tmp_path / "gate").touch()
            first_out, _ = first.communicate(timeout=30)
            second_out, _ = second.communicate(timeout=30)
        finally:
            for cmd in (first, second):
                if cmd is not None and cmd.poll() is None:
                    cmd.kill()
                    cmd.wait()
        assert first.returncode == 0, (tmp_path / "first.err").read_text()
        assert second.returncode == 0, (tmp_path / "second.err").read_text()
        assert first_out.startswith("pi-indi: reload 1 applied")
        # Not reload 1's outcome: that one may have read the file before the buzzer.
        assert second_out.startswith("pi-indi: reload 2 applied: 5 devices")
        assert _sees_device(svc.port, "Buzzer")


def test_reload_refused_by_the_service_fails_with_its_problems(
    tmp_path: Path, notify: NotifySocket
):
    env = _runtime(tmp_path)
    with service(tmp_path, notify, watchdog_usec=200_000, **env) as svc:
        notify.wait_for("READY", "1")
        # The command checks a good file, the service reads a bad one.
        good = tmp_path / "other.toml"
        good.write_text(CONFIG.format(label="Porch"))
        svc.config.write_text(BAD_CONFIG)
        out = _reload(svc, env, "--config", str(good))
        assert out.returncode == 78, out.stderr
        assert f"the service reads {svc.config}" in out.stderr
        assert (
            f"pi-indi: reload 1 refused: {svc.config} has 2 problems;"
            " still serving the previous config" in out.stderr
        )
        assert "  server.prot: unknown key; did you mean 'port'?" in out.stderr
        assert _sees_device(svc.port, "Lamp")


def test_reload_that_fails_part_way_fails_with_the_reason(tmp_path: Path, notify: NotifySocket):
    env = _runtime(tmp_path)
    with service(tmp_path, notify, watchdog_usec=200_000, **env) as svc:
        notify.wait_for("READY", "1")
        # Another socket holds the new address on the service's port (a
        # loopback address: moving there does not widen who may connect).
        with socket.socket() as taken:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            taken.bind(("127.0.0.2", svc.port))
            taken.listen()
            svc.config.write_text(CONFIG.format(label="Lamp").replace("127.0.0.1", "127.0.0.2"))
            out = _reload(svc, env)
        assert out.returncode == 1, out.stderr
        assert "pi-indi: reload 1 failed: " in out.stderr
        assert "cannot listen on 127.0.0.2" in out.stderr
        ready = notify.wait_for("READY", "1")
        assert ready["STATUS"].startswith("reload failed part way: cannot listen on 127.0.0.2")


def test_reload_fails_when_the_service_dies_while_reloading(tmp_path: Path, notify: NotifySocket):
    env = _runtime(tmp_path)
    with service(tmp_path, notify, watchdog_usec=200_000, **env) as svc:
        notify.wait_for("READY", "1")
        svc.config.write_text(
            CONFIG.format(label="Lamp")
            + '[[device]]\ndriver = "tests.service.reload_drivers:DyingDriver"\nname = "Dies"\n'
        )
        started = time.monotonic()
        out = _reload(svc, env, timeout=30)
        assert out.returncode == 1, out.stderr
        assert f"pi-indi: PID {svc.proc.pid} exited while reloading" in out.stderr
        assert time.monotonic() - started < 20
        assert svc.proc.wait(timeout=10) == 3


def test_reload_times_out_with_a_clear_message(tmp_path: Path, notify: NotifySocket):
    env = _runtime(tmp_path)
    with service(tmp_path, notify, watchdog_usec=200_000, **env) as svc:
        notify.wait_for("READY", "1")
        svc.config.write_text(CONFIG.format(label="Lamp") + GATE)
        try:
            out = _reload(svc, env, "--timeout", "1")
        finally:
            (tmp_path / "gate").touch()
        assert out.returncode == 1, out.stderr
        assert f"PID {svc.proc.pid} has not finished reload 1 after 1 s" in out.stderr
        notify.wait_for("READY", "1")


def test_reload_outside_systemd_signals_without_waiting(tmp_path: Path, notify: NotifySocket):
    with service(tmp_path, notify) as svc:
        notify.wait_for("READY", "1")
        svc.config.write_text(CONFIG.format(label="Lamp") + BUZZER)
        env = {"RUNTIME_DIRECTORY": ""}
        out = _reload(svc, env)
        assert out.returncode == 0, out.stderr
        assert "not waiting for the outcome" in out.stderr
        notify.wait_for("RELOADING", "1")
        assert notify.wait_for("READY", "1")["STATUS"].startswith("4 devices")


def test_a_refused_reload_stays_in_status_until_a_good_one(tmp_path: Path, notify: NotifySocket):
    with service(tmp_path, notify, watchdog_usec=200_000) as svc:
        notify.wait_for("READY", "1")
        svc.config.write_text(BAD_CONFIG)
        svc.proc.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING", "1")
        assert notify.wait_for("READY", "1")["STATUS"].startswith("reload refused (2 problems)")
        # A client changes the status line; the heartbeat sends it every 0.1 s.
        client = opened(RawClient(svc.port))
        statuses = [f["STATUS"] for _, f in notify.read(1.5) if "STATUS" in f]
        assert statuses
        assert all(s.startswith("reload refused (2 problems); 3 devices, ") for s in statuses)
        assert statuses[-1].endswith(f"1 clients, on 127.0.0.1:{svc.port}")
        client.close()
        assert "reload refused, still serving the previous config" in svc.log_text()
        # A good reload clears it.
        svc.config.write_text(CONFIG.format(label="Lamp"))
        svc.proc.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING", "1")
        assert notify.wait_for("READY", "1")["STATUS"].startswith("3 devices, ")
        statuses = [f["STATUS"] for _, f in notify.read(0.5) if "STATUS" in f]
        assert not any(s.startswith("reload") for s in statuses)


# -- The notifier on its own ---------------------------------------------------------


def test_outside_systemd_everything_is_a_no_op():
    notifier = Notifier(environ={})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    assert notifier.ready("x") is False
    assert notifier.watchdog() is False


def test_abstract_namespace_sockets_are_reached():
    name = f"pi-indi-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        notifier = Notifier(environ={"NOTIFY_SOCKET": "@" + name}, use_systemd_python=False)
        assert notifier.ready("serving")
        assert sock.recv(100) == b"READY=1\nSTATUS=serving"
        assert notifier.status("serving")  # unchanged: not sent again
        notifier.stopping()
        assert sock.recv(100) == b"STOPPING=1\nSTATUS=Stopping"
        notifier.close()


def test_reloading_carries_the_monotonic_time():
    name = f"pi-indi-test-r-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        notifier = Notifier(environ={"NOTIFY_SOCKET": "@" + name}, use_systemd_python=False)
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        notifier.reloading()
        first, second = sock.recv(100).decode().splitlines()
        assert first == "RELOADING=1"
        assert before <= int(second.removeprefix("MONOTONIC_USEC=")) <= before + 10_000_000
        notifier.close()


def test_journal_lines_carry_priorities_and_no_timestamp(tmp_path: Path):
    import logging

    path = tmp_path / "stderr"
    with path.open("w") as stream:
        info = os.fstat(stream.fileno())
        env = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        assert under_journal(env, stream)
        handler = configure_logging(logging.INFO, env, stream)
        try:
            logging.getLogger("pi_indi.test").warning("pin busy\nsecond line")
            logging.getLogger("pi_indi.test").error("failed")
            logging.getLogger("pi_indi.test").info("ok")
        finally:
            logging.getLogger().removeHandler(handler)
    assert path.read_text().splitlines() == [
        "<4>pi_indi.test: pin busy",
        "<4>second line",
        "<3>pi_indi.test: failed",
        "<6>pi_indi.test: ok",
    ]


def test_not_under_journal_when_the_stream_is_another_file(tmp_path: Path):
    with (tmp_path / "a").open("w") as a, (tmp_path / "b").open("w") as b:
        info = os.fstat(a.fileno())
        assert not under_journal({"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}, b)
        assert not under_journal({}, a)
