"""A driver on stdin/stdout: event-driven, survives garbage, exits on EOF."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "tests" / "interop" / "demo_driver.py"


def start_demo() -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(DEMO.parent)])}
    return subprocess.Popen(
        [sys.executable, str(DEMO)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def read_until(proc: subprocess.Popen[bytes], marker: bytes, timeout: float = 5) -> bytes:
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got:
        assert time.monotonic() < deadline, f"no {marker!r} in {got!r}"
        chunk = proc.stdout.read()
        if chunk:
            got += chunk
        else:
            time.sleep(0.01)
    return got


def test_driver_survives_garbage_and_answers_the_next_request():
    with start_demo() as proc:
        assert proc.stdin is not None
        proc.stdin.write(b"\x00\xff garbage <<>> </nope> <!DOCTYPE x [<!ENTITY a 'b'>]>")
        proc.stdin.write(b'<getProperties version="1.7" device="Demo" name="TEXT"/>\n')
        proc.stdin.flush()
        out = read_until(proc, b"</defTextVector>")
        assert b'<defTextVector device="Demo" name="TEXT"' in out
        proc.stdin.close()
        assert proc.wait(timeout=5) == 0
        assert proc.stderr is not None
        assert b"stdin: ignored malformed XML" in proc.stderr.read()


def test_driver_answers_every_request_in_turn_and_exits_on_eof():
    with start_demo() as proc:
        assert proc.stdin is not None
        proc.stdin.write(b'<getProperties version="1.7" device="Demo" name="SWITCH"/>\n')
        proc.stdin.flush()
        read_until(proc, b"</defSwitchVector>")
        for n in range(20):
            member, other = (b"ON", b"OFF") if n % 2 == 0 else (b"OFF", b"ON")
            proc.stdin.write(
                b'<newSwitchVector device="Demo" name="SWITCH">'
                b'<oneSwitch name="%s">On</oneSwitch></newSwitchVector>\n' % member
            )
            proc.stdin.flush()
            out = read_until(proc, b"</setSwitchVector>")
            assert b'state="Ok"' in out
            assert b'<oneSwitch name="%s">On</oneSwitch>' % member in out
            assert b'<oneSwitch name="%s">Off</oneSwitch>' % other in out
        proc.stdin.close()
        assert proc.wait(timeout=5) == 0
