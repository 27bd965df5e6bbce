"""Soak test: an IPyServer streaming for minutes to good and hostile clients.

    python bench/soak.py                 # 10 minutes (bash bench/run.sh soak)
    python bench/soak.py --minutes 0.5   # a smoke run

The server runs as a subprocess of this script (so that its RSS is its own)
with two in-process drivers, ``soak1`` and ``soak2``. Once started, each sends
numbered ``setNumberVector`` updates (``SEQ.N`` = 1, 2, 3, ...; state Busy) at
a steady rate, and a last one with state Ok when stopped. Ten clients connect
on 127.0.0.1:

- seven well-behaved ones read everything and now and then set a switch of
  their own (``TOGGLE.Cn``), waiting for the driver's answer;
- one never reads (it is dropped when ``--max-client-queue`` bytes behind,
  then connects again);
- one connects, reads its definitions and disconnects, in a loop;
- one sends garbage (random bytes, broken and mutated INDI), in a loop.

The server's RSS and open file descriptors are sampled from /proc every few
seconds. At the end the script checks, and exits 1 if any fails:

- RSS is bounded: its maximum after the warm-up is within ``--rss-slack`` MiB
  of the RSS at the end of the warm-up;
- every well-behaved client received every update of both drivers, in order,
  with no gap and nothing repeated, and had every switch request answered;
- the server is still running, and once every client has gone it holds no
  more file descriptors than before the first one came.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pi_indi.protocol import (
    NEED_DATA,
    Connection,
    DefNumberVector,
    Event,
    GetProperties,
    NewSwitchVector,
    PingRequest,
    PropertyState,
    SetNumberVector,
    SetSwitchVector,
    SwitchState,
    encode,
)

SCRIPT = os.path.abspath(__file__)
DEVICES = ("soak1", "soak2")
WELL_BEHAVED = 7
MiB = 1 << 20

# -- the server process ---------------------------------------------------------------


def make_driver(device: str, rate: float) -> Any:
    import pi_indi as ipd

    class SoakDriver(ipd.IPyDriver):
        """Streams SEQ.N = 1, 2, 3, ... at *rate* per second between START and STOP."""

        def __init__(self) -> None:
            seq = ipd.NumberVector(
                "SEQ", "Sequence", "Main", "ro", "Ok", [ipd.NumberMember("N", "N", "%.0f")]
            )
            run = ipd.SwitchVector(
                "RUN",
                "Run",
                "Main",
                "rw",
                "OneOfMany",
                "Ok",
                [ipd.SwitchMember("START", "Start", "Off"), ipd.SwitchMember("STOP", "Stop", "On")],
            )
            toggle = ipd.SwitchVector(
                "TOGGLE",
                "Toggle",
                "Main",
                "rw",
                "AnyOfMany",
                "Ok",
                [ipd.SwitchMember(f"C{i}", f"C{i}", "Off") for i in range(WELL_BEHAVED)],
            )
            seq["N"] = 0
            super().__init__(ipd.Device(device, [seq, run, toggle]))
            self.running = asyncio.Event()

        async def rxevent(self, event: Any) -> None:
            for name, value in event.items():
                event.vector[name] = value
            if event.vectorname == "RUN":
                if event.vector["START"] == "On":
                    self.running.set()
                else:
                    self.running.clear()
            await event.vector.send_setVector(state="Ok")

        async def hardware(self) -> None:
            seq = self[device]["SEQ"]
            loop = asyncio.get_running_loop()
            interval = 1 / rate
            n = 0
            while True:
                await self.running.wait()
                due = loop.time()
                while self.running.is_set():
                    n += 1
                    seq["N"] = n
                    await seq.send_setVector(state="Busy")
                    due += interval
                    await asyncio.sleep(max(0.0, due - loop.time()))
                await seq.send_setVector(state="Ok")

    return SoakDriver()


async def serve(rate: float, max_client_queue: int) -> None:
    from pi_indi import IPyServer

    # One line per record, for the soak script to count.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")

    server = IPyServer(
        *(make_driver(device, rate) for device in DEVICES),
        host="127.0.0.1",
        port=0,
        maxconnections=32,
        max_client_queue=max_client_queue,
    )
    task = asyncio.create_task(server.asyncrun())
    await server.listening.wait()
    print(server.port, flush=True)
    await task


# -- measuring the server -------------------------------------------------------------


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class ServerLog:
    """What the server logged, by kind."""

    malformed: int = 0
    dropped_behind: int = 0
    refused: int = 0
    other_warnings: int = 0
    errors: list[str] = field(default_factory=list)


async def read_log(stream: asyncio.StreamReader, log: ServerLog) -> None:
    while raw := await stream.readline():
        line = raw.decode(errors="replace").rstrip()
        if not line:
            continue
        if line.startswith("WARNING "):
            if "sent malformed XML" in line:
                log.malformed += 1
            elif "bytes behind" in line:
                log.dropped_behind += 1
            elif ": refused " in line:
                log.refused += 1
            else:
                log.other_warnings += 1
        elif len(log.errors) < 20:
            log.errors.append(line)  # ERROR, CRITICAL, a traceback


@dataclass
class Sample:
    t: float
    rss: float
    fds: int


# -- clients --------------------------------------------------------------------------


@dataclass
class Stream:
    """What one well-behaved client saw of one device's SEQ."""

    last: int = 0
    received: int = 0
    final: int | None = None
    errors: list[str] = field(default_factory=list)

    def update(self, n: int, state: PropertyState | None) -> None:
        if state is PropertyState.OK:
            if n != self.last:
                self.errors.append(f"final {n} after {self.last}")
            self.final = n
            return
        if n != self.last + 1 and len(self.errors) < 10:
            self.errors.append(f"{n} after {self.last}")
        self.last = n
        self.received += 1


