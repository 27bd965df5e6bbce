"""Server benchmarks: pi_indi's IPyServer against indipyserver and indiserver, in one run.

Each phase starts a fresh server as a subprocess in its own session, runs the
flood driver (bench/flood.py) in it, drives it with raw-socket clients that
work against any INDI server, and stops the whole process group. Reported:

* sustained throughput to one client (N counter updates, first request to last byte)
* fan-out to 10 clients (aggregate deliveries per second)
* switch round trip (newSwitchVector -> setSwitchVector), p50 and p99
* a 1 k burst and a 50 k burst on one connection, and their ratio
* the server's peak RSS (VmHWM)

Run with ``bash bench/run.sh`` (it makes the venv with the anchors). With
``BENCH_BEFORE=/path/to/another/tree``, that tree's pi_indi is measured in the
same run too (``git worktree add /tmp/before <commit>``), for before/after.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PY = sys.executable

COUNTER = b'name="counter"'
SWITCH_END = b"</setSwitchVector>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def configs(tmp: Path) -> dict[str, Any]:
    flood_exe = tmp / "pi_indi_flood"
    flood_exe.write_text(
        f"#!{PY}\nimport runpy, sys\nsys.argv = ['flood.py', 'pi_indi', 'stdio']\n"
        f"runpy.run_path({str(HERE / 'flood.py')!r}, run_name='__main__')\n"
    )
    flood_exe.chmod(0o755)
    flood_c = HERE / ".venv" / "flood_c"
    out: dict[str, Any] = {
        "pi_indi, in-process driver": lambda port, n: [
            PY,
            str(HERE / "flood.py"),
            "pi_indi",
            "serve",
            str(port),
            str(n),
        ],
        "indipyserver 0.0.6, in-process driver": lambda port, n: [
            PY,
            str(HERE / "flood.py"),
            "indipydriver",
            "serve",
            str(port),
            str(n),
        ],
        "pi_indi, exdriver (C)": lambda port, n: [
            PY,
            str(HERE / "exserve.py"),
            str(port),
            str(n),
            str(flood_c),
        ],
        "pi_indi, exdriver (pi_indi)": lambda port, n: [
            PY,
            str(HERE / "exserve.py"),
            str(port),
            str(n),
            str(flood_exe),
        ],
    }
    before = os.environ.get("BENCH_BEFORE")
    if before:
        # Another tree of pi_indi (an older commit, say), measured in the same
        # run: its bench scripts put that tree first on sys.path.
        old = Path(before) / "bench"
        old_exe = tmp / "pi_indi_flood_before"
        old_exe.write_text(
            f"#!{PY}\nimport runpy, sys\nsys.argv = ['flood.py', 'pi_indi', 'stdio']\n"
            f"runpy.run_path({str(old / 'flood.py')!r}, run_name='__main__')\n"
        )
        old_exe.chmod(0o755)
        out["pi_indi before, in-process driver"] = lambda port, n: [
            PY,
            str(old / "flood.py"),
            "pi_indi",
            "serve",
            str(port),
            str(n),
        ]
        out["pi_indi before, exdriver (C)"] = lambda port, n: [
            PY,
            str(old / "exserve.py"),
            str(port),
            str(n),
            str(flood_c),
        ]
        out["pi_indi before, exdriver (pi_indi)"] = lambda port, n: [
            PY,
            str(old / "exserve.py"),
            str(port),
            str(n),
            str(old_exe),
        ]
    if shutil.which("indiserver"):
        out["indiserver 1.9.9, exdriver (C)"] = lambda port, n: [
            "indiserver",
            "-p",
            str(port),
            "-u",
            f"/tmp/pi-indi-bench-{uuid.uuid4().hex}",  # noqa: S108 - abstract socket name
            str(flood_c),
        ]
    return out


class Server:
    def __init__(self, cmd: list[str], port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def wait_ready(self) -> None:
        # Watch /proc/net/tcp for the listening socket instead of connecting:
        # indipyserver keeps a closed probe connection's slot for about a minute.
        wanted = f":{self.port:04X} "
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited at start")
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1].endswith(wanted.strip()) and fields[3] == "0A":  # LISTEN
                    time.sleep(0.2)  # let in-process drivers and exdrivers start
                    return
            time.sleep(0.05)
        raise TimeoutError("server did not start")

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.tail = b""

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        return cls(reader, writer)

    async def ready(self) -> None:
        # getProperties, then wait for the toggle definition (the last vector).
        self.writer.write(b'<getProperties version="1.7" device="bench"/>\n')
        await self.count(b"</defSwitchVector>", 1, timeout=20)

    async def count(self, pattern: bytes, n: int, timeout: float = 120) -> None:
        seen = 0
        async with asyncio.timeout(timeout):
            while seen < n:
                chunk = await self.reader.read(1 << 20)
                if not chunk:
                    raise ConnectionError("server closed")
                data = self.tail + chunk
                seen += data.count(pattern)
                # Keep a partial pattern that may straddle two reads.
                self.tail = data[-(len(pattern) - 1) :]
                if pattern in self.tail:
                    self.tail = b""

    def flood(self, n: int) -> None:
        self.writer.write(
            b'<newNumberVector device="bench" name="FLOOD">'
            b'<oneNumber name="COUNT">%d</oneNumber></newNumberVector>\n' % n
        )

    def close(self) -> None:
        self.writer.close()


async def throughput(port: int, n: int) -> float:
    client = await Client.connect(port)
    await client.ready()
    start = time.perf_counter()
    client.flood(n)
    await client.count(COUNTER, n)
    elapsed = time.perf_counter() - start
    client.close()
    return n / elapsed


async def fanout(port: int, n: int, clients: int = 10) -> float:
    conns = [await Client.connect(port) for _ in range(clients)]
    for c in conns:
        await c.ready()
    start = time.perf_counter()
    conns[0].flood(n)
    await asyncio.gather(*(c.count(COUNTER, n) for c in conns))
    elapsed = time.perf_counter() - start
    for c in conns:
        c.close()
    return n * clients / elapsed


async def round_trips(port: int, trips: int = 2000, warmup: int = 100) -> tuple[float, float]:
    # A blocking socket, so the client's own overhead stays out of the figure.
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(b'<getProperties version="1.7" device="bench"/>\n')
    buf = b""
    while b"</defSwitchVector>" not in buf:
        buf += sock.recv(1 << 16)
    times = []
    for i in range(warmup + trips):
        value = b"On" if i % 2 else b"Off"
        start = time.perf_counter()
        sock.sendall(
            b'<newSwitchVector device="bench" name="toggle"><oneSwitch name="T">%s</oneSwitch>'
            b"</newSwitchVector>\n" % value
        )
        buf = b""
        while SWITCH_END not in buf:
            buf += sock.recv(1 << 16)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    sock.close()
    times.sort()
    return statistics.median(times) * 1e6, times[int(len(times) * 0.99)] * 1e6


async def bursts(port: int) -> tuple[float, float]:
    client = await Client.connect(port)
    await client.ready()
    rates = []
    for n in (1000, 50000):
        start = time.perf_counter()
        client.flood(n)
        await client.count(COUNTER, n, timeout=300)
        rates.append(n / (time.perf_counter() - start))
    client.close()
    return rates[0], rates[1]


def run_phase(make_cmd: Any, phase: Any, *args: Any) -> tuple[Any, float]:
    port = free_port()
    server = Server(make_cmd(port, 10), port)
    try:
        server.wait_ready()
        result = asyncio.run(phase(port, *args))
        return result, server.peak_rss_mib()
    finally:
        server.stop()


def main() -> None:
    n = int(os.environ.get("BENCH_N", "20000"))
    with tempfile.TemporaryDirectory() as tmpdir:
        rows = []
        for name, make_cmd in configs(Path(tmpdir)).items():
            print(f"-- {name}", file=sys.stderr, flush=True)
            tput, rss1 = run_phase(make_cmd, throughput, n)
            fan, rss2 = run_phase(make_cmd, fanout, n // 2)
            (p50, p99), rss3 = run_phase(make_cmd, round_trips)
            (small, large), rss4 = run_phase(make_cmd, bursts)
            rows.append((name, tput, fan, p50, p99, small, large, max(rss1, rss2, rss3, rss4)))
    print(f"Python {sys.version.split()[0]}; throughput N={n}; fan-out 10 clients x {n // 2}")
    head = (
        "server",
        "1 client msg/s",
        "10 clients msg/s",
        "RTT p50 us",
        "RTT p99 us",
        "1k burst msg/s",
        "50k burst msg/s",
        "50k/1k",
        "peak RSS MiB",
    )
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, tput, fan, p50, p99, small, large, rss in rows:
        print(
            f"| {name} | {tput:,.0f} | {fan:,.0f} | {p50:.0f} | {p99:.0f} | {small:,.0f} |"
            f" {large:,.0f} | {large / small:.2f} | {rss:.1f} |"
        )


if __name__ == "__main__":
    main()
