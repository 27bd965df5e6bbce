# mypy: ignore-errors
"""IPyServer running an executable driver (docs: ipyserver, add_exdriver)."""

from __future__ import annotations

import asyncio
import os
import sys

from indipyserver import IPyServer

PORT = int(os.environ.get("INDI_PORT", "7624"))
HERE = os.path.dirname(os.path.abspath(__file__))

if __name__ == "__main__":
    server = IPyServer(host="localhost", port=PORT, maxconnections=5)
    server.add_exdriver(sys.executable, os.path.join(HERE, "led_stdio.py"))
    asyncio.run(server.asyncrun())
