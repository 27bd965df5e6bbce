"""Run an IPyServer for the interop tests.

serve.py PORT [--demo NAME]... [--exdriver PROG]... [--remote HOST:PORT]... [--blobs]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from pi_indi import IPyServer
from tests.interop import demo_driver


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--demo", action="append", default=[])
    parser.add_argument("--exdriver", action="append", default=[])
    parser.add_argument("--remote", action="append", default=[])
    parser.add_argument("--blobs", action="store_true")
    parser.add_argument("--maxconnections", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server = IPyServer(
        *(demo_driver.make_driver(name) for name in args.demo),
        host="127.0.0.1",
        port=args.port,
        maxconnections=args.maxconnections,
    )
    for program in args.exdriver:
        server.add_exdriver(program)
    for remote in args.remote:
        host, port = remote.rsplit(":", 1)
        server.add_remote(host, int(port), blob_enable=args.blobs)
    asyncio.run(server.asyncrun())


if __name__ == "__main__":
    main()