class Reader:
    """An INDI client on asyncio streams that decodes what it reads."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = Connection()

    @classmethod
    async def connect(cls, port: int) -> Reader:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, event: Event) -> None:
        self.writer.write(encode(event))
        await self.writer.drain()

    async def events(self) -> list[Any]:
        chunk = await self.reader.read(1 << 16)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.conn.receive_data(chunk)
        out = []
        while (event := self.conn.next_event()) is not NEED_DATA:
            out.append(event)
        return out

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class GoodClient:
    def __init__(self, index: int, port: int, rng: random.Random) -> None:
        self.index = index
        self.port = port
        self.rng = rng
        self.streams = {device: Stream() for device in DEVICES}
        self.member = f"C{index}"
        self.mine = dict.fromkeys(DEVICES, "Off")
        # device -> (value asked for, when)
        self.waiting: dict[str, tuple[str, float]] = {}
        self.answered: list[float] = []
        self.unanswered = 0
        self.defined: set[str] = set()
        self.errors: list[str] = []
        self.client: Reader | None = None
        self.toggling = False

    async def start(self) -> None:
        self.client = await Reader.connect(self.port)
        await self.client.send(GetProperties(version="1.7"))
        while len(self.defined) < len(DEVICES):
            self._handle(await self.client.events())

    def _handle(self, events: list[Any]) -> None:
        now = time.monotonic()
        for event in events:
            kind = type(event)
            if kind is SetNumberVector and event.name == "SEQ":
                self.streams[event.device].update(int(event.values["N"]), event.state)
            elif kind is SetSwitchVector and event.name == "TOGGLE":
                asked = self.waiting.get(event.device)
                if asked is not None and event.values.get(self.member) == asked[0]:
                    del self.waiting[event.device]
                    self.answered.append(now - asked[1])
            elif kind is DefNumberVector and event.name == "SEQ":
                self.defined.add(event.device)

    async def read(self) -> None:
        assert self.client is not None
        while True:
            self._handle(await self.client.events())

    async def toggle(self) -> None:
        assert self.client is not None
        while self.toggling:
            await asyncio.sleep(self.rng.uniform(1.0, 6.0))
            device = self.rng.choice(DEVICES)
            if device in self.waiting:
                if time.monotonic() - self.waiting[device][1] > 10:
                    self.unanswered += 1
                    del self.waiting[device]
                continue
            value = "On" if self.mine[device] == "Off" else "Off"
            self.mine[device] = value
            self.waiting[device] = (value, time.monotonic())
            await self.client.send(
                NewSwitchVector(
                    device=device, name="TOGGLE", values={self.member: SwitchState(value)}
                )
            )

    def finished(self) -> bool:
        return all(s.final is not None for s in self.streams.values()) and not self.waiting


@dataclass
class HostileCounts:
    never_reader_connections: int = 0
    never_reader_dropped: int = 0
    reconnect_cycles: int = 0
    garbage_connections: int = 0
    garbage_closed_by_server: int = 0
    garbage_bytes: int = 0


async def never_reader(port: int, counts: HostileCounts) -> None:
    """Subscribe to everything, never read; find out by a failed send when dropped."""
    loop = asyncio.get_running_loop()
    while True:
        sock = socket.socket()
        sock.setblocking(False)
        # A small receive window: the server's queue for it fills sooner.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            await loop.sock_connect(sock, ("127.0.0.1", port))
            counts.never_reader_connections += 1
            await loop.sock_sendall(sock, encode(GetProperties(version="1.7")))
            while True:
                await asyncio.sleep(2)
                await loop.sock_sendall(sock, encode(PingRequest(uid="still here")))
        except OSError:
            counts.never_reader_dropped += 1
        finally:
            sock.close()


async def reconnector(port: int, counts: HostileCounts, rng: random.Random) -> None:
    """Connect, read the definitions and a little more, leave; again and again."""
    while True:
        client = await Reader.connect(port)
        try:
            await client.send(GetProperties(version="1.7"))
            defined = 0
            async with asyncio.timeout(10):
                while defined < len(DEVICES):
                    defined += sum(
                        type(e) is DefNumberVector and e.name == "SEQ"
                        for e in await client.events()
                    )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(rng.uniform(0.0, 1.0)):
                    while True:
                        await client.events()
        finally:
            await client.close()
        counts.reconnect_cycles += 1
        await asyncio.sleep(rng.uniform(0.0, 0.2))


# Whole messages for garbage to be made of. No request here names a served
# device, so nothing the garbage client sends is a valid request to them.
CORPUS = [
    b'<getProperties version="1.7"/>',
    b'<getProperties version="1.7" device="X" name="Y"/>',
    b'<newSwitchVector device="X" name="TOGGLE"><oneSwitch name="C0">On</oneSwitch>'
    b"</newSwitchVector>",
    b'<newNumberVector device="X" name="N"><oneNumber name="a">1.5</oneNumber></newNumberVector>',
    b'<newTextVector device="X" name="T"><oneText name="t">a &amp; b</oneText></newTextVector>',
    b'<newBLOBVector device="X" name="B"><oneBLOB name="b" size="3" format=".x">YWJj</oneBLOB>'
    b"</newBLOBVector>",
    b'<enableBLOB device="X">Also</enableBLOB>',
    b'<pingRequest uid="1"/>',
    b'<message device="X" message="hello"/>',
    b'<setNumberVector device="X" name="SEQ" state="Busy"><oneNumber name="N">1</oneNumber>'
    b"</setNumberVector>",
    b'<defSwitchVector device="X" name="S" state="Idle" perm="rw" rule="OneOfMany">'
    b'<defSwitch name="A">On</defSwitch></defSwitchVector>',
]
INJECTIONS = [
    b'<!DOCTYPE lolz [<!ENTITY lol "lol">]>',
    b"<![CDATA[<x>]]>",
    b"&lol;&#0;&#xD800;",
    b"\x00\x00\x00",
    b"\xff\xfe\xc0\x80\xed\xa0\x80",
    b"<a><b><c><d><e><f>",
    b"</setNumberVector>",
    b"<newSwitchVector device='X' name='Y' " + b"a" * 70000,
]


def garbage(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randint(1, 12)):
        kind = rng.random()
        if kind < 0.3:
            parts.append(rng.choice(CORPUS))
        elif kind < 0.55:
            flipped = bytearray(rng.choice(CORPUS))
            for _ in range(rng.randint(1, 4)):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            parts.append(bytes(flipped))
        elif kind < 0.7:
            msg = rng.choice(CORPUS)
            parts.append(msg[: rng.randrange(len(msg))])
        elif kind < 0.85:
            parts.append(rng.choice(INJECTIONS))
        else:
            parts.append(rng.randbytes(rng.randint(1, 512)))
    return b"".join(parts)


async def garbage_sender(port: int, counts: HostileCounts, rng: random.Random) -> None:
    """Send garbage; wait (a little) for the server to close the connection; again."""
    while True:
        client = await Reader.connect(port)
        counts.garbage_connections += 1
        try:
            data = garbage(rng)
            counts.garbage_bytes += len(data)
            client.writer.write(data)
            await client.writer.drain()
            async with asyncio.timeout(1.0):
                while True:
                    await client.events()
        except TimeoutError:  # before OSError, of which it is a subclass
            pass  # still open after a second: the garbage was well-formed enough
        except (OSError, ConnectionError):
            counts.garbage_closed_by_server += 1
        finally:
            await client.close()
        await asyncio.sleep(rng.uniform(0.0, 0.1))


# -- the run --------------------------------------------------------------------------


async def sample_loop(pid: int, samples: list[Sample], every: float, t0: float) -> None:
    while True:
        samples.append(Sample(time.monotonic() - t0, rss_mib(pid), fd_count(pid)))
        await asyncio.sleep(every)


async def poll(done: Callable[[], bool], timeout: float) -> None:
    """Wait until done() is true, at most *timeout* seconds."""
    for _ in range(int(timeout * 10)):
        if done():
            return
        await asyncio.sleep(0.1)


async def set_run(client: Reader, start: bool) -> None:
    value = {"START": SwitchState.ON} if start else {"STOP": SwitchState.ON}
    for device in DEVICES:
        await client.send(NewSwitchVector(device=device, name="RUN", values=value))


async def soak(args: argparse.Namespace) -> int:
    duration = args.minutes * 60
    warmup = min(args.warmup, duration / 4)
    rng = random.Random(args.seed)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        SCRIPT,
        "--serve",
        "--rate",
        str(args.rate),
        "--max-client-queue",
        str(args.max_client_queue),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    server_log = ServerLog()
    log_reader = asyncio.create_task(read_log(proc.stderr, server_log))
    port = int(await proc.stdout.readline())
    pid = proc.pid
    await asyncio.sleep(0.5)
    fds_before = fd_count(pid)
    rss_start = rss_mib(pid)
    print(
        f"soak: {args.minutes:g} min, {len(DEVICES)} drivers x {args.rate:g} updates/s,"
        f" {WELL_BEHAVED + 3} clients, server pid {pid} on 127.0.0.1:{port}",
        flush=True,
    )

    good = [GoodClient(i, port, random.Random(rng.random())) for i in range(WELL_BEHAVED)]
    for client in good:
        await client.start()
    tasks = [asyncio.create_task(c.read()) for c in good]
    counts = HostileCounts()
    hostile = [
        asyncio.create_task(never_reader(port, counts)),
        asyncio.create_task(reconnector(port, counts, random.Random(rng.random()))),
        asyncio.create_task(garbage_sender(port, counts, random.Random(rng.random()))),
    ]
    samples: list[Sample] = []
    t0 = time.monotonic()
    sampler = asyncio.create_task(sample_loop(pid, samples, args.sample, t0))
    assert good[0].client is not None
    await set_run(good[0].client, start=True)
    for client in good:
        client.toggling = True
    togglers = [asyncio.create_task(c.toggle()) for c in good]

    failures: list[str] = []
    next_report = args.report
    while (elapsed := time.monotonic() - t0) < duration:
        await asyncio.sleep(min(1.0, duration - elapsed))
        if proc.returncode is not None:
            failures.append(f"the server exited with {proc.returncode}")
            break
        for task in (*tasks, *hostile):
            if task.done():
                exc = task.exception()
                failures.append(f"a client task ended: {exc!r}")
                break
        if failures:
            break
        if time.monotonic() - t0 >= next_report:
            next_report += args.report
            s = samples[-1]
            print(
                f"  {s.t:6.0f} s  RSS {s.rss:5.1f} MiB  fds {s.fds:3d}  received"
                f" {min(c.streams[d].received for c in good for d in DEVICES)}"
                f" per device  hostile {counts}",
                flush=True,
            )

    # Stop the hostile clients and the toggling, then the stream; wait for the last update.
    for task in (*hostile, *togglers):
        task.cancel()
    await asyncio.gather(*hostile, *togglers, return_exceptions=True)
    for client in good:
        client.toggling = False
    if proc.returncode is None:
        await set_run(good[0].client, start=False)
        await poll(lambda: all(c.finished() for c in good), timeout=30)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for client in good:
        assert client.client is not None
        await client.client.close()
    sampler.cancel()
    await asyncio.gather(sampler, return_exceptions=True)

    alive = proc.returncode is None
    fds_after = fds_before
    if alive:
        # Every client has gone: the server should be back to its own descriptors.
        await poll(lambda: fd_count(pid) <= fds_before, timeout=10)
        fds_after = fd_count(pid)
        samples.append(Sample(time.monotonic() - t0, rss_mib(pid), fds_after))
        proc.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(15):
            await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        failures.append("the server did not stop on SIGTERM")
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            await log_reader

    # -- report --
    rss = [s.rss for s in samples]
    after = [s.rss for s in samples if s.t >= warmup]
    at_warmup = after[0] if after else rss[-1]
    peak_after = max(after) if after else rss[-1]
    print(f"\nserver RSS (MiB), sampled every {args.sample:g} s, {len(samples)} samples:")
    print(
        f"  at start {rss_start:.1f}, end of warm-up ({warmup:.0f} s) {at_warmup:.1f},"
        f" max after warm-up {peak_after:.1f}, max overall {max(rss):.1f},"
        f" median {statistics.median(rss):.1f}, at the end {rss[-1]:.1f}"
    )
    quarters = [
        [s.rss for s in samples if q * duration / 4 <= s.t < (q + 1) * duration / 4]
        for q in range(4)
    ]
    print(
        "  per quarter of the run, max: "
        + ", ".join(f"{max(q):.1f}" if q else "-" for q in quarters)
        + "; median: "
        + ", ".join(f"{statistics.median(q):.1f}" if q else "-" for q in quarters)
    )
    print(f"server fds: {fds_before} before the clients, {fds_after} after they all left")
    finals = {d: [c.streams[d].final for c in good] for d in DEVICES}
    total = 0
    for device in DEVICES:
        final = finals[device][0] or 0
        total += final
        print(f"updates sent by {device}: {final} ({final / duration:.1f}/s)")
    received = [sum(c.streams[d].received for d in DEVICES) for c in good]
    print(
        f"well-behaved clients ({len(good)}): received {min(received)} to {max(received)}"
        f" of {total} updates each"
    )
    latencies = sorted(x for c in good for x in c.answered)
    unanswered = sum(c.unanswered + len(c.waiting) for c in good)
    if latencies:
        print(
            f"switch sets: {len(latencies)} answered, {unanswered} unanswered;"
            f" latency p50 {latencies[len(latencies) // 2] * 1000:.1f} ms,"
            f" max {latencies[-1] * 1000:.1f} ms"
        )
    print(
        f"never-reading client: {counts.never_reader_connections} connections,"
        f" dropped by the server {counts.never_reader_dropped} times"
    )
    print(f"reconnecting client: {counts.reconnect_cycles} cycles")
    print(
        f"garbage client: {counts.garbage_connections} connections,"
        f" {counts.garbage_bytes} bytes, closed by the server {counts.garbage_closed_by_server}"
        " times"
    )
    print(
        f"server log: {server_log.malformed} clients closed for malformed XML,"
        f" {server_log.dropped_behind} dropped for falling behind, {server_log.refused}"
        f" requests refused, {server_log.other_warnings} other warnings,"
        f" {len(server_log.errors)} errors"
    )

    if not alive:
        failures.append("the server was not running at the end")
    if peak_after - at_warmup > args.rss_slack:
        failures.append(
            f"RSS grew {peak_after - at_warmup:.1f} MiB after the warm-up"
            f" (limit {args.rss_slack:g} MiB)"
        )
    for c in good:
        for device, stream in c.streams.items():
            if stream.errors:
                failures.append(f"client {c.index} {device}: out of order: {stream.errors[:5]}")
            if stream.final is None:
                failures.append(f"client {c.index} {device}: never saw the last update")
            elif stream.received != stream.final:
                failures.append(
                    f"client {c.index} {device}: received {stream.received} of {stream.final}"
                )
    if len({f for fs in finals.values() for f in fs}) > len(DEVICES):
        failures.append(f"clients disagree on the last update: {finals}")
    if unanswered:
        failures.append(f"{unanswered} switch requests unanswered")
    if fds_after > fds_before:
        failures.append(f"the server holds {fds_after - fds_before} more fds than at the start")
    if counts.reconnect_cycles == 0 or counts.garbage_connections == 0:
        failures.append("the hostile clients did not run")
    if server_log.errors:
        failures.append(f"the server logged errors: {server_log.errors[:5]}")
    if failures:
        print("\nFAILED:")
        for failure in failures:
            print(f"  - {failure}")
        return 1
    print("\nall invariants hold")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    parser.add_argument("--rate", type=float, default=250.0, help="updates/s per driver")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds (at most 1/4 run)")
    parser.add_argument("--rss-slack", type=float, default=8.0, help="MiB allowed after warm-up")
    parser.add_argument(
        "--max-client-queue", type=int, default=1 * MiB, help="the server's client backlog cap"
    )
    parser.add_argument("--report", type=float, default=60.0, help="seconds between progress")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.rate, args.max_client_queue))
        return 0
    return asyncio.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
