# mypy: ignore-errors
"""BLOB members given a pathlib.Path, a str path and a file object; attributes set, then defined.

docs: propertymembers (BLOBMember membervalue, blobformat from the file's suffix),
propertyvectors (label, group, state set on the vector, send_defVector).
"""

from __future__ import annotations

import asyncio
import io
import os
import pathlib
import tempfile

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))
FOLDER = pathlib.Path(tempfile.mkdtemp())


class FilesDriver(ipd.IPyDriver):
    async def rxevent(self, event):
        if not isinstance(event, ipd.newSwitchVector):
            return
        files = self["Files"]["files"]
        if event.get("path") == "On":
            picture = FOLDER / "picture.fits"
            picture.write_bytes(b"SIMPLE  =                    T" * 3)
            files["first"] = picture
            await files.send_setVectorMembers(members=["first"])
        elif event.get("name") == "On":
            notes = FOLDER / "notes.txt.gz"
            notes.write_bytes(bytes(range(40)))
            files["second"] = str(notes)
            await files.send_setVectorMembers(state="Ok", members=["second"])
        elif event.get("stream") == "On":
            files["first"] = io.BytesIO(b"from a file object")
            await files.send_setVectorMembers(state="Busy", members=["first"])
        elif event.get("rename") == "On":
            files.label = "Renamed files"
            files.group = "Elsewhere"
            files.state = "Alert"
            await files.send_defVector()
        event.vector[next(iter(event))] = "Off"
        await event.vector.send_setVector(state="Ok")


def make_driver():
    actions = ipd.SwitchVector(
        name="actions",
        label="Actions",
        group="Main",
        perm="rw",
        rule="AtMostOne",
        state="Ok",
        switchmembers=[
            ipd.SwitchMember(name=name, label=name.title())
            for name in ("path", "name", "stream", "rename")
        ],
    )
    files = ipd.BLOBVector(
        name="files",
        label="Files",
        group="Main",
        perm="ro",
        state="Idle",
        blobmembers=[
            ipd.BLOBMember(name="first", label="First"),
            ipd.BLOBMember(name="second", label="Second"),
        ],
    )
    return FilesDriver(ipd.Device("Files", properties=[actions, files]))


if __name__ == "__main__":
    server = IPyServer(make_driver(), host="localhost", port=PORT)
    asyncio.run(server.asyncrun())
