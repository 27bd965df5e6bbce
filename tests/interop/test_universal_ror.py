"""A roll-off roof run as libindi's Universal ROR driver runs it, through indiserver, on pi-indi.

libindi's Universal ROR dome driver (``drivers/dome/universal_ror.cpp``) does
not drive pins itself: its client (``drivers/dome/universal_ror_client.cpp``)
connects to the local indiserver, watches an output device and an input
device, and

- counts a device ready when its ``CONNECTION``'s first switch (``CONNECT``)
  is On (``updateProperty``; ``newDevice`` asks ``BaseDevice::isConnected()``);
- opens the roof by resetting ``DIGITAL_OUTPUT_<i>`` for each "open roof"
  index and switching its second member (``ON``) On (``openRoof``), closes it
  the same way with the "close roof" indexes (``closeRoof``);
- on each update of a ``DIGITAL_INPUT_<n>`` named in its "fully opened" or
  "fully closed" indexes, reads that all of them have their second member
  (``ON``) On (``syncFullyOpenedState``/``syncFullyClosedState``);
- and the driver, on its next timer (``UniversalROR::TimerHit``), seeing the
  limit switch of the way the roof is moving, calls ``stop()``: every open and
  close output whose first member (``OFF``) is not On is reset with ``OFF`` On.

:class:`RORClient` below does the same over a raw INDI connection to an
indiserver chained to pi-indi (``indiserver -p P "@127.0.0.1:PIINDI_PORT"``),
which serves a relay device (open, close) and a button device (the fully
opened and fully closed limit switches) on mock pins; the test plays the
roof reaching its limits through the "Mock GPIO" device.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pi_indi.protocol import (
    DefSwitchVector,
    DelProperty,
    Event,
    GetProperties,
    NewSwitchVector,
    SetSwitchVector,
    SwitchState,
)
from tests.helpers import free_port
from tests.interop import peers
from tests.interop.peers import Peer, RawClient

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("indiserver") is None, reason="indi-bin is not installed"),
]

ON, OFF = SwitchState.ON, SwitchState.OFF

CONFIG = """\
[gpio]
pin_factory = "mock"

[[device]]
name = "Roof Relays"
driver = "relay"
pins = [17, 27]
labels = ["Open roof", "Close roof"]

