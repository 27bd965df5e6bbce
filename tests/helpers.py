"""What the tests share: free ports, a raw INDI client, test drivers, running servers.

Test modules import helpers from here (or get them as fixtures from a
conftest), never from one another.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

import pi_indi as ipd
from pi_indi.config import Config, option, parse_config
from pi_indi.driver import DriverLink, IPyDriver
from pi_indi.protocol import (
    NEED_DATA,
    Connection,
    DefNumberVector,
    Event,
    GetProperties,
    Message,
    encode,
)
from pi_indi.registry import DriverRecord, DriverStatus
from pi_indi_drivers._gpio import Gpio

HERE = Path(__file__).resolve().parent

# The page of docs/drivers/ that documents each bundled driver.
DRIVER_PAGES = {
    "led": "digital_output",
    "relay": "digital_output",
    "buzzer": "digital_output",
    "pwm_led": "pwm_output",
    "pwm_output": "pwm_output",
    "rgb_led": "rgb_led",
    "servo": "servo",
    "angular_servo": "servo",
    "motor": "motor",
    "button": "digital_input",
    "digital_input": "digital_input",
    "motion_sensor": "digital_input",
    "line_sensor": "digital_input",
    "distance_sensor": "sensors",
    "light_sensor": "sensors",
    "mcp3xxx": "sensors",
    "cpu_temperature": "sensors",
    "load_average": "sensors",
    "disk_usage": "sensors",
    "weather": "weather",
    "iio_sensor": "iio_sensor",
    "hwmon_sensor": "hwmon_sensor",
    "ds18b20": "ds18b20",
    "dew_heater": "dew_heater",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- a raw INDI client -------------------------------------------------------------------


class Client:
    """A raw INDI client: sends events, reads events."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = Connection()
        self.events: list[Event] = []

    async def send(self, event: Event | bytes) -> None:
        self.writer.write(event if isinstance(event, bytes) else encode(event))
        await self.writer.drain()

    async def expect(
        self, match: Callable[[Event], bool], timeout: float = 3.0, *, keep_others: bool = False
    ) -> Event:
        """The first event *match* accepts; the events before it are dropped.

        With *keep_others*, only the matched event is taken: the ones before it
        stay to be expected later (for answers that may overtake each other).
        """
        async with asyncio.timeout(timeout):
            while True:
                for i, event in enumerate(self.events):
                    if match(event):
                        if keep_others:
                            del self.events[i]
                        else:
                            del self.events[: i + 1]
                        return event
                chunk = await self.reader.read(1 << 16)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                self.conn.receive_data(chunk)
                while (item := self.conn.next_event()) is not NEED_DATA:
                    self.events.append(item)  # type: ignore[arg-type]

    async def silent(self, match: Callable[[Event], bool], wait: float = 0.3) -> bool:
        try:
            await self.expect(match, timeout=wait)
        except TimeoutError:
            return True
        return False

    async def closed(self, timeout: float = 3.0) -> bool:
        async with asyncio.timeout(timeout):
            try:
                while await self.reader.read(1 << 16):
                    pass
            except ConnectionResetError:
                pass
        return True

    def close(self) -> None:
        self.writer.close()


def is_(kind: type, **attrs: Any) -> Callable[[Event], bool]:
    """A matcher for ``Client.expect``: an event of *kind* with these attribute values."""
    return lambda e: type(e) is kind and all(getattr(e, k) == v for k, v in attrs.items())


async def defined(client: Client, device: str, kind: type = DefNumberVector) -> Any:
    """Ask for *device* until it is defined: an executable driver may not have said so yet."""
    async with asyncio.timeout(15):
        while True:
            await client.send(GetProperties(version="1.7", device=device))
            with contextlib.suppress(TimeoutError):
                return await client.expect(is_(kind, device=device), timeout=0.5)


async def refused_with(client: Client, text: str) -> Message:
    """The one message a refused client gets, then the end of the connection."""
    told = await client.expect(is_(Message))
    assert isinstance(told, Message)
    assert text in (told.message or "")
    assert await client.closed()
    return told


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the server logged refusing clients or their requests."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "pi_indi.server" and "refused" in r.getMessage()
    ]


