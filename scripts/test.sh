#!/usr/bin/env bash
# Install everything the test suite needs, then run lint, types and tests.
#
#   bash scripts/test.sh            # the whole suite
#   bash scripts/test.sh -k codec   # extra arguments go to pytest
#
# Needs: python3 >= 3.11 with venv. indilib's tools (Debian package indi-bin)
# are installed with apt-get when missing and we are root (or have sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v indiserver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "== installing indi-bin (indiserver, indi_getprop, indi_setprop, indi_eval)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq indi-bin >/dev/null
fi

VENV="${PI_INDI_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    python3 -m venv "$VENV"
fi
echo "== installing pi-indi and its test and lint tools into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip>=25.1"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e . --group dev

echo "== ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "== mypy --strict"
"$VENV/bin/mypy"
echo "== pytest"
"$VENV/bin/python" -m pytest --cov --cov-report=term "$@"
"$VENV/bin/python" -m coverage report --include='pi_indi/protocol/*' --fail-under=97 >/dev/null \
    || { echo "protocol coverage under 97%"; "$VENV/bin/python" -m coverage report --include='pi_indi/protocol/*'; exit 1; }
