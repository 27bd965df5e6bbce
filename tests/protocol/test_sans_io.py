from __future__ import annotations

import os
import subprocess
import sys

FORBIDDEN = (
    "asyncio",
    "socket",
    "selectors",
    "logging",
    "threading",
    "gpiozero",
    "pi_indi.driver",
    "pi_indi.server",
)

SCRIPT = f"""
import sys
import pi_indi.protocol
loaded = [name for name in {FORBIDDEN!r} if name in sys.modules]
if loaded:
    raise SystemExit("imported: " + ", ".join(loaded))
"""


def test_importing_protocol_loads_no_io_modules():
    # Coverage's subprocess measurement would itself load socket and threading.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr + result.stdout
