"""Capture the corpus transcripts from indiserver 1.9.9 and libindi's simulators.

    python tests/fuzz/corpus/capture.py     # rewrites tests/fuzz/corpus/*.xml

Needs indiserver and indi_simulator_{telescope,ccd,focus,wheel,weather} on
PATH. What a client receives is written to ``<name>.xml``; nothing in it is
edited by hand.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).parent
PORT = 7631


def send(sock: socket.socket, data: str) -> None:
    sock.sendall(data.encode())


def read_for(sock: socket.socket, seconds: float) -> bytes:
    out = bytearray()
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 16)
        except TimeoutError:
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)


def switch(device: str, name: str, member: str) -> str:
    return (
        f'<newSwitchVector device="{device}" name="{name}">'
        f'<oneSwitch name="{member}">On</oneSwitch></newSwitchVector>'
    )


def number(device: str, name: str, values: dict[str, float]) -> str:
    members = "".join(f'<oneNumber name="{k}">{v}</oneNumber>' for k, v in values.items())
    return f'<newNumberVector device="{device}" name="{name}">{members}</newNumberVector>'


def main() -> None:
    drivers = ["indi_simulator_telescope", "indi_simulator_ccd", "indi_simulator_focus"]
    drivers += ["indi_simulator_wheel", "indi_simulator_weather"]
    server = subprocess.Popen(
        ["indiserver", "-p", str(PORT), *drivers],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)
        with socket.create_connection(("127.0.0.1", PORT)) as sock:
            send(sock, '<getProperties version="1.7"/>')
            (HERE / "simulators_defs.xml").write_bytes(read_for(sock, 3))
            send(sock, '<enableBLOB device="CCD Simulator">Also</enableBLOB>')
            for device in ("Telescope Simulator", "CCD Simulator", "Focuser Simulator"):
                send(sock, switch(device, "CONNECTION", "CONNECT"))
            send(sock, switch("Filter Simulator", "CONNECTION", "CONNECT"))
            send(sock, switch("Weather Simulator", "CONNECTION", "CONNECT"))
            (HERE / "simulators_connect.xml").write_bytes(read_for(sock, 4))
            send(
                sock,
                number("CCD Simulator", "CCD_FRAME", {"X": 0, "Y": 0, "WIDTH": 16, "HEIGHT": 12}),
            )
            send(sock, number("CCD Simulator", "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 0.1}))
            send(
                sock,
                number("Focuser Simulator", "REL_FOCUS_POSITION", {"FOCUS_RELATIVE_POSITION": 200}),
            )
            send(
                sock, number("Telescope Simulator", "EQUATORIAL_EOD_COORD", {"RA": 3.5, "DEC": 20})
            )
            send(
                sock,
                '<newTextVector device="Nobody" name="X"><oneText name="t">a &amp; b</oneText>',
            )
            send(sock, "</newTextVector>")
            send(sock, '<pingRequest uid="capture-1"/>')
            (HERE / "simulators_run.xml").write_bytes(read_for(sock, 5))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
