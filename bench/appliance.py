"""Appliance benchmarks: button edge latency, memory and start-up of ``pi-indi serve --mock``.

Every server runs as a subprocess; the client is this process, with a
blocking socket. Reported, side by side with the anchors where one exists:

1. Latency from a mock button edge to the client's update, p50 and p99 over
   ``BENCH_EDGES`` edges (2000 by default, after 100 warm-up edges). In the
   server's process a thread that is not the event loop's (as lgpio's notify
   thread would be) reads a command from stdin, takes CLOCK_MONOTONIC and
   drives the mock pin; the client takes CLOCK_MONOTONIC when the read that
   completes the update returns. One edge at a time: the next edge is driven
   once every update of the last one has arrived. Rows:

   * the appliance (``pi_indi.appliance.Appliance``) serving the bundled
     ``button`` driver: the first update is ``DIGITAL_INPUT_1``, the light is
     ``INPUT_STATE``;
   * the anchor's driver code (below) with only its imports changed, served by
     pi_indi's IPyServer;
   * the anchor: an indipydriver 3.1.2 driver served by indipyserver 0.0.6,
     whose gpiozero ``Button`` callbacks do ``loop.call_soon_threadsafe`` and
     whose loop then sends a ``setLightVector`` (pi-stack.md section 7.4).

2. VmRSS and VmHWM (/proc/PID/status) once the server listens, a client has
   fetched every property and two more seconds have passed.

3. Time from just before the process is started to the first successful TCP
   connect, and to the arrival of the last definition (every device defined),
   median of ``BENCH_STARTS`` runs (7 by default).

4. The RSS of the same appliance in one fresh process, stage by stage.

Rows 2 to 4 run with a bytecode cache of their own (PYTHONPYCACHEPREFIX), as an
installed pi-indi has; one more row shows pi-indi without it.

Run with ``bash bench/run.sh appliance`` (it makes the venv with the anchors).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
PI_INDI = str(Path(PY).with_name("pi-indi"))
EXAMPLE = ROOT / "pi_indi" / "example.toml"

GET_PROPERTIES = b'<getProperties version="1.7"/>\n'
ELEMENT = re.compile(rb"<(set|def)(\w+)Vector\b([^>]*)>(.*?)</\1\2Vector>", re.S)
NAME = re.compile(rb'\bname="([^"]*)"')
DEVICE = re.compile(rb'\bdevice="([^"]*)"')

BUTTON_TOML = """\
[server]
host = "127.0.0.1"
port = {port}

[gpio]
pin_factory = "mock"

[[device]]
driver = "button"
name = "Button"
pins = [17]
labels = ["Button"]
"""


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the servers (run as ``appliance.py _serve KIND PORT``) --


def light_driver(lib: Any, pin_factory: Any) -> Any:
    """The anchor's driver: a gpiozero Button whose edges become a setLightVector."""
    from gpiozero import Button

    button = Button(17, pin_factory=pin_factory)

    class LightButton(lib.IPyDriver):  # type: ignore[misc]
        async def rxevent(self, event: Any) -> None:
            pass

        async def hardware(self) -> None:
            loop = asyncio.get_running_loop()
            edges: asyncio.Queue[bool] = asyncio.Queue()
            button.when_pressed = lambda: loop.call_soon_threadsafe(edges.put_nowait, True)
            button.when_released = lambda: loop.call_soon_threadsafe(edges.put_nowait, False)
            vector = self["Button"]["BUTTON"]
            while True:
                pressed = await edges.get()
                vector["PRESSED"] = "Ok" if pressed else "Idle"
                await vector.send_setVector()

    light = lib.LightVector(
        "BUTTON", "Button", "Main", "Idle", [lib.LightMember("PRESSED", "Pressed", "Idle")]
    )
    return LightButton(lib.Device("Button", [light]))


