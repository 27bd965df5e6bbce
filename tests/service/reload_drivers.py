"""Drivers for the reload tests: one that holds a reload up, one that kills the service."""

from __future__ import annotations

import os
import time
from typing import Any

from pi_indi import Device, IPyDriver, LightMember, LightVector


def _lamp(devicename: str) -> Device:
    light = LightVector(
        name="STATE",
        label="State",
        group="Main Control",
        state="Idle",
        lightmembers=[LightMember("UP", "Up")],
    )
    return Device(devicename, [light])


class GateDriver(IPyDriver):
    """Device "Gate": building it blocks the event loop until $PI_INDI_TEST_GATE exists.

    It gives up after 20 s, so a failed test cannot leave the service stuck.
    """

    def __init__(self) -> None:
        gate = os.environ.get("PI_INDI_TEST_GATE", "")
        deadline = time.monotonic() + 20
        while gate and not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.02)
        super().__init__(_lamp("Gate"))

    async def rxevent(self, event: Any) -> None:
        pass


class DyingDriver(IPyDriver):
    """Building it ends the whole process at once, as a crash would."""

    def __init__(self) -> None:
        os._exit(3)

    async def rxevent(self, event: Any) -> None:
        pass
