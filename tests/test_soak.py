"""A short run of the soak bench (bench/soak.py), so that it cannot rot.

The full run is ten minutes (``bash bench/run.sh soak``; figures in
docs/performance.md); this one is fifteen seconds with the same clients and
the same checks: every update to every well-behaved client in order, switch
requests answered, the server alive and holding no descriptor for a client
that left, its RSS bounded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[1] / "bench" / "soak.py"


def test_a_short_soak_holds_its_invariants():
    done = subprocess.run(
        [sys.executable, str(SOAK), "--minutes", "0.25", "--sample", "1", "--report", "1000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all invariants hold" in done.stdout
