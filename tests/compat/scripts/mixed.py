# mypy: ignore-errors
"""One server with two in-process drivers, an executable driver and a remote server.

docs: ipyserver (IPyServer(*drivers), add_exdriver, add_remote, send_message),
IPyDriver.add_background, Device.add_background, send_getProperties(devicename),
snoop(devicename, vectorname), BLOBMember(blobsize, blobformat), set_blobsize.
"""

from __future__ import annotations

import asyncio
import os
import sys

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))
REMOTE_PORT = int(os.environ.get("INDI_REMOTE_PORT", "7625"))
HERE = os.path.dirname(os.path.abspath(__file__))


class NotesDriver(ipd.IPyDriver):
    """Requests are queued for a background task that answers them."""

    async def rxevent(self, event):
        if isinstance(event, ipd.newTextVector) and event.vectorname == "note":
            await self.driverdata["queue"].put(event["text"])
        elif isinstance(event, ipd.newSwitchVector) and event.vectorname == "attach":
            if event.get("file") == "On":
                files = self["Notes"]["files"]
                files["small"] = b"hello"
                files.set_blobsize("large", 600)
                files["large"] = bytes(range(200)) * 3
                await files.send_setVectorMembers(members=["small", "large"])
                await self.driverdata["server"].send_message("files attached")
            event.vector["file"] = "Off"
            await event.vector.send_setVector(state="Ok")

    async def hardware(self):
        self.add_background(self.answer())
        self["Notes"].add_background(self["Notes"].tick())

    async def answer(self):
        while not self.stop:
            text = await self.driverdata["queue"].get()
            note = self["Notes"]["note"]
            note["text"] = text.upper()
            await note.send_setVector(state="Ok")


class NotesDevice(ipd.Device):
    async def tick(self):
        light = self["alive"]
        light["beat"] = "Ok"
        await light.send_setVector()


class WatchDriver(ipd.IPyDriver):
    """Snoops on the executable driver's LED and on the remote camera's switch."""

    async def hardware(self):
        # indipyserver 0.0.6 dies (AttributeError in ExDriver.xml_to_ext) if this
        # reaches the executable driver before its process has started.
        await asyncio.sleep(1)
        await self.send_getProperties(devicename="stdioled")
        self.snoop("Camera", "expose", timeout=30)

    async def snoopevent(self, event):
        if isinstance(event, (ipd.setSwitchVector, ipd.setLightVector)):
            heard = self["Watch"]["heard"]
            values = ",".join(f"{k}={v}" for k, v in sorted(event.items()))
            heard[event.devicename] = f"{event.vectorname} {event.state} {values}"
            await heard.send_setVector(allvalues=False)


def make_drivers():
    note = ipd.TextVector(
        name="note",
        label="Note",
        group="Notes",
        perm="rw",
        state="Idle",
        textmembers=[ipd.TextMember(name="text", label="Text")],
    )
    attach = ipd.SwitchVector(
        name="attach",
        label="Attach",
        group="Notes",
        perm="rw",
        rule="AtMostOne",
        state="Ok",
        switchmembers=[ipd.SwitchMember(name="file", label="File")],
    )
    files = ipd.BLOBVector(
        name="files",
        label="Files",
        group="Notes",
        perm="ro",
        state="Idle",
        blobmembers=[
            ipd.BLOBMember(name="small", label="Small", blobsize=5, blobformat=".txt"),
            ipd.BLOBMember(name="large", label="Large", blobformat=".bin"),
        ],
    )
    alive = ipd.LightVector(
        name="alive",
        label="Alive",
        group="Notes",
        state="Idle",
        lightmembers=[ipd.LightMember(name="beat", label="Beat")],
    )
    notes = NotesDriver(
        NotesDevice("Notes", properties=[note, attach, files, alive]), queue=asyncio.Queue()
    )
    heard = ipd.TextVector(
        name="heard",
        label="Heard",
        group="Watch",
        perm="ro",
        state="Idle",
        textmembers=[
            ipd.TextMember(name="stdioled", label="LED", membervalue="nothing"),
            ipd.TextMember(name="Camera", label="Camera", membervalue="nothing"),
        ],
    )
    watch = WatchDriver(ipd.Device("Watch", properties=[heard]))
    return notes, watch


if __name__ == "__main__":
    notes, watch = make_drivers()
    server = IPyServer(notes, watch, host="localhost", port=PORT, maxconnections=5)
    notes.driverdata["server"] = server
    server.add_exdriver(sys.executable, os.path.join(HERE, "led_stdio.py"))
    server.add_remote("localhost", REMOTE_PORT)
    asyncio.run(server.asyncrun())
