# mypy: ignore-errors
"""A driver that takes BLOBs from a client (newBLOBVector) and reports their size."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


class UploadDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        if isinstance(event, ipd.newBLOBVector) and event.vectorname == "upload":
            data = event["file"]
            _size, blobformat = event.sizeformat["file"]
            report = self["Store"]["received"]
            report["length"] = str(len(data))
            report["format"] = blobformat
            report["checksum"] = str(sum(data) % 65536)
            await report.send_setVector(state="Ok")
            await event.vector.send_setVectorMembers(state="Ok")


def make_driver():
    upload = ipd.BLOBVector(
        name="upload",
        label="Upload",
        group="Files",
        perm="wo",
        state="Idle",
        blobmembers=[ipd.BLOBMember(name="file", label="File")],
    )
    received = ipd.TextVector(
        name="received",
        label="Received",
        group="Files",
        perm="ro",
        state="Idle",
        textmembers=[
            ipd.TextMember(name="length", label="Length"),
            ipd.TextMember(name="format", label="Format"),
            ipd.TextMember(name="checksum", label="Checksum"),
        ],
    )
    return UploadDriver(ipd.Device("Store", properties=[upload, received]))


if __name__ == "__main__":
    server = IPyServer(make_driver(), host="localhost", port=PORT)
    asyncio.run(server.asyncrun())