# -- drivers -------------------------------------------------------------------------------


class Recorder(ipd.IPyDriver):
    """A driver that keeps what it receives and sets what it is asked to."""

    def __init__(self, *devices: ipd.Device, **data: Any) -> None:
        super().__init__(*devices, **data)
        self.received: list[Any] = []
        self.snooped: list[Any] = []

    async def rxevent(self, event: Any) -> None:
        self.received.append(event)
        if isinstance(event, ipd.getProperties):
            return
        if isinstance(event, ipd.newBLOBVector):
            await event.vector.send_setVectorMembers(state="Ok")
            return
        for name, value in event.items():
            event.vector[name] = value
        await event.vector.send_setVector(state="Ok")

    async def snoopevent(self, event: Any) -> None:
        self.snooped.append(event)


def make_device(name: str = "Dev") -> ipd.Device:
    """A device with a vector of every kind: MODE, RELAY, LEVEL, TEMP, NOTE, LAMP, DATA."""
    return ipd.Device(
        name,
        [
            ipd.SwitchVector(
                "MODE",
                "Mode",
                "Main",
                "rw",
                "OneOfMany",
                "Ok",
                [
                    ipd.SwitchMember("A", membervalue="On"),
                    ipd.SwitchMember("B"),
                    ipd.SwitchMember("C"),
                ],
            ),
            ipd.SwitchVector(
                "RELAY",
                "Relay",
                "Main",
                "rw",
                "AtMostOne",
                "Ok",
                [ipd.SwitchMember("ON"), ipd.SwitchMember("OFF", membervalue="On")],
            ),
            ipd.NumberVector(
                "LEVEL",
                "Level",
                "Main",
                "rw",
                "Ok",
                [ipd.NumberMember("PCT", format="%.1f", min=0, max=100, step=1, membervalue=5)],
            ),
            ipd.NumberVector(
                "TEMP", "Temp", "Main", "ro", "Ok", [ipd.NumberMember("C", membervalue=20)]
            ),
            ipd.TextVector(
                "NOTE", "Note", "Main", "rw", "Ok", [ipd.TextMember("TEXT", membervalue="x")]
            ),
            ipd.LightVector("LAMP", "Lamp", "Main", "Idle", [ipd.LightMember("L")]),
            ipd.BLOBVector(
                "DATA", "Data", "Main", "rw", "Idle", [ipd.BLOBMember("FILE", blobformat=".bin")]
            ),
        ],
    )


class MemoryLink(DriverLink):
    """A driver link with queues at both ends, for testing drivers without I/O."""

    def __init__(self) -> None:
        self.sent: asyncio.Queue[Event] = asyncio.Queue()
        self.incoming: asyncio.Queue[Event | None] = asyncio.Queue()

    async def send(self, event: Event) -> None:
        await self.sent.put(event)

    async def run(self, driver: IPyDriver) -> None:
        while (event := await self.incoming.get()) is not None:
            await driver.receive_event(event)

    async def request(self, event: Event) -> None:
        await self.incoming.put(event)

    async def reply(self, timeout: float = 2.0) -> Event:
        async with asyncio.timeout(timeout):
            return await self.sent.get()

    async def nothing_more(self, wait: float = 0.1) -> bool:
        await asyncio.sleep(wait)
        return self.sent.empty()


class Running:
    """A driver running on a :class:`MemoryLink` (the ``run_driver`` fixture)."""

    def __init__(self, driver: IPyDriver, link: MemoryLink, task: asyncio.Task[Any]) -> None:
        self.driver = driver
        self.link = link
        self.task = task


def noisy_script(tmp_path: Path, name: str = "noisy") -> Path:
    """An executable running server/noisy_driver.py (its device name is its first argument)."""
    script = tmp_path / name
    script.write_text(
        f"#!{sys.executable}\nexec(open({str(HERE / 'server' / 'noisy_driver.py')!r}).read())\n"
    )
    script.chmod(0o755)
    return script


# -- config files: drivers the config checker knows in the tests ---------------------------


