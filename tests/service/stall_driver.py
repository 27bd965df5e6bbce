"""A driver that blocks the event loop when told to: what the watchdog is for."""

from __future__ import annotations

import time
from typing import Any

from pi_indi import Device, IPyDriver, SwitchMember, SwitchVector


class StallDriver(IPyDriver):
    """Device "Staller": setting STALL.NOW=On blocks the whole event loop for 1.5 s."""

    def __init__(self) -> None:
        stall = SwitchVector(
            name="STALL",
            label="Stall",
            group="Main Control",
            perm="rw",
            rule="AtMostOne",
            state="Idle",
            switchmembers=[SwitchMember("NOW", "Now")],
        )
        super().__init__(Device("Staller", [stall]))

    async def rxevent(self, event: Any) -> None:
        # Deliberately wrong: a blocking call on the event loop.
        time.sleep(1.5)
        await event.vector.send_setVector(state="Ok")
