# mypy: ignore-errors
"""A server with no drivers of its own, serving another server's (docs: add_remote)."""

from __future__ import annotations

import asyncio
import os

from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))
REMOTE_PORT = int(os.environ.get("INDI_REMOTE_PORT", "7625"))

if __name__ == "__main__":
    server = IPyServer(host="localhost", port=PORT, maxconnections=5)
    server.add_remote(host="localhost", port=REMOTE_PORT)
    asyncio.run(server.asyncrun())