def hardware_thread(pin: Any) -> None:
    """Drive the mock pin as stdin says (L, H); on Q write the drive times to stdout."""
    times: list[int] = []
    for line in sys.stdin.buffer:
        command = line.strip()
        if command == b"L":
            t = now_ns()
            pin.drive_low()
            times.append(t)
        elif command == b"H":
            t = now_ns()
            pin.drive_high()
            times.append(t)
        elif command == b"Q":
            sys.stdout.write(" ".join(map(str, times)) + "\n")
            sys.stdout.flush()
            times.clear()


def serve(kind: str, port: int) -> None:
    pin: Any = None  # the mock pin the hardware thread drives
    if kind == "pi_indi_button":
        from pi_indi.appliance import Appliance
        from pi_indi.config import parse_config

        # The appliance's drivers and server, without its systemd and reload
        # wrapping (Appliance.run), which an edge never goes through.
        appliance = Appliance(parse_config(BUTTON_TOML.format(port=port), source="<bench>"))
        appliance.build()
        # The pin object, as the anchor holds its own (Gpio.drive_pin looks it up).
        gpio: Any = appliance.hardware
        pin = gpio.factory.pin("GPIO17")
        main: Any = appliance.make_server().asyncrun()
    elif kind == "floor":
        # What any of them needs at least: the interpreter, asyncio, gpiozero, a
        # mock Button, a listening socket.
        from gpiozero import Button
        from gpiozero.pins.mock import MockFactory

        _button = Button(17, pin_factory=MockFactory())  # kept until the server stops

        async def listen() -> None:
            server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
            async with server:
                await server.serve_forever()

        main = listen()
    else:
        import importlib

        from gpiozero.pins.mock import MockFactory

        factory = MockFactory()
        libname, servername = (
            ("pi_indi", "pi_indi") if kind == "pi_indi_light" else ("indipydriver", "indipyserver")
        )
        driver = light_driver(importlib.import_module(libname), factory)
        server_class: Any = importlib.import_module(servername).IPyServer
        pin = factory.pin(17)
        main = server_class(driver, host="127.0.0.1", port=port).asyncrun()
    if pin is not None:
        threading.Thread(target=hardware_thread, args=(pin,), daemon=True).start()
    asyncio.run(main)


# Run as ``python -c STAGES EXAMPLE`` so that nothing is imported before the first reading.
STAGES = """
import sys


def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024


out = [("interpreter, site", rss())]
import ssl

out.append(("+ ssl (asyncio imports it)", rss()))
import asyncio

out.append(("+ asyncio", rss()))
import gpiozero.pins.mock

out.append(("+ gpiozero and its mock pins", rss()))
import dataclasses

import pi_indi.cli
from pi_indi.appliance import Appliance
from pi_indi.config import load_config

out.append(("+ pi_indi (cli, config, appliance, server, protocol)", rss()))
config = load_config(sys.argv[1])
config = dataclasses.replace(config, gpio=dataclasses.replace(config.gpio, pin_factory="mock"))
out.append(("+ the example config read, its driver modules loaded", rss()))
appliance = Appliance(config)
appliance.build()
out.append((f"+ {len(appliance.drivers)} drivers built (gpiozero devices, threads)", rss()))
server = appliance.make_server()
server.host, server.port = "127.0.0.1", 0


async def serve_and_fetch():
    task = asyncio.create_task(server.asyncrun())
    await server.listening.wait()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b'<getProperties version="1.7"/>')
    try:
        while await asyncio.wait_for(reader.read(1 << 16), 1.0):
            pass
    except TimeoutError:
        pass
    await asyncio.sleep(2.0)
    out.append(("+ serving, a client in this process fetched every property", rss()))
    writer.close()
    server.shutdown()
    await task


asyncio.run(serve_and_fetch())
appliance.close()
for label, mib in out:
    print(f"{mib:.2f}\t{label}")
"""


