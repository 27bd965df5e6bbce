#!/usr/bin/env bash
# The system test: pi-indi on the real stack, in a Debian bookworm VM.
#
#   sudo bash scripts/test-system.sh
#
# Builds (or takes from its cache) a Debian bookworm guest made from Debian
# packages only: debootstrap, the Debian kernel, and gpio-sim built from
# Debian's kernel source, so the guest has a real kernel GPIO chip that
# gpiozero takes for a Raspberry Pi 4's header. Boots it with qemu (software
# emulation), installs pi-indi the two ways a user does (the .deb with apt,
# then deploy/install.sh), runs the real unit from systemd/ on real lgpio, and
# drives it from this host through INDI on a forwarded loopback port. Each
# check prints ok or FAIL with its name (tests/system/run.py has them all).
#
# About 8 minutes with the guest cached, 3 more to build it. Needs root, KVM
# not required (it is not used), a Debian mirror and PyPI.
#
# Environment:
#   PI_INDI_SYSTEST_CACHE   the guest cache (default /var/cache/pi-indi-system-test)
#   PI_INDI_DEBIAN_MIRROR   default http://deb.debian.org/debian
#   PI_INDI_KEEP_WORK=1     keep this run's disk image and logs (path printed)
set -euo pipefail
cd "$(dirname "$0")/.."
top="$PWD"
started=$SECONDS

[ "$(id -u)" = 0 ] || { echo "test-system: run as root" >&2; exit 1; }

needed=(qemu-system-x86 qemu-utils debootstrap e2fsprogs openssh-client indi-bin
        build-essential dpkg-dev debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools)
missing=()
for pkg in "${needed[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

VENV="${PI_INDI_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip>=25.1"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e . --group test
fi
python="$VENV/bin/python"

cache="${PI_INDI_SYSTEST_CACHE:-/var/cache/pi-indi-system-test}"
mkdir -p "$cache"
work="$(mktemp -d "${TMPDIR:-/var/tmp}/pi-indi-system.XXXXXX")"
cleanup() {
    # The checks power the guest off; this is for when they were killed.
    if [ -f "$work/qemu.pid" ] && kill -0 "$(cat "$work/qemu.pid")" 2>/dev/null; then
        kill "$(cat "$work/qemu.pid")" 2>/dev/null || true
    fi
    if [ "${PI_INDI_KEEP_WORK:-0}" = 1 ]; then
        echo "test-system: work kept in $work"
    else
        rm -rf --one-file-system "$work"
    fi
}
trap cleanup EXIT

echo "== the guest (scripts/system-test/build-guest.sh)"
t=$SECONDS
guest="$(timeout --foreground 1200 bash scripts/system-test/build-guest.sh "$cache")"
echo "   $guest ($((SECONDS - t)) s)"

echo "== what gets installed in it"
t=$SECONDS
art="$work/artifacts"
mkdir -p "$art/debs" "$art/wheels" "$work/src"
bash deploy/build-deb.sh "$art/debs" >/dev/null
bash scripts/make-test-debs.sh "$art/debs" amd64 >/dev/null 2>&1
# The pip route: pi-indi's wheel, built from a clean copy of the source, and
# the wheels it needs for the guest's Python 3.11 (the guest cannot reach
# PyPI's TLS: pip there gets --no-index and this directory).
tar -cf - --exclude='__pycache__' --exclude='*.egg-info' \
    pyproject.toml README.md pi_indi drivers systemd docs deploy | tar -C "$work/src" -xf -
"$python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$art/wheels" "$work/src" 2>/dev/null
"$python" -m pip download -q --disable-pip-version-check --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_34_x86_64 \
    -d "$art/wheels" "gpiozero>=2.0" "tomli-w>=1.0" "lgpio>=0.2" 2>/dev/null
tar -C "$art/wheels" -cf "$art/wheels.tar" .
tar -C "$work/src" -cf "$art/source.tar" .
echo "   $(ls "$art/debs" | tr '\n' ' ')"
echo "   $(ls "$art/wheels" | tr '\n' ' ') ($((SECONDS - t)) s)"

echo "== the checks (tests/system/run.py)"
status=0
# --foreground: Ctrl-C reaches the checks, which power the guest off.
timeout --foreground --signal=TERM --kill-after=150 1500 \
    "$python" -m tests.system.run --guest "$guest" --artifacts "$art" --work "$work" || status=$?
echo "system test: $((SECONDS - started)) s in all"
exit "$status"
