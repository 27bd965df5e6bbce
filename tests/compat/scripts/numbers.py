# mypy: ignore-errors
"""Number members given as ints, floats and text, sexagesimal included (docs: propertyvectors)."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class MountDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        if isinstance(event, ipd.newNumberVector) and event.vectorname == "target":
            for name, value in event.items():
                event.vector[name] = value
            await event.vector.send_setVector(state="Ok")


def make_driver():
    coords = ipd.NumberVector(
        name="coords",
        label="Coordinates",
        group="Mount",
        perm="ro",
        state="Ok",
        numbermembers=[
            ipd.NumberMember(
                name="RA", label="RA", format="%010.6m", min="0", max="24", membervalue="11:18:13"
            ),
            ipd.NumberMember(
                name="DEC",
                label="Dec",
                format="%010.6m",
                min="-90",
                max="90",
                membervalue="-10:30:00",
            ),
        ],
    )
    readings = ipd.NumberVector(
        name="readings",
        label="Readings",
        group="Mount",
        perm="ro",
        state="Ok",
        numbermembers=[
            ipd.NumberMember(name="count", label="Count", format="%d", membervalue=5),
            ipd.NumberMember(name="ratio", label="Ratio", format="%.3f", membervalue=0.125),
            ipd.NumberMember(name="level", label="Level", format="%.1f", membervalue=15.0),
            ipd.NumberMember(name="text", label="Text", format="%.2f", membervalue="20.00"),
            ipd.NumberMember(name="plain", label="No format"),
        ],
    )
    target = ipd.NumberVector(
        name="target",
        label="Target",
        group="Mount",
        perm="rw",
        state="Ok",
        numbermembers=[
            ipd.NumberMember(
                name="HA", label="HA", format="%010.6m", min="-12", max="12", membervalue="0.5"
            ),
        ],
    )
    return MountDriver(ipd.Device("Mount", properties=[coords, readings, target]))


if __name__ == "__main__":
    server = IPyServer(make_driver(), host="localhost", port=PORT)
    asyncio.run(server.asyncrun())
