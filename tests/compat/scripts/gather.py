# mypy: ignore-errors
"""A script that runs the server beside a task of its own and catches Ctrl-C."""

from __future__ import annotations

import asyncio
import os

import indipydriver as ipd
from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))


async def log_something():
    while True:
        await asyncio.sleep(0.2)


async def main():
    member = ipd.TextMember(name="text", label="Text", membervalue="running")
    vector = ipd.TextVector(
        name="status", label="Status", group="Main", perm="ro", state="Ok", textmembers=[member]
    )
    server = IPyServer(ipd.IPyDriver(ipd.Device("Gathered", [vector])), port=PORT)
    await asyncio.gather(server.asyncrun(), log_something())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("Shut down by KeyboardInterrupt", flush=True)
