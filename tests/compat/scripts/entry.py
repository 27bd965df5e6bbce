# mypy: ignore-errors
"""rxevent using the event as the dict it is (event.data, .get, iteration, pop) and getfloat."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class EntryDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        if not isinstance(event, ipd.newTextVector):
            return
        received = dict(event.data)
        comment = event.get("comment", "")
        names = sorted(name for name in event)
        event.pop("comment", None)
        for name, value in event.items():
            event.vector[name] = value
        if comment:
            event.vector["comment"] = comment
        await event.vector.send_setVector(state="Ok")
        report = self["Entry"]["report"]
        report["names"] = ",".join(names)
        report["count"] = str(len(received))
        report["number"] = str(ipd.getfloat(event.get("number", "")))
        await report.send_setVector(state="Ok")


def make_driver():
    form = ipd.TextVector(
        name="form",
        label="Form",
        group="Entry",
        perm="rw",
        state="Idle",
        textmembers=[
            ipd.TextMember(name="number", label="A number"),
            ipd.TextMember(name="comment", label="Comment"),
        ],
    )
    report = ipd.TextVector(
        name="report",
        label="Report",
        group="Entry",
        perm="ro",
        state="Idle",
        textmembers=[
            ipd.TextMember(name="names", label="Names"),
            ipd.TextMember(name="count", label="Count"),
            ipd.TextMember(name="number", label="Number"),
        ],
    )
    return EntryDriver(ipd.Device("Entry", properties=[form, report]))


if __name__ == "__main__":
    server = IPyServer(make_driver(), host="localhost", port=PORT)
    asyncio.run(server.asyncrun())
