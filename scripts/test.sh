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

# KStars itself, headless (tests/interop/test_kstars.py drives it over D-Bus
# under Xvfb): about 300 MB and 20 s the first time.
if ! command -v kstars >/dev/null 2>&1 || ! command -v Xvfb >/dev/null 2>&1 \
        || ! command -v qdbus >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "== installing KStars, Xvfb and qdbus (for the KStars test)"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        kstars xvfb dbus-x11 qdbus-qt5 >/dev/null
fi

# Headless Chromium and its WebDriver (tests/interop/test_indipyweb.py opens
# indipyweb's pages in it): Debian's own build, about 120 MB to download
# (380 MB installed), 20 s. fonts-liberation: fonts for the pages and screenshots.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "== installing Chromium and chromedriver (for the browser test)"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver fonts-liberation >/dev/null
fi

VENV="${PI_INDI_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    python3 -m venv "$VENV"
fi
echo "== installing pi-indi and its test and lint tools into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip>=25.1"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e . --group dev

# indipyweb, the web client the browser test serves, pinned, in a venv of its
# own outside the tree (not in pi-indi's environment, not seen by ruff or git).
# Exported: with it set, the test fails rather than skips when anything is missing.
INDIPYWEB_VERSION=0.2.1   # keep in step with INDIPYWEB in tests/interop/test_indipyweb.py
export PI_INDI_INDIPYWEB_VENV="${PI_INDI_INDIPYWEB_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pi-indi/indipyweb-$INDIPYWEB_VERSION}"
if [ "$("$PI_INDI_INDIPYWEB_VENV/bin/indipyweb" --version 2>/dev/null)" != "$INDIPYWEB_VERSION" ]; then
    echo "== installing indipyweb $INDIPYWEB_VERSION into $PI_INDI_INDIPYWEB_VENV"
    python3 -m venv "$PI_INDI_INDIPYWEB_VENV"
    "$PI_INDI_INDIPYWEB_VENV/bin/python" -m pip install -q --disable-pip-version-check \
        "indipyweb==$INDIPYWEB_VERSION"
fi

echo "== ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "== mypy --strict"
"$VENV/bin/mypy"

# Packaging: the unit, the .deb and install.sh (about 15 s), then the .deb in
# a fresh Debian chroot (about a minute, needs root, debootstrap and a Debian
# mirror). Before pytest, so that pytest's summary stays the closing line.
# PI_INDI_SKIP_PACKAGING=1 skips both, PI_INDI_SKIP_CHROOT=1 the chroot test.
if [ "${PI_INDI_SKIP_PACKAGING:-0}" != 1 ]; then
    echo "== packaging (scripts/check-packaging.sh)"
    bash scripts/check-packaging.sh
    if [ "${PI_INDI_SKIP_CHROOT:-0}" != 1 ] && [ "$(id -u)" = 0 ]; then
        if ! command -v debootstrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
            echo "== installing debootstrap"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
        fi
        if command -v debootstrap >/dev/null 2>&1; then
            echo "== the .deb in a Debian bookworm chroot (scripts/test-deb-chroot.sh)"
            bash scripts/test-deb-chroot.sh
        else
            echo "== chroot test skipped: no debootstrap"
        fi
    else
        echo "== chroot test skipped (needs root; PI_INDI_SKIP_CHROOT=${PI_INDI_SKIP_CHROOT:-0})"
    fi
fi

# The system test: the .deb and install.sh in a Debian VM with a real kernel
# GPIO chip, real lgpio and real systemd (about 8 minutes, 11 the first time).
# PI_INDI_SKIP_SYSTEM=1 skips it.
if [ "${PI_INDI_SKIP_SYSTEM:-0}" != 1 ] && [ "$(id -u)" = 0 ]; then
    echo "== the system test (scripts/test-system.sh)"
    bash scripts/test-system.sh
else
    echo "== system test skipped (needs root; PI_INDI_SKIP_SYSTEM=${PI_INDI_SKIP_SYSTEM:-0})"
fi

echo "== pytest"
"$VENV/bin/python" -m pytest --cov --cov-report=term "$@"
"$VENV/bin/python" -m coverage report --include='pi_indi/protocol/*' --fail-under=97 >/dev/null \
    || { echo "protocol coverage under 97%"; "$VENV/bin/python" -m coverage report --include='pi_indi/protocol/*'; exit 1; }
