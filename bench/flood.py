"""The flood driver used by the server benchmarks, for pi_indi and for indipydriver.

One device "bench" with a number vector "counter" (the flooded value), a
number vector "FLOOD" whose COUNT member asks for that many counter updates,
and a switch vector "toggle" that answers each request at once (round trips).

    flood.py LIB stdio              # a stdio driver (an exdriver)
    flood.py LIB serve PORT MAXCONN # an in-process driver in LIB's server

LIB is "pi_indi" or "indipydriver" (with indipyserver).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_driver(lib: Any) -> Any:
    class FloodDriver(lib.IPyDriver):  # type: ignore[misc]
        async def rxevent(self, event: Any) -> None:
            if event.vectorname == "FLOOD":
                counter = self["bench"]["counter"]
                for i in range(int(float(event["COUNT"]))):
                    counter["value"] = i
                    await counter.send_setVector()
                await event.vector.send_setVector(state="Ok")
            elif event.vectorname == "toggle":
                for name, value in event.items():
                    event.vector[name] = value
                await event.vector.send_setVector(state="Ok")

    counter = lib.NumberVector(
        "counter",
        "Counter",
        "Main",
        "ro",
        "Ok",
        [lib.NumberMember("value", "Value", "%.0f", 0, 0, 0, 0)],
    )
    flood = lib.NumberVector(
        "FLOOD",
        "Flood",
        "Main",
        "rw",
        "Ok",
        [lib.NumberMember("COUNT", "Count", "%.0f", 0, 0, 0, 0)],
    )
    toggle = lib.SwitchVector(
        "toggle", "Toggle", "Main", "rw", "AnyOfMany", "Ok", [lib.SwitchMember("T", "T", "Off")]
    )
    return FloodDriver(lib.Device("bench", [counter, flood, toggle]))


def main() -> None:
    libname, mode = sys.argv[1], sys.argv[2]
    lib: Any = importlib.import_module(libname)
    server_module = "pi_indi" if libname == "pi_indi" else "indipyserver"
    IPyServer: Any = importlib.import_module(server_module).IPyServer  # noqa: N806
    driver = make_driver(lib)
    if mode == "stdio":
        asyncio.run(driver.asyncrun())
    else:
        server = IPyServer(
            driver, host="127.0.0.1", port=int(sys.argv[3]), maxconnections=int(sys.argv[4])
        )
        asyncio.run(server.asyncrun())


if __name__ == "__main__":
    main()