[[device]]
name = "Roof Limits"
driver = "button"
pins = [22, 23]
labels = ["Fully opened", "Fully closed"]
"""


class RORClient:
    """What Universal ROR's client and timer do, on a raw INDI connection.

    Args:
        port: the indiserver to connect to.
        output: the output device; ``open_roof``/``close_roof`` are its indexes.
        input: the input device; ``fully_opened``/``fully_closed`` its indexes.
    """

    def __init__(
        self,
        port: int,
        *,
        output: str,
        input: str,
        open_roof: list[int],
        close_roof: list[int],
        fully_opened: list[int],
        fully_closed: list[int],
    ) -> None:
        self.raw = RawClient(port)
        self.output, self.input = output, input
        self.open_indexes, self.close_indexes = open_roof, close_roof
        self.opened_indexes, self.closed_indexes = fully_opened, fully_closed
        #: (device, vector) -> member -> state, members in their defined order.
        self.switches: dict[tuple[str, str], dict[str, SwitchState]] = {}
        self.input_ready = self.output_ready = False
        self.fully_opened = self.fully_closed = False
        #: "open" or "close" while the roof moves (the dome's DomeMotionSP Busy).
        self.moving: str | None = None
        self.sent: list[NewSwitchVector] = []
        self._seen = 0
        # BaseClient::watchDevice() for each, then connectServer().
        for device in (input, output):
            self.raw.send(GetProperties(version="1.7", device=device))

    def close(self) -> None:
        self.raw.close()

    # -- UniversalRORClient --

    @property
    def connected(self) -> bool:
        return self.input_ready and self.output_ready

    def _update(self, event: Event) -> None:
        if isinstance(event, DefSwitchVector):
            key = (event.device, event.name)
            self.switches[key] = {m.name: m.value for m in event.members}
        elif isinstance(event, SetSwitchVector):
            key = (event.device, event.name)
            if key not in self.switches:
                return
            self.switches[key].update(event.values)
        elif isinstance(event, DelProperty):
            if event.name is None:
                self.switches = {k: v for k, v in self.switches.items() if k[0] != event.device}
            else:
                self.switches.pop((event.device, event.name), None)
            return
        else:
            return
        # updateProperty(): CONNECTION's first switch, while not both ready.
        if not self.connected and event.name == "CONNECTION":
            toggled = next(iter(self.switches[key].values())) == ON
            if event.device == self.input:
                self.input_ready = toggled
            if event.device == self.output:
                self.output_ready = toggled
            return
        if event.device != self.input:
            return
        if event.name in {f"DIGITAL_INPUT_{n}" for n in self.opened_indexes}:
            self.fully_opened = self._all_on(self.opened_indexes)
        if event.name in {f"DIGITAL_INPUT_{n}" for n in self.closed_indexes}:
            self.fully_closed = self._all_on(self.closed_indexes)

    def _all_on(self, indexes: list[int]) -> bool:
        # syncFully*State(): property[1] (ON) of every input named.
        states = [self.switches.get((self.input, f"DIGITAL_INPUT_{n}")) for n in indexes]
        return all(s is not None and list(s.values())[1] == ON for s in states)

    def _switch(self, indexes: list[int], member: int, only_if_needed: bool = False) -> None:
        for index in indexes:
            name = f"DIGITAL_OUTPUT_{index}"
            vector = self.switches.get((self.output, name))
            if vector is None:
                continue
            members = list(vector)
            if only_if_needed and vector[members[0]] == ON:
                continue  # stop(): only send OFF if required
            # property.reset(); property[member].setState(ISS_ON); sendNewSwitch(property)
            values = {m: (ON if i == member else OFF) for i, m in enumerate(members)}
            request = NewSwitchVector(device=self.output, name=name, values=values)
            self.sent.append(request)
            self.raw.send(request)

    def open_roof(self) -> None:
        assert self.output_ready, "openRoof() refuses while the output device is not connected"
        self._switch(self.open_indexes, 1)
        self.moving = "open"

    def close_roof(self) -> None:
        assert self.output_ready, "closeRoof() refuses while the output device is not connected"
        self._switch(self.close_indexes, 1)
        self.moving = "close"

    def stop(self) -> None:
        self._switch(self.close_indexes, 0, only_if_needed=True)
        self._switch(self.open_indexes, 0, only_if_needed=True)

    # -- UniversalROR::TimerHit --

    def timer_hit(self) -> None:
        # Opening (DOME_CW) stops at the fully opened switch, closing at the closed one.
        reached = {"open": self.fully_opened, "close": self.fully_closed}
        if self.moving is not None and reached[self.moving]:
            self.moving = None
            self.stop()

    def run_until(self, check: Callable[[], bool], seconds: float = 15) -> None:
        """Read and react (a short polling period) until *check*; fail after *seconds*."""
        deadline = time.monotonic() + seconds
        while not check():
            assert time.monotonic() < deadline, "Universal ROR would still be waiting"
            events = self.raw.collect(0.1)
            for event in events[self._seen :]:
                self._update(event)
            self._seen = len(events)
            self.timer_hit()

    def output_on(self, index: int) -> bool:
        vector = self.switches.get((self.output, f"DIGITAL_OUTPUT_{index}"), {})
        return vector.get("ON") == ON


@contextlib.contextmanager
def roof(tmp_path: Path) -> Iterator[tuple[Peer, Peer]]:
    """pi-indi serving CONFIG on mock pins, and an indiserver chained to it."""
    config = tmp_path / "roof.toml"
    config.write_text(CONFIG)
    port = free_port()
    cmd = [sys.executable, "-m", "pi_indi", "serve", "--port", str(port), "--config", str(config)]
    env = {"STATE_DIRECTORY": str(tmp_path / "state")}
    with (
        peers.running(cmd, port, tmp_path / "pi-indi.log", env) as piindi,
        peers.indiserver(tmp_path, f"@127.0.0.1:{piindi.port}") as indiserver,
    ):
        yield piindi, indiserver


def test_universal_ror_opens_and_closes_a_roof_through_indiserver(tmp_path: Path):
    with roof(tmp_path) as (piindi, indiserver):
        client = RORClient(
            indiserver.port,
            output="Roof Relays",
            input="Roof Limits",
            open_roof=[1],
            close_roof=[2],
            fully_opened=[1],
            fully_closed=[2],
        )
        try:
            # The connection callback: both devices' CONNECTION CONNECT is On.
            client.run_until(lambda: client.connected)
            client.run_until(
                lambda: (
                    ("Roof Limits", "DIGITAL_INPUT_2") in client.switches
                    and ("Roof Relays", "DIGITAL_OUTPUT_2") in client.switches
                )
            )
            assert not client.fully_opened
            assert not client.fully_closed

            # Open: the relay goes on, the roof reaches its "fully opened" switch.
            client.open_roof()
            client.run_until(lambda: client.output_on(1))
            assert piindi.value("Roof Relays.DIGITAL_OUTPUT_1.ON") == "On"
            assert client.moving == "open"
            indiserver.setprop("Mock GPIO.PIN_GPIO22.LOW=On")  # the button is pulled up
            client.run_until(lambda: client.fully_opened and not client.output_on(1))
            assert client.moving is None
            assert piindi.value("Roof Relays.DIGITAL_OUTPUT_1.OFF") == "On"

            # Close: the roof leaves the open limit, reaches the closed one.
            client.close_roof()
            client.run_until(lambda: client.output_on(2))
            indiserver.setprop("Mock GPIO.PIN_GPIO22.HIGH=On")
            client.run_until(lambda: not client.fully_opened)
            assert client.moving == "close"
            indiserver.setprop("Mock GPIO.PIN_GPIO23.LOW=On")
            client.run_until(lambda: client.fully_closed and not client.output_on(2))
            assert client.moving is None
            assert piindi.value("Roof Relays.DIGITAL_OUTPUT_2.OFF") == "On"
            assert piindi.value("Roof Relays.DIGITAL_OUTPUT_1.OFF") == "On"

            # Four requests in all, each a whole vector as libindi's sendNewSwitch sends it.
            assert [(r.name, r.values) for r in client.sent] == [
                ("DIGITAL_OUTPUT_1", {"OFF": OFF, "ON": ON}),
                ("DIGITAL_OUTPUT_1", {"OFF": ON, "ON": OFF}),
                ("DIGITAL_OUTPUT_2", {"OFF": OFF, "ON": ON}),
                ("DIGITAL_OUTPUT_2", {"OFF": ON, "ON": OFF}),
            ]
        finally:
            client.close()
