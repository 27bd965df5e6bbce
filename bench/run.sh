#!/usr/bin/env bash
# Run the benchmarks side by side with their anchors, in a venv of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=bench/.venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e . "indipydriver==3.1.2"
"$VENV/bin/python" bench/codec.py
