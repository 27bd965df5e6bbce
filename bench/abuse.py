"""Abuse benchmark: the attacks of the security review, against pi-indi and indiserver.

    python bench/abuse.py                   # every attack (bash bench/run.sh abuse)
    python bench/abuse.py --quick           # smaller counts and windows: a smoke run
    python bench/abuse.py --only malformed  # one attack (repeat --only for more)
    python bench/abuse.py --json out.json   # the results as JSON too

Each attack runs against a fresh server process in a session of its own, on
a free loopback port:

- pi-indi: ``python -m pi_indi serve --mock --config FILE``, FILE being
  deploy/pi-indi.example.toml with host 127.0.0.1, the free port and a
  temporary state directory (``[state] restore = true`` for restore-toggle);
  every limit is the example's (maxconnections 5, 120 connections a minute,
  128 MB client queue, ...);
- indiserver 1.9.9 with ``indi_simulator_telescope``, at its own defaults,
  for the attacks that apply to any INDI server.

For each attack and server the table shows:

- peak RSS: the server process's VmHWM (/proc/PID/status), and the growth of
  its VmRSS (sampled every 50 ms from the attack's start to the end of the
  after-window) over the idle baseline taken just before the attack. For
  indiserver this is indiserver's process; the simulator driver is not counted.
  Any process of the server's session going over 2 GiB gets the whole
  session killed ("killed at 2 GiB").
- CPU seconds (user + system) used by every process of the server's session
  in the 5 s after the attack stopped (10 s for restore-toggle).
- the bystander: a connection opened before the attack (after it for
  idle-sockets) that every 0.5 s asks for one known property and must get it
  within 2 s: ``getProperties`` for ``Telescope Simulator.CONNECTION`` on
  indiserver, a ``newSwitchVector`` toggling ``Status LED.DIGITAL_OUTPUT_1``
  on pi-indi (after a ``getProperties`` for it). A probe waits for its answer
  however long it takes, so the worst latency is the real one; the next probe
  goes once it is answered. "served" means every probe was answered within 2 s
  and the connection stayed open.
- log lines: lines the server wrote to stderr between the attack's start and
  its end (for indiserver these include its drivers' stderr).

A client that floods hangs up as clients do (shutdown for writing, then it
reads on until the server closes): "server done N s after hang-up" is when
the server had read everything and closed the connection. The attack's "sent"
counts messages handed to the kernel, so it includes what was still in the
socket buffers when the attack stopped.

Everything is bounded: each attack by ``--max-attack`` seconds (30), every
socket operation by a timeout; a full run takes about five and a half
minutes (15 server runs), ``--quick`` about a minute and a half. Servers are
killed (killpg of their session) in a finally. ``ABUSE_DEBUG=1`` prints the
traceback of an attack that failed (the table shows its last line).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
EXAMPLE = ROOT / "deploy" / "pi-indi.example.toml"
INDISERVER = shutil.which("indiserver") or "/usr/bin/indiserver"
INDI_DRIVER = "indi_simulator_telescope"

MiB = 1 << 20
# docs/security.md: with the default config, every client together can make
# pi-indi hold at most this much more than it does idle (5 clients x 18 MiB).
BOUND_MIB = 90.0
KILL_RSS = 2 << 30  # bytes: a session process over this is killed
CLK_TCK = os.sysconf("SC_CLK_TCK")
# pi-indi's log format: "2026-12-06 15:34:16,322 INFO name: message"
LOG_PREFIX = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")
GET_ALL = b'<getProperties version="1.7"/>\n'


def now() -> float:
    return time.monotonic()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def connect(port: int, timeout: float = 2.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(0.5)
    return sock


def send_until(sock: socket.socket, data: bytes, deadline: float) -> tuple[int, str]:
    """Send *data* until it is all sent or *deadline*; (bytes sent, "" or why it stopped)."""
    view = memoryview(data)
    sent = 0
    while sent < len(data):
        if now() >= deadline:
            return sent, "deadline"
        try:
            sent += sock.send(view[sent:])
        except TimeoutError:
            continue
        except OSError as e:
            return sent, type(e).__name__
    return sent, ""


def whole(chunk: list[bytes], n: int) -> int:
    """How many of *chunk*'s messages the first *n* bytes of their join hold whole."""
    done = 0
    for count, m in enumerate(chunk):
        done += len(m)
        if done > n:
            return count
    return len(chunk)