def rss_stages(env: dict[str, str]) -> list[tuple[str, float]]:
    """Where the RSS of ``pi-indi serve --mock`` goes, import by import (one fresh process)."""
    result = subprocess.run(
        [PY, "-c", STAGES, str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    out = []
    for line in result.stdout.splitlines():
        mib, _, label = line.partition("\t")
        out.append((label, float(mib)))
    return out


# -- the client side --


class Server:
    """A server subprocess in its own session."""

    def __init__(
        self,
        cmd: list[str],
        stdin: int | None = subprocess.DEVNULL,
        env: dict[str, str] | None = None,
    ) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.started = now_ns()
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=self.log,
            start_new_session=True,
        )

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def status(self) -> dict[str, float]:
        """VmRSS and VmHWM in MiB."""
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
        return out

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()

    def failure(self, why: str) -> RuntimeError:
        self.log.seek(0)
        tail = self.log.read().decode(errors="replace")[-2000:]
        return RuntimeError(f"{why}; server stderr:\n{tail}")


class Wire:
    """A blocking-socket INDI client that hands out complete set/def vectors."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.buf = b""

    @classmethod
    def connect_when_listening(cls, server: Server, port: int, timeout: float = 20) -> Wire:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return cls(socket.create_connection(("127.0.0.1", port)))
            except ConnectionRefusedError:
                if server.proc.poll() is not None:
                    raise server.failure("server exited at start") from None
                if time.monotonic() > deadline:
                    raise server.failure("server did not listen") from None
                time.sleep(0.001)

    def elements(self, timeout: float | None) -> Iterator[tuple[bytes, bytes, bytes, int]]:
        """(kind, name, element, arrival ns) of each vector in the next read; none on timeout."""
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        except TimeoutError:
            return
        arrived = now_ns()
        if not chunk:
            raise ConnectionError("server closed")
        self.buf += chunk
        end = 0
        for match in ELEMENT.finditer(self.buf):
            end = match.end()
            name = NAME.search(match.group(3))
            yield match.group(1), name.group(1) if name else b"", match.group(0), arrived
        if end:
            self.buf = self.buf[end:]

    def quiet(self, seconds: float) -> list[bytes]:
        """Every def element until nothing has come for *seconds*."""
        defs = []
        while True:
            got = False
            for kind, _name, element, _t in self.elements(seconds):
                got = True
                if kind == b"def":
                    defs.append(element)
            if not got:
                return defs

    def close(self) -> None:
        self.sock.close()


def member_value(element: bytes, member: str) -> str | None:
    match = re.search(rb'name="%s"[^>]*>\s*([^<\s]*)\s*<' % member.encode(), element)
    return match.group(1).decode() if match else None


@dataclass(frozen=True)
class Edges:
    """Which updates an edge causes: (vector, member, value when pressed, when released)."""

    first: tuple[str, str, str, str]
    light: tuple[str, str, str, str]
    last_pressed: str
    last_released: str


BUTTON_EDGES = Edges(
    first=("DIGITAL_INPUT_1", "ON", "On", "Off"),
    light=("INPUT_STATE", "INPUT_1", "Ok", "Idle"),
    last_pressed="INPUT_COUNT",
    last_released="INPUT_STATE",
)
LIGHT_EDGES = Edges(
    first=("BUTTON", "PRESSED", "Ok", "Idle"),
    light=("BUTTON", "PRESSED", "Ok", "Idle"),
    last_pressed="BUTTON",
    last_released="BUTTON",
)


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    return statistics.median(ordered) / 1e3, ordered[int(len(ordered) * 0.99)] / 1e3


def edge_latency(kind: str, spec: Edges, edges: int, warmup: int) -> dict[str, float]:
    port = free_port()
    server = Server([PY, __file__, "_serve", kind, str(port)], stdin=subprocess.PIPE)
    try:
        wire = Wire.connect_when_listening(server, port)
        wire.sock.sendall(GET_PROPERTIES)
        if not wire.quiet(0.5):
            raise server.failure("no definitions")
        firsts: list[int] = []
        lights: list[int] = []
        for i in range(warmup + edges):
            pressed = i % 2 == 0  # pulled up: pressed is low
            server.stdin.write(b"L\n" if pressed else b"H\n")
            server.stdin.flush()
            first = light = 0
            last = spec.last_pressed if pressed else spec.last_released
            done = False
            while not done:
                if server.proc.poll() is not None:
                    raise server.failure("server exited")
                for _kind, name, element, arrived in wire.elements(10):
                    for target, which in ((spec.first, "first"), (spec.light, "light")):
                        vector, member, on, off = target
                        if name.decode() == vector and member_value(element, member) == (
                            on if pressed else off
                        ):
                            if which == "first" and not first:
                                first = arrived
                            elif which == "light" and not light:
                                light = arrived
                    done = bool(first and light and name.decode() == last)
            firsts.append(first)
            lights.append(light)
        server.stdin.write(b"Q\n")
        server.stdin.flush()
        driven = [int(t) for t in server.stdout.readline().split()]
        wire.close()
    finally:
        server.stop()
    if len(driven) != warmup + edges:
        raise RuntimeError(f"{len(driven)} drive times for {warmup + edges} edges")
    first_lat = [a - d for a, d in zip(firsts[warmup:], driven[warmup:], strict=True)]
    light_lat = [a - d for a, d in zip(lights[warmup:], driven[warmup:], strict=True)]
    p50, p99 = percentiles(first_lat)
    l50, l99 = percentiles(light_lat)
    return {"p50": p50, "p99": p99, "l50": l50, "l99": l99}


@dataclass
class Footprint:
    devices: int = 0
    defs: int = 0
    rss: float = float("nan")
    hwm: float = float("nan")
    listen_ms: list[float] = field(default_factory=list)
    defined_ms: list[float] = field(default_factory=list)


def start_server(
    make_cmd: Callable[[int], list[str]], env: dict[str, str] | None
) -> tuple[Server, Wire, int]:
    port = free_port()
    server = Server(make_cmd(port), env=env)
    try:
        wire = Wire.connect_when_listening(server, port)
    except BaseException:
        server.stop()
        raise
    return server, wire, now_ns() - server.started


def footprint(
    make_cmd: Callable[[int], list[str]], starts: int, env: dict[str, str] | None
) -> Footprint:
    out = Footprint()
    # A first start, not measured, fills the bytecode cache (when there is one).
    server, wire, _ = start_server(make_cmd, env)
    wire.close()
    server.stop()
    # Memory: fetch every property, wait until quiet, then two more seconds.
    server, wire, _ = start_server(make_cmd, env)
    try:
        wire.sock.sendall(GET_PROPERTIES)
        defs = wire.quiet(1.0)
        time.sleep(2.0)
        status = server.status()
        out.rss, out.hwm = status["VmRSS"], status["VmHWM"]
        devices = set()
        for element in defs:
            device = DEVICE.search(element)
            devices.add(device.group(1) if device else b"")
        out.devices, out.defs = len(devices), len(defs)
        wire.close()
    finally:
        server.stop()
    # Start-up: process start to connect, and to the last definition.
    for _ in range(starts):
        server, wire, listening = start_server(make_cmd, env)
        try:
            out.listen_ms.append(listening / 1e6)
            if out.defs:
                wire.sock.sendall(GET_PROPERTIES)
                seen = 0
                while seen < out.defs:
                    for kind, _name, _element, arrived in wire.elements(10):
                        if kind == b"def":
                            seen += 1
                            if seen == out.defs:
                                out.defined_ms.append((arrived - server.started) / 1e6)
                    if server.proc.poll() is not None:
                        raise server.failure("server exited")
            wire.close()
        finally:
            server.stop()
    return out


def main() -> None:
    from importlib.metadata import version

    edges = int(os.environ.get("BENCH_EDGES", "2000"))
    warmup = 100
    starts = int(os.environ.get("BENCH_STARTS", "7"))
    latency_rows = {
        "pi_indi appliance, bundled button driver": ("pi_indi_button", BUTTON_EDGES),
        "pi_indi IPyServer, the anchor's driver code": ("pi_indi_light", LIGHT_EDGES),
        "indipyserver 0.0.6 + indipydriver 3.1.2 (anchor)": ("indipydriver_light", LIGHT_EDGES),
    }
    latencies = {}
    for label, (kind, spec) in latency_rows.items():
        print(f"-- latency: {label}", file=sys.stderr, flush=True)
        latencies[label] = edge_latency(kind, spec, edges, warmup)

    with tempfile.TemporaryDirectory() as tmpdir:
        # An installed pi-indi (pip, the .deb) has its bytecode compiled, like
        # gpiozero and the anchors in the venv; an editable checkout run with
        # PYTHONDONTWRITEBYTECODE=1 compiles pi_indi at every start. Measured
        # with a bytecode cache of its own (PYTHONPYCACHEPREFIX), the tree is
        # left as it is; the last row shows the cost of no cache.
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = str(Path(tmpdir) / "pycache")
        uncached = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
        uncached["PYTHONDONTWRITEBYTECODE"] = "1"
        button_toml = Path(tmpdir) / "button.toml"
        button_toml.write_text(BUTTON_TOML.format(port=7624))

        def pi_indi_cmd(config: Path) -> Callable[[int], list[str]]:
            return lambda port: [PI_INDI, "serve", "--mock", "-c", str(config), "--port", str(port)]

        def bench_cmd(kind: str) -> Callable[[int], list[str]]:
            # Imported rather than run as a script, so that it is not compiled each time.
            code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import appliance; "
            code += f"appliance.serve({kind!r}, int(sys.argv[1]))"
            return lambda port: [PY, "-c", code, str(port)]

        footprint_rows = {
            "pi-indi serve --mock, example config": (pi_indi_cmd(EXAMPLE), cached),
            "pi-indi serve --mock, one button": (pi_indi_cmd(button_toml), cached),
            "indipyserver + indipydriver, one button (anchor)": (
                bench_cmd("indipydriver_light"),
                cached,
            ),
            "floor: python, asyncio, gpiozero mock Button, listening": (
                bench_cmd("floor"),
                cached,
            ),
            "pi-indi serve --mock, example config, pi_indi not byte-compiled": (
                pi_indi_cmd(EXAMPLE),
                uncached,
            ),
        }
        footprints = {}
        for label, (make_cmd, env) in footprint_rows.items():
            print(f"-- footprint: {label}", file=sys.stderr, flush=True)
            footprints[label] = footprint(make_cmd, starts, env)
        stages = rss_stages(cached)

    print(
        f"Python {sys.version.split()[0]}, gpiozero {version('gpiozero')},"
        f" {os.cpu_count()} CPUs; {edges} edges after {warmup} warm-up, one at a time"
    )
    print()
    print("1. Mock button edge -> client update, us (CLOCK_MONOTONIC, drive to read)")
    head = ("server and driver", "first update p50", "p99", "light p50", "p99")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for label, lat in latencies.items():
        print(
            f"| {label} | {lat['p50']:.0f} | {lat['p99']:.0f} | {lat['l50']:.0f} |"
            f" {lat['l99']:.0f} |"
        )
    anchor = latencies["indipyserver 0.0.6 + indipydriver 3.1.2 (anchor)"]["p50"]
    ours = latencies["pi_indi appliance, bundled button driver"]["p50"]
    print(f"anchor p50 / appliance p50 (first update): {anchor / ours:.2f}")
    print()
    print(f"2-3. Memory and start-up (start-up: median of {starts} runs, ms from process start)")
    head2 = (
        "process",
        "devices",
        "def vectors",
        "VmRSS MiB",
        "VmHWM MiB",
        "listening ms",
        "all defined ms",
    )
    print("| " + " | ".join(head2) + " |")
    print("|" + "---|" * len(head2))
    for label, fp in footprints.items():
        listen = statistics.median(fp.listen_ms)
        defined = f"{statistics.median(fp.defined_ms):.0f}" if fp.defined_ms else "-"
        print(
            f"| {label} | {fp.devices} | {fp.defs} | {fp.rss:.1f} | {fp.hwm:.1f} |"
            f" {listen:.0f} | {defined} |"
        )
    print()
    print("4. Where the RSS of pi-indi serve --mock (example config) goes, one process")
    print("| stage | VmRSS MiB | added MiB |")
    print("|---|---|---|")
    previous = 0.0
    for label, mib in stages:
        print(f"| {label} | {mib:.1f} | {mib - previous:+.1f} |")
        previous = mib


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
