#!/usr/bin/env python3
"""Serve the LED example driver with pi_indi's own INDI server on port 7624.

Connect with indipyterm, KStars/Ekos or indilib's tools, for example:
``indi_getprop -w "led.*.*"`` and ``indi_setprop "led.ledvector.ledmember=On"``.
Set PI_INDI_HOST=0.0.0.0 to serve other machines too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from examples.led_driver import make_driver
from pi_indi import IPyServer

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server = IPyServer(
        make_driver("led", 17),
        host=os.environ.get("PI_INDI_HOST", "localhost"),
        port=int(os.environ.get("PI_INDI_PORT", "7624")),
        maxconnections=5,
    )
    asyncio.run(server.asyncrun())