class Discard(threading.Thread):
    """Reads and discards everything a socket receives, so that replies never back-pressure.

    It closes the socket when it stops: at the server's EOF, on :attr:`stop`,
    or at :attr:`until`.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.stop = threading.Event()
        self.until = float("inf")
        self.received = 0
        self.eof = False  # the server closed the connection
        self.eof_at: float | None = None
        self.hung_up_at: float | None = None

    def run(self) -> None:
        with self.sock:
            while not self.stop.is_set() and now() < self.until:
                try:
                    data = self.sock.recv(1 << 18)
                except TimeoutError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.eof, self.eof_at = True, now()
                    return
                self.received += len(data)

    def hang_up(self, linger: float = 20.0) -> None:
        """Disconnect the way a client does: shut down writing, read on until the server's EOF.

        Closing with replies unread would send a RST, and the server could then
        lose requests it had received but not read. The reading goes on in the
        background, for at most *linger* seconds (run_attack stops it sooner).
        """
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        self.hung_up_at = now()
        self.until = self.hung_up_at + linger
        LINGERING.append(self)


#: The connections hung up in the current attack, still reading until the server's EOF.
LINGERING: list[Discard] = []


# -- the servers ------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of *pid* in bytes ({} once it is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line[:5]] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def session_pids(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # fields[3] is the session id (field 6 of stat)
            pids.append(int(entry))
    return pids


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


class Server:
    """A server in a session of its own: its stderr counted, its memory watched."""

    def __init__(self, kind: str, workdir: Path, restore: bool = False) -> None:
        self.kind = kind
        self.port = free_port()
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.restore = restore
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines = 0  # stderr lines so far
        self.forged: list[bytes] = []  # stderr lines with FORGED in them
        self.tail: list[bytes] = []  # the last stderr lines
        self.ready = threading.Event()
        self.killed = False
        self.hwm = 0
        self.rss_max = 0  # the largest VmRSS seen since reset_rss_max
        self.pids: set[int] = set()
        self.stop_watch = threading.Event()
        self.exited_at: float | None = None

    def command(self) -> list[str]:
        if self.kind == "indiserver":
            return [INDISERVER, "-p", str(self.port), INDI_DRIVER]
        text = EXAMPLE.read_text()
        text = re.sub(r'(?m)^host = "0\.0\.0\.0".*$', 'host = "127.0.0.1"', text)
        text = re.sub(r"(?m)^port = 7624.*$", f"port = {self.port}", text)
        state = f'restore = {"true" if self.restore else "false"}\ndirectory = "{self.state_dir}"'
        text = re.sub(r"(?m)^restore = false.*$", state, text)
        config = self.workdir / "pi-indi.toml"
        config.write_text(text)
        return [PY, "-m", "pi_indi", "serve", "--mock", "--config", str(config)]

    def start(self, timeout: float = 30.0) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            cwd=self.workdir,
            env=env,
        )
        threading.Thread(target=self._read_stderr, daemon=True).start()
        threading.Thread(target=self._watch, daemon=True).start()
        deadline = now() + timeout
        if self.kind == "pi-indi":
            while not self.ready.wait(0.1):
                if now() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"pi-indi did not start: {self.tail[-5:]}")
        while True:  # then it must accept a connection
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if now() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{self.kind} does not listen: {self.tail[-5:]}") from None
                time.sleep(0.1)

    def _read_stderr(self) -> None:
        assert self.proc is not None
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        partial = b""
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self.lines += chunk.count(b"\n")
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            for line in lines:
                if b"FORGED" in line and len(self.forged) < 100:
                    self.forged.append(line)
                if b" ready: " in line:
                    self.ready.set()
            self.tail = (self.tail + lines)[-20:]

    def _watch(self) -> None:
        assert self.proc is not None
        pid = self.proc.pid
        last_scan = 0.0
        while not self.stop_watch.is_set():
            if now() - last_scan > 1.0:  # the driver processes indiserver starts
                self.pids.update(session_pids(pid))
                last_scan = now()
            status = proc_status(pid)
            if not status:
                if self.exited_at is None:
                    self.exited_at = now()
                return
            self.hwm = max(self.hwm, status.get("VmHWM", 0))
            self.rss_max = max(self.rss_max, status.get("VmRSS", 0))
            over = status.get("VmRSS", 0) > KILL_RSS or any(
                proc_status(p).get("VmRSS", 0) > KILL_RSS for p in self.pids if p != pid
            )
            if over and not self.killed:
                self.killed = True
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
            time.sleep(0.05)

    def rss(self) -> int:
        assert self.proc is not None
        return proc_status(self.proc.pid).get("VmRSS", 0)

    def reset_rss_max(self) -> None:
        self.rss_max = self.rss()

    def cpu(self) -> float:
        assert self.proc is not None
        self.pids.update(session_pids(self.proc.pid))
        return sum(cpu_seconds(p) for p in self.pids)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        self.stop_watch.set()
        if self.proc is None:
            return
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        with contextlib.suppress(OSError):  # the rest of the session, drivers included
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


# -- the bystander ----------------------------------------------------------------------

TAG = re.compile(rb"<(def|set)(\w+)Vector\b([^>]*)>")


def has_vector(data: bytes, kind: bytes, device: bytes, name: bytes) -> int:
    """The end of the first <kind...Vector device=device name=name> tag in *data*, or -1."""
    for m in TAG.finditer(data):
        attrs = m.group(3)
        if (
            m.group(1) == kind
            and re.search(rb'\bdevice="' + re.escape(device) + rb'"', attrs)
            and re.search(rb'\bname="' + re.escape(name) + rb'"', attrs)
        ):
            return m.end()
    return -1


class Bystander(threading.Thread):
    """Asks for one property every 0.5 s and times the answers."""

    INTERVAL = 0.5
    LIMIT = 2.0

    def __init__(self, kind: str, port: int, connect_for: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.kind = kind
        self.port = port
        self.connect_for = connect_for  # seconds to keep trying to connect and be served
        self.stop = threading.Event()
        self.ready = threading.Event()  # connected and answered once (or given up)
        self.latencies: list[float] = []
        self.first_served: float | None = None  # seconds from start to the first answer
        self.connects = 0
        self.closed = False
        self.error = ""
        self.outstanding: float | None = None  # when the unanswered probe went
        if kind == "pi-indi":
            self.device, self.prop = b"Status LED", b"DIGITAL_OUTPUT_1"
        else:
            self.device, self.prop = b"Telescope Simulator", b"CONNECTION"
        self.get = b'<getProperties version="1.7" device="%s" name="%s"/>\n' % (
            self.device,
            self.prop,
        )
        self.flip = False

    def probe(self) -> tuple[bytes, bytes]:
        """What to send, and the kind of vector that answers it."""
        if self.kind != "pi-indi":
            return self.get, b"def"
        self.flip = not self.flip
        member = b"ON" if self.flip else b"OFF"
        return (
            b'<newSwitchVector device="%s" name="%s"><oneSwitch name="%s">On</oneSwitch>'
            b"</newSwitchVector>\n" % (self.device, self.prop, member),
            b"set",
        )

    def wait_for(self, sock: socket.socket, buf: bytearray, kind: bytes, until: float) -> bool:
        """Read until the answer is in *buf* (True), or *until*/stop/close (False)."""
        while True:
            end = has_vector(bytes(buf), kind, self.device, self.prop)
            if end >= 0:
                del buf[:end]
                return True
            if len(buf) > 1 << 16:
                del buf[: len(buf) - 4096]
            if now() >= until or self.stop.is_set():
                return False
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError as e:
                self.closed, self.error = True, type(e).__name__
                return False
            if not data:
                self.closed = True
                return False
            buf += data

    def first_contact(self) -> socket.socket | None:
        """Connect and get the property once, trying again for up to connect_for seconds."""
        start = now()
        give_up = start + self.connect_for
        while not self.stop.is_set() and now() < give_up:
            self.connects += 1
            self.closed = False
            try:
                sock = connect(self.port)
                sock.sendall(self.get)
            except OSError as e:
                self.error = type(e).__name__
                time.sleep(self.INTERVAL)
                continue
            buf = bytearray()
            if self.wait_for(sock, buf, b"def", min(give_up, now() + self.LIMIT)):
                self.first_served = now() - start
                return sock
            sock.close()
            time.sleep(self.INTERVAL)
        return None

    def run(self) -> None:
        sock = self.first_contact()
        self.ready.set()
        if sock is None:
            return
        buf = bytearray()
        with sock:
            while not self.stop.is_set():
                sent_at = now()
                data, kind = self.probe()
                try:
                    sock.settimeout(self.LIMIT)
                    sock.sendall(data)
                    sock.settimeout(0.1)
                except OSError as e:
                    self.closed, self.error = True, type(e).__name__
                    return
                self.outstanding = sent_at
                if not self.wait_for(sock, buf, kind, float("inf")):
                    return
                self.outstanding = None
                self.latencies.append(now() - sent_at)
                self.stop.wait(max(0.0, sent_at + self.INTERVAL - now()))

    def finish(self) -> dict[str, Any]:
        self.stop.set()
        pending = now() - self.outstanding if self.outstanding is not None else 0.0
        self.join(5)
        worst = max([*self.latencies, pending], default=None)
        served = (
            self.first_served is not None
            and not self.closed
            and worst is not None
            and worst <= self.LIMIT
        )
        return {
            "served": served,
            "worst_latency_s": worst,
            "probes": len(self.latencies),
            "first_served_s": self.first_served,
            "connects": self.connects,
            "closed": self.closed,
            "error": self.error,
        }


# -- the attacks ------------------------------------------------------------------------


@dataclass
class Opts:
    quick: bool
    max_attack: float  # seconds any attack may last
    after: float  # the CPU window after an attack


def flood(
    port: int, message: Callable[[int], bytes], count: int, duration: float
) -> dict[str, Any]:
    """One connection sends message(0..count-1) as fast as it can, its replies discarded."""
    sock = connect(port)
    reader = Discard(sock)
    reader.start()
    deadline = now() + duration
    start = now()
    sent = 0
    why = ""
    batch = 2000
    try:
        for first in range(0, count, batch):
            chunk = [message(i) for i in range(first, min(count, first + batch))]
            data = b"".join(chunk)
            n, why = send_until(sock, data, deadline)
            sent += whole(chunk, n)
            if why:
                break
    finally:
        reader.hang_up()
    elapsed = now() - start
    return {
        "sent": sent,
        "of": count,
        "seconds": round(elapsed, 2),
        "per_s": round(sent / elapsed) if elapsed else None,
        "stopped_by": why or "done",
        "replies_bytes": reader.received,
    }


def attack_unknown_getprops(srv: Server, opts: Opts) -> dict[str, Any]:
    count = 20_000 if opts.quick else 2_000_000
    return flood(
        srv.port,
        lambda i: b'<getProperties version="1.7" device="nodev%d" name="prop%d"/>\n' % (i, i),
        count,
        opts.max_attack,
    )


def attack_unknown_enableblob(srv: Server, opts: Opts) -> dict[str, Any]:
    count = 20_000 if opts.quick else 2_000_000
    return flood(
        srv.port,
        lambda i: b'<enableBLOB device="nodev%d" name="prop%d">Also</enableBLOB>\n' % (i, i),
        count,
        opts.max_attack,
    )


def attack_nonreaders(srv: Server, opts: Opts) -> dict[str, Any]:
    """5 connections never read, each sends getProperties 5000 times, then holds on."""
    each = 500 if opts.quick else 5000
    hold = 5.0 if opts.quick else 20.0  # at most, after the sending
    deadline = now() + opts.max_attack
    socks: list[socket.socket] = []
    results: list[tuple[int, str]] = [(0, "")] * 5
    try:
        for _ in range(5):
            try:
                socks.append(connect(srv.port))
            except OSError as e:
                results[len(socks)] = (0, f"connect {type(e).__name__}")
        data = b'<getProperties version="1.7"/>' * each

        def send(i: int, sock: socket.socket) -> None:
            results[i] = send_until(sock, data, deadline)

        threads = [threading.Thread(target=send, args=(i, s)) for i, s in enumerate(socks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(opts.max_attack + 2)
        # Hold them open, never reading, until the server hangs up on all or time is up.
        poller = select.poll()
        for s in socks:
            poller.register(s, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        hung: set[int] = set()
        until = min(deadline, now() + hold)
        while len(hung) < len(socks) and now() < until:
            for fd, _ in poller.poll(100):
                hung.add(fd)
                poller.unregister(fd)
    finally:
        for s in socks:
            s.close()
    return {
        "connected": len(socks),
        "bytes_sent": [n for n, _ in results],
        "of_bytes": 30 * each,
        "stopped_by": sorted({why or "done" for _, why in results}),
        "hung_up_by_server": len(hung),
    }


def attack_big_blobs(srv: Server, opts: Opts) -> dict[str, Any]:
    """4 clients (the bystander is the 5th), from 4 addresses, each send a whole BLOB
    vector just under pi-indi's default limit (4 MiB) and then one more left
    unfinished, never reading."""
    size = int((0.5 if opts.quick else 3.9) * MiB) // 4 * 4  # whole base64 quads
    head = b'<newBLOBVector device="Status LED" name="UPLOAD">'
    head += b'<oneBLOB name="b" size="1" format=".bin">'
    whole_blob = head + b"A" * size + b"</oneBLOB></newBLOBVector>"
    unfinished = head + b"A" * size
    deadline = now() + opts.max_attack
    socks: list[socket.socket] = []
    results: list[tuple[int, str]] = []
    try:
        for i in range(4):
            sock = socket.socket()
            sock.bind((f"127.0.0.{2 + i}", 0))
            sock.settimeout(2.0)
            sock.connect(("127.0.0.1", srv.port))
            sock.settimeout(0.5)
            socks.append(sock)

        def send(sock: socket.socket) -> None:
            results.append(send_until(sock, whole_blob + unfinished, deadline))

        threads = [threading.Thread(target=send, args=(s,)) for s in socks]
        for t in threads:
            t.start()
        for t in threads:
            t.join(opts.max_attack + 2)
        time.sleep(2.0)  # held: the unfinished elements stay in the server's buffers
    finally:
        for s in socks:
            s.close()
    return {
        "connected": len(socks),
        "bytes_sent": sum(n for n, _ in results),
        "of_bytes": 4 * (len(whole_blob) + len(unfinished)),
        "stopped_by": sorted({why or "done" for _, why in results}),
    }


def attack_idle_sockets(srv: Server, opts: Opts) -> dict[str, Any]:
    """Handled by run_attack: five silent sockets, then the bystander."""
    raise NotImplementedError


def attack_restore_toggle(srv: Server, opts: Opts) -> dict[str, Any]:
    duration = min(opts.max_attack, 3.0 if opts.quick else 10.0)
    msgs = {
        v: b'<newSwitchVector device="Relays" name="DIGITAL_OUTPUT_1">'
        b'<oneSwitch name="%s">On</oneSwitch></newSwitchVector>\n' % v
        for v in (b"ON", b"OFF")
    }
    sock = connect(srv.port)
    sock.sendall(GET_ALL)
    reader = Discard(sock)
    reader.start()
    deadline = now() + duration
    sent = 0
    last: bytes | None = None
    why = ""
    try:
        while not why:
            chunk = [msgs[b"ON" if (sent + i) % 2 == 0 else b"OFF"] for i in range(200)]
            data = b"".join(chunk)
            n, why = send_until(sock, data, deadline)
            done = whole(chunk, n)
            if done:
                last = b"ON" if (sent + done - 1) % 2 == 0 else b"OFF"
            sent += done
    finally:
        reader.hang_up()
    return {
        "sent": sent,
        "seconds": duration,
        "last_value": last.decode().lower() if last else None,
        "stopped_by": why,
    }


def attack_refused_flood(srv: Server, opts: Opts) -> dict[str, Any]:
    duration = min(opts.max_attack, 3.0 if opts.quick else 10.0)
    if srv.kind == "pi-indi":
        dev, prop, member = b"Relays", b"PULSE_0", b"DURATION"
    else:
        dev, prop, member = b"Telescope Simulator", b"POLLING_PERIOD", b"PERIOD_MS"
    kinds = [
        b'<newNumberVector device="%s" name="%s"><oneNumber name="%s">abc</oneNumber>'
        b"</newNumberVector>\n" % (dev, prop, member),
        b'<newNumberVector device="%s" name="%s"><oneNumber name="%s">-5</oneNumber>'
        b"</newNumberVector>\n" % (dev, prop, member),
        b'<newNumberVector device="%s" name="NO_SUCH_PROPERTY"><oneNumber name="%s">1'
        b"</oneNumber></newNumberVector>\n" % (dev, member),
    ]
    result = flood(srv.port, lambda i: kinds[i % 3], 10**9, duration)
    result.pop("of")
    return result


FORGERIES = [
    (
        "property name",
        b'<newSwitchVector device="Relays" name="X&#10;FORGED LINE A">'
        b'<oneSwitch name="ON">On</oneSwitch></newSwitchVector>\n',
    ),
    (
        "device name",
        b'<newSwitchVector device="Relays&#10;FORGED LINE B" name="DIGITAL_OUTPUT_1">'
        b'<oneSwitch name="ON">On</oneSwitch></newSwitchVector>\n',
    ),
    (
        "member name",
        b'<newSwitchVector device="Relays" name="DIGITAL_OUTPUT_1">'
        b'<oneSwitch name="ON&#10;FORGED LINE C">On</oneSwitch></newSwitchVector>\n',
    ),
    (
        "number value",
        b'<newNumberVector device="Relays" name="PULSE_0">'
        b'<oneNumber name="DURATION">1&#10;FORGED LINE D</oneNumber></newNumberVector>\n',
    ),
    (
        "unknown device",
        b'<newSwitchVector device="nodev&#10;FORGED LINE E" name="X&#10;FORGED LINE F">'
        b'<oneSwitch name="ON">On</oneSwitch></newSwitchVector>\n',
    ),
]


def attack_log_forgery(srv: Server, opts: Opts) -> dict[str, Any]:
    sock = connect(srv.port)
    reader = Discard(sock)
    reader.start()
    try:
        for _, msg in FORGERIES:
            sock.sendall(msg)
        time.sleep(1.5)
    finally:
        reader.hang_up()
    time.sleep(0.5)
    # A forged line is one without the logger's prefix.
    standalone = [line for line in srv.forged if not LOG_PREFIX.match(line)]
    variants = [
        label
        for label, msg in FORGERIES
        if any(tag in line for line in standalone for tag in re.findall(rb"FORGED LINE \w", msg))
    ]
    return {
        "forged": bool(standalone),
        "forged_variants": variants,
        "lines_with_FORGED": len(srv.forged),
        "standalone_lines": [line.decode(errors="replace")[:200] for line in standalone[:5]],
        "lines_with_FORGED_sample": [
            line.decode(errors="replace")[:200] for line in srv.forged[:8]
        ],
        "primary_property_name_forged": any(b"FORGED LINE A" in line for line in standalone),
    }


def attack_mock_input_toggle(srv: Server, opts: Opts) -> dict[str, Any]:
    duration = min(opts.max_attack, 3.0 if opts.quick else 15.0)
    msgs = [
        b'<newSwitchVector device="Mock GPIO" name="PIN_GPIO26">'
        b'<oneSwitch name="%s">On</oneSwitch></newSwitchVector>\n' % v
        for v in (b"LOW", b"HIGH")
    ]
    result = flood(srv.port, lambda i: msgs[i % 2], 10**9, duration)
    result.pop("of")
    return result


def attack_malformed(srv: Server, opts: Opts) -> dict[str, Any]:
    got = bytearray()
    closed = False
    start = now()
    with connect(srv.port) as sock:
        sock.sendall(b'<getProperties version="1.7"><<<')
        until = now() + 5.0
        while now() < until:
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
            if not data:
                closed = True
                break
            got += data
    return {
        "message_before_close": b"<message" in got,
        "closed": closed,
        "closed_after_s": round(now() - start, 2) if closed else None,
        "received": bytes(got[:300]).decode(errors="replace"),
    }


@dataclass
class Attack:
    name: str
    run: Callable[[Server, Opts], dict[str, Any]]
    servers: tuple[str, ...]
    about: str
    restore: bool = False
    after: float | None = None  # the CPU window, when not opts.after


ATTACKS = [
    Attack(
        "unknown-getprops",
        attack_unknown_getprops,
        ("pi-indi", "indiserver"),
        "2M getProperties for distinct unknown device/name, replies discarded",
    ),
    Attack(
        "unknown-enableblob",
        attack_unknown_enableblob,
        ("pi-indi", "indiserver"),
        "2M enableBLOB for distinct unknown device/name, replies discarded",
    ),
    Attack(
        "nonreaders",
        attack_nonreaders,
        ("pi-indi", "indiserver"),
        "5 connections never read, each sends getProperties 5000 times",
    ),
    Attack(
        "big-blobs",
        attack_big_blobs,
        ("pi-indi", "indiserver"),
        "4 clients each send a 3.9 MiB BLOB vector, then hold one more unfinished",
    ),
    Attack(
        "idle-sockets",
        attack_idle_sockets,
        ("pi-indi", "indiserver"),
        "5 silent sockets, then the bystander must connect and be served in 30 s",
    ),
    Attack(
        "restore-toggle",
        attack_restore_toggle,
        ("pi-indi",),
        "[state] restore = true, a relay toggled flat out for 10 s",
        restore=True,
        after=10.0,
    ),
    Attack(
        "refused-flood",
        attack_refused_flood,
        ("pi-indi", "indiserver"),
        "refused newNumberVectors (not a number, out of range, unknown) for 10 s",
    ),
    Attack("log-forgery", attack_log_forgery, ("pi-indi",), "names holding &#10;FORGED LINE"),
    Attack(
        "mock-input-toggle",
        attack_mock_input_toggle,
        ("pi-indi",),
        "Mock GPIO PIN_GPIO26 (Roof switch) toggled flat out for 15 s",
    ),
    Attack(
        "malformed",
        attack_malformed,
        ("pi-indi", "indiserver"),
        '<getProperties version="1.7"><<<: a <message> before the close?',
    ),
]


@dataclass
class Result:
    attack: str
    server: str
    baseline_mib: float | None = None
    peak_hwm_mib: float | None = None
    growth_mib: float | None = None
    cpu_after_s: float | None = None
    cpu_window_s: float | None = None
    bystander: dict[str, Any] = field(default_factory=dict)
    log_lines: int | None = None  # during the attack
    log_lines_after: int | None = None  # in the CPU window after it
    killed: bool = False
    exited: str = ""
    error: str = ""
    seconds: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


def run_attack(attack: Attack, kind: str, opts: Opts, tmp: Path) -> Result:
    result = Result(attack.name, kind)
    workdir = Path(tempfile.mkdtemp(prefix=f"{attack.name}-{kind}-", dir=tmp))
    srv = Server(kind, workdir, restore=attack.restore)
    bystander: Bystander | None = None
    idle: list[socket.socket] = []
    began = now()
    LINGERING.clear()
    try:
        srv.start()
        if attack.name != "idle-sockets":
            bystander = Bystander(kind, srv.port, connect_for=10.0)
            bystander.start()
            bystander.ready.wait(12)
        time.sleep(1.0)  # idle
        baseline = srv.rss()
        result.baseline_mib = baseline / MiB
        srv.reset_rss_max()
        lines0 = srv.lines
        if attack.name == "idle-sockets":
            for _ in range(5):
                idle.append(connect(srv.port))
            time.sleep(0.5)
            bystander = Bystander(kind, srv.port, connect_for=min(30.0, opts.max_attack))
            bystander.start()
            bystander.ready.wait(opts.max_attack + 5)
            if bystander.first_served is not None:
                time.sleep(2.0)  # a few probes on top
            result.details = {"idle_sockets": len(idle)}
            for s in idle:
                s.close()
            idle.clear()
        else:
            result.details = attack.run(srv, opts)
        stopped = now()
        result.log_lines = srv.lines - lines0
        window = attack.after if attack.after is not None and not opts.quick else opts.after
        result.cpu_window_s = window
        cpu0 = srv.cpu()
        time.sleep(max(0.0, stopped + window - now()))
        result.cpu_after_s = srv.cpu() - cpu0
        result.log_lines_after = srv.lines - lines0 - result.log_lines
        if LINGERING:  # did the server read all and close the connections hung up?
            result.details["hung_up_closed_by_server"] = sum(r.eof for r in LINGERING)
            result.details["hung_up"] = len(LINGERING)
            result.details["server_caught_up_s"] = (
                round(max(r.eof_at - r.hung_up_at for r in LINGERING), 2)  # type: ignore[operator]
                if all(r.eof for r in LINGERING)
                else None
            )
        if bystander is not None:
            result.bystander = bystander.finish()
        if attack.restore:
            result.details.update(sigterm_and_state(srv, result.details.get("last_value")))
    except Exception as e:
        result.error = f"{type(e).__name__}: {e}"
        if os.environ.get("ABUSE_DEBUG"):
            import traceback

            traceback.print_exc()
    finally:
        for s in idle:
            s.close()
        for r in LINGERING:
            r.stop.set()
        for r in LINGERING:
            r.join(2)
        if bystander is not None and not result.bystander:
            result.bystander = bystander.finish()
        srv.stop_watch.set()
        result.peak_hwm_mib = srv.hwm / MiB if srv.hwm else None
        if result.baseline_mib is not None and srv.rss_max:
            result.growth_mib = max(0.0, srv.rss_max / MiB - result.baseline_mib)
        result.killed = srv.killed
        if (
            srv.proc is not None
            and srv.proc.poll() is not None
            and "sigterm_s" not in result.details
        ):
            result.exited = f"exited rc={srv.proc.returncode}"
        srv.stop()
        result.seconds = round(now() - began, 1)
    return result


def sigterm_and_state(srv: Server, last: str | None) -> dict[str, Any]:
    """SIGTERM the server, time its exit, and read what state.toml says of relay 1."""
    assert srv.proc is not None
    srv.stop_watch.set()
    start = now()
    with contextlib.suppress(OSError):
        os.killpg(srv.proc.pid, signal.SIGTERM)
    try:
        srv.proc.wait(30)
        took: float | None = now() - start
    except subprocess.TimeoutExpired:
        took = None
    state_file = srv.state_dir / "state.toml"
    saved = None
    try:
        saved = tomllib.loads(state_file.read_text())["Relays"]["GPIO17"]["mode"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as e:
        saved = f"unreadable ({type(e).__name__})"
    return {
        "sigterm_s": round(took, 2) if took is not None else None,
        "sigterm_rc": srv.proc.returncode,
        "state_saved": saved,
        "state_matches_last": saved == last,
    }


# -- the table --------------------------------------------------------------------------


def fmt(x: float | None, spec: str = ".1f") -> str:
    return "-" if x is None else format(x, spec)


def caught(d: dict[str, Any]) -> str:
    """When the server had read all a hung-up client sent and closed it."""
    if "hung_up" not in d:
        return ""
    if d.get("server_caught_up_s") is not None:
        return f"; server done {d['server_caught_up_s']} s after hang-up"
    return "; server NOT done by the end of the window"


def summary(r: Result) -> str:
    d = r.details
    a = r.attack
    if r.error:
        return r.error[:80]
    if a in ("unknown-getprops", "unknown-enableblob"):
        return f"sent {d['sent']:,}/{d['of']:,} in {d['seconds']} s ({d['stopped_by']}){caught(d)}"
    if a == "nonreaders":
        sent = sum(d["bytes_sent"])
        return (
            f"{d['connected']} connected, {sent / 1024:.0f}/{5 * d['of_bytes'] / 1024:.0f} KiB "
            f"sent, {d['hung_up_by_server']} hung up by server"
        )
    if a == "big-blobs":
        return (
            f"{d['connected']} connected, {d['bytes_sent'] / MiB:.1f}/{d['of_bytes'] / MiB:.1f}"
            f" MiB sent ({', '.join(d['stopped_by'])})"
        )
    if a == "idle-sockets":
        b = r.bystander
        first = b.get("first_served_s")
        return (
            f"bystander served after {first:.1f} s ({b['connects']} connects)"
            if first is not None
            else f"bystander not served in 30 s ({b.get('connects')} connects)"
        )
    if a == "restore-toggle":
        took = d.get("sigterm_s")
        return (
            f"sent {d['sent']:,}; SIGTERM took {fmt(took, '.2f')} s; state.toml "
            f"{d.get('state_saved')!r} vs last {d.get('last_value')!r} "
            f"({'matches' if d.get('state_matches_last') else 'DIFFERS'}); "
            f"server {'had' if d.get('hung_up_closed_by_server') else 'had NOT'} closed "
            "the toggler's connection before SIGTERM"
        )
    if a in ("refused-flood", "mock-input-toggle"):
        return f"sent {d['sent']:,} in {d['seconds']} s ({d['per_s']}/s){caught(d)}"
    if a == "log-forgery":
        return f"FORGED: {', '.join(d['forged_variants'])}" if d["forged"] else "no standalone line"
    if a == "malformed":
        return f"<message>: {'yes' if d['message_before_close'] else 'no'}; " + (
            f"closed after {d['closed_after_s']} s" if d["closed"] else "not closed in 5 s"
        )
    return ""


def table(results: list[Result]) -> str:
    head = (
        "attack",
        "server",
        "VmHWM MiB",
        "RSS growth",
        "CPU s/after",
        "bystander",
        "worst s",
        "log lines (+after)",
        "result",
    )
    rows = [head]
    for r in results:
        b = r.bystander
        if not b:
            by = "-"
        elif b.get("served"):
            by = "served"
        else:
            by = "NOT served"
        peak = f"killed at {KILL_RSS / (1 << 30):g} GiB" if r.killed else fmt(r.peak_hwm_mib)
        if r.exited and not r.killed:
            peak += f" ({r.exited})"
        rows.append(
            (
                r.attack,
                r.server,
                peak,
                fmt(r.growth_mib),
                f"{fmt(r.cpu_after_s, '.2f')}/{fmt(r.cpu_window_s, '.0f')}s",
                by,
                fmt(b.get("worst_latency_s"), ".2f") if b else "-",
                "-" if r.log_lines is None else f"{r.log_lines} (+{r.log_lines_after or 0})",
                summary(r),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
    out = []
    for n, row in enumerate(rows):
        out.append(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [a.name for a in ATTACKS]
    parser.add_argument("--only", action="append", choices=names, help="this attack only")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--max-attack", type=float, default=30.0, help="seconds per attack")
    args = parser.parse_args(argv)
    opts = Opts(
        quick=args.quick,
        max_attack=min(args.max_attack, 10.0) if args.quick else args.max_attack,
        after=2.0 if args.quick else 5.0,
    )
    if not Path(INDISERVER).exists():
        print(f"no {INDISERVER}: the indiserver rows are skipped", file=sys.stderr)
    results: list[Result] = []
    start = now()
    with tempfile.TemporaryDirectory(prefix="pi-indi-abuse-") as tmpname:
        for attack in ATTACKS:
            if args.only and attack.name not in args.only:
                continue
            for kind in attack.servers:
                if kind == "indiserver" and not Path(INDISERVER).exists():
                    continue
                print(f"# {attack.name} on {kind}: {attack.about}", file=sys.stderr, flush=True)
                r = run_attack(attack, kind, opts, Path(tmpname))
                results.append(r)
                print(f"#   {r.seconds} s: {summary(r)}", file=sys.stderr, flush=True)
    print(table(results))
    print(f"\n{len(results)} runs in {now() - start:.0f} s", flush=True)
    ours = [r for r in results if r.server == "pi-indi"]
    over = [r.attack for r in ours if r.killed or (r.growth_mib or 0.0) > BOUND_MIB]
    unserved = [r.attack for r in ours if r.bystander and not r.bystander.get("served")]
    print(
        f"pi-indi: over the documented bound of {BOUND_MIB:.0f} MiB above idle:"
        f" {', '.join(over) or 'none'}; bystander not served: {', '.join(unserved) or 'none'}"
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 1 if over or unserved else 0


if __name__ == "__main__":
    sys.exit(main())
