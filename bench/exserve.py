"""Run pi_indi's IPyServer with the flood driver as an exdriver: exserve.py PORT MAXCONN DRIVER."""

from __future__ import annotations

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pi_indi import IPyServer


def main() -> None:
    server = IPyServer(host="127.0.0.1", port=int(sys.argv[1]), maxconnections=int(sys.argv[2]))
    server.add_exdriver(sys.argv[3])
    asyncio.run(server.asyncrun())


if __name__ == "__main__":
    main()