@dataclass(frozen=True, kw_only=True)
class LampOptions:
    pins: tuple[str, ...] = option(help="the lamps' pins", pin=True)
    labels: tuple[str, ...] = option((), help="a label per pin")
    active_high: bool = option(True, help="on is high")
    frequency: float = option(100.0, help="PWM frequency", min=1, max=10000, unit="Hz")
    count: int = option(1, help="how many", min=0)
    mode: Literal["steady", "blink"] = option("steady", help="how it lights")
    note: str | None = option(None, help="a note")

    def problems(self) -> list[tuple[str, str]]:
        if self.labels and len(self.labels) != len(self.pins):
            return [("labels", f"has {len(self.labels)} labels for {len(self.pins)} pins")]
        return []


class LampDriver(IPyDriver):
    """A lamp for the tests."""

    options_class = LampOptions


@dataclass(frozen=True, kw_only=True)
class SonarOptions:
    echo: str = option(help="echo pin", pin=True)
    trigger: str = option(help="trigger pin", pin=True)


class SonarDriver(IPyDriver):
    """A distance sensor for the tests."""

    options_class = SonarOptions


class PlainDriver(IPyDriver):
    """A driver that takes no options."""


KNOWN = {"lamp": LampDriver, "sonar": SonarDriver, "plain": PlainDriver}


def find(name: str) -> DriverRecord | None:
    """The tests' driver registry: KNOWN, and "broken", which failed to load."""
    if name == "broken":
        return DriverRecord(
            name=name,
            target="somewhere:Broken",
            status=DriverStatus.LOAD_ERROR,
            error="ImportError: no module named somewhere",
        )
    cls = KNOWN.get(name)
    return DriverRecord(name=name, target=f"tests:{name}", cls=cls) if cls else None


def parse(text: str) -> Config:
    """*text* checked as the appliance checks it, with the KNOWN drivers."""
    board = Gpio("mock")  # a Raspberry Pi 5's header
    return parse_config(text, resolve_pin=board.resolve_pin, find=find, known_drivers=[*KNOWN])


# -- running servers -----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(
    *drivers: IPyDriver,
    exdrivers: Sequence[tuple[str, ...]] = (),
    remotes: Sequence[Mapping[str, Any]] = (),
    debug_enable: bool = False,
    setup: Callable[[ipd.IPyServer], None] | None = None,
    **options: Any,
) -> AsyncIterator[Any]:
    """Run an IPyServer (on 127.0.0.1 and a free port unless *options* say otherwise).

    ``exdrivers`` are ``(program, *args)`` tuples, started with *debug_enable*;
    ``remotes`` are keyword arguments of ``add_remote`` (host, port, ...);
    ``setup(server)`` runs last before the server starts.
    Once the server listens it is yielded, with ``await server.connect(host,
    source=...)`` to open a :class:`Client` to it (from address *source*).
    On exit the clients are closed, the server shut down and its task
    awaited (for at most 10 s).

    Raises:
        OSError: the server could not listen.
    """
    options.setdefault("host", "127.0.0.1")
    options.setdefault("port", 0)
    server: Any = ipd.IPyServer(*drivers, **options)
    for program, *args in exdrivers:
        server.add_exdriver(program, *args, debug_enable=debug_enable)
    for remote in remotes:
        server.add_remote(**remote)
    if setup is not None:
        setup(server)
    clients: list[Client] = []

    async def connect(host: str = "127.0.0.1", source: str | None = None) -> Client:
        reader, writer = await asyncio.open_connection(
            host, server.port, local_addr=(source, 0) if source else None
        )
        client = Client(reader, writer)
        clients.append(client)
        return client

    server.connect = connect
    task = asyncio.create_task(server.asyncrun())
    try:
        listening = asyncio.ensure_future(server.listening.wait())
        try:
            async with asyncio.timeout(5):
                await asyncio.wait([task, listening], return_when=asyncio.FIRST_COMPLETED)
        finally:
            listening.cancel()
        if task.done():
            await task  # it could not listen: say why
            raise RuntimeError("the server stopped before it listened")
        yield server
    finally:
        for client in clients:
            client.close()
        server.shutdown()
        async with asyncio.timeout(10):
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.writer.wait_closed()
            # Why it could not listen has been raised already.
            with contextlib.suppress(OSError):
                await task
