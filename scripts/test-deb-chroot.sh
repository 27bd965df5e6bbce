#!/usr/bin/env bash
# Install the pi-indi .deb into a fresh Debian bookworm chroot with apt, and
# check what a user would get: the pi-indi command and its drivers, the
# default config, the user, the enabled unit, a conffile edit surviving a
# reinstall, and a clean purge.
#
#   sudo bash scripts/test-deb-chroot.sh [path/to/pi-indi_*_all.deb]
#
# Without an argument it uses build/deb/pi-indi_*_all.deb, building it first
# (deploy/build-deb.sh) when there is none. Needs root, debootstrap and the
# network (a Debian mirror, and PyPI for one wheel). About a minute.
#
# Environment:
#   PI_INDI_DEBIAN_MIRROR   default http://deb.debian.org/debian
#   PI_INDI_KEEP_CHROOT=1   leave the chroot in place (its path is printed)
#
# Two packages pi-indi depends on are not in Debian bookworm in a usable
# version (python3-gpiozero 2, python3-lgpio): scripts/make-test-debs.sh
# packages PyPI's wheels of both, their files unchanged, for this test only.
set -euo pipefail
cd "$(dirname "$0")/.."
top="$PWD"
started=$SECONDS

[ "$(id -u)" = 0 ] || { echo "test-deb-chroot: run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "test-deb-chroot: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }

if [ $# -ge 1 ]; then
    deb="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
else
    debs=(build/deb/pi-indi_*_all.deb)
    if [ ! -f "${debs[0]}" ]; then
        bash deploy/build-deb.sh build/deb >/dev/null
        debs=(build/deb/pi-indi_*_all.deb)
    fi
    deb="$top/${debs[0]}"
fi
[ -f "$deb" ] || { echo "test-deb-chroot: no such file: $deb" >&2; exit 1; }

mirror="${PI_INDI_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
work="$(mktemp -d "${TMPDIR:-/var/tmp}/pi-indi-chroot.XXXXXX")"
ch="$work/chroot"
cleanup() {
    if mountpoint -q "$ch/proc" 2>/dev/null; then umount "$ch/proc"; fi
    if [ "${PI_INDI_KEEP_CHROOT:-0}" = 1 ]; then
        echo "test-deb-chroot: chroot kept in $ch"
    else
        rm -rf --one-file-system "$work"
    fi
}
trap cleanup EXIT

failures=0
checks=0
ok() { checks=$((checks + 1)); printf '  ok    %s\n' "$1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); printf '  FAIL  %s\n' "$1"; }
check() {
    local what="$1"
    shift
    if "$@" >"$work/out" 2>&1; then ok "$what"; else fail "$what"; sed 's/^/        /' "$work/out"; fi
}
in_chroot() { chroot "$ch" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"; }
apt_in_chroot() { in_chroot env DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@"; }

# --- gpiozero 2 and lgpio, packaged from PyPI's wheels ------------------------
echo "== packaging gpiozero 2 and lgpio from PyPI's wheels (scripts/make-test-debs.sh)"
mapfile -t test_debs < <(bash scripts/make-test-debs.sh "$work/test-debs")
ok "python3-gpiozero and python3-lgpio packaged"

# --- the chroot --------------------------------------------------------------
echo "== debootstrap --variant=minbase bookworm"
t=$SECONDS
debootstrap --variant=minbase bookworm "$ch" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    echo "test-deb-chroot: debootstrap failed" >&2
    exit 1
}
ok "debootstrap ($((SECONDS - t)) s)"
mount -t proc proc "$ch/proc"
# Nothing may start services in the chroot (there is no systemd running there
# anyway, so deb-systemd-invoke starts nothing; this is belt and braces).
printf '#!/bin/sh\nexit 101\n' >"$ch/usr/sbin/policy-rc.d"
chmod +x "$ch/usr/sbin/policy-rc.d"
mkdir -p "$ch/tmp/debs"
cp "$deb" "${test_debs[@]}" "$ch/tmp/debs/"
debname="/tmp/debs/$(basename "$deb")"

echo "== apt install ./$(basename "$deb")"
t=$SECONDS
apt_in_chroot update >"$work/apt.log" 2>&1 || {
    tail -n 20 "$work/apt.log" >&2
    echo "test-deb-chroot: apt-get update failed in the chroot" >&2
    exit 1
}
in_chroot_debs=()
for f in "${test_debs[@]}"; do in_chroot_debs+=("/tmp/debs/$(basename "$f")"); done
if apt_in_chroot install "$debname" "${in_chroot_debs[@]}" \
    >>"$work/apt.log" 2>&1; then
    ok "apt-get install ($((SECONDS - t)) s)"
else
    fail "apt-get install"
    tail -n 40 "$work/apt.log" | sed 's/^/        /'
    exit 1
fi
check "pi-indi is installed" \
    bash -c "chroot '$ch' dpkg-query -W -f='\${Status}' pi-indi | grep -qx 'install ok installed'"
check "python3-systemd came with it (Recommends)" \
    bash -c "chroot '$ch' dpkg-query -W -f='\${Status}' python3-systemd | grep -qx 'install ok installed'"
check "pi-indi --version" in_chroot pi-indi --version
check "lgpio imports (the real library, from its wheel)" \
    in_chroot python3 -c 'import lgpio; print(lgpio.__file__)'

in_chroot pi-indi list-drivers >"$work/drivers" 2>&1 || true
n_drivers="$(grep -c . "$work/drivers" || true)"
n_expected="$(awk '/^\[project.entry-points."pi_indi.drivers"\]/ {on=1; next} /^\[/ {on=0} on && /=/ {n++} END {print n+0}' pyproject.toml)"
if [ "$n_drivers" = "$n_expected" ] && ! grep -qiE 'load error|error' "$work/drivers"; then
    ok "pi-indi list-drivers: $n_drivers drivers, no load errors"
else
    fail "pi-indi list-drivers ($n_drivers lines, $n_expected entry points):"
    sed 's/^/        /' "$work/drivers"
fi
check "pi-indi check-config on the example config" \
    in_chroot pi-indi check-config --config /usr/lib/python3/dist-packages/pi_indi/example.toml
check "pi-indi check-config on the installed /etc/pi-indi.toml: no devices" \
    bash -c "chroot '$ch' pi-indi check-config | tee /dev/stderr | grep -q 'OK, 0 device(s) enabled of 0'"
check "the installed config is deploy/pi-indi.toml" cmp "$top/deploy/pi-indi.toml" "$ch/etc/pi-indi.toml"
check "unit installed" test -f "$ch/lib/systemd/system/pi-indi.service"
check "unit enabled (multi-user.target.wants symlink)" \
    test -L "$ch/etc/systemd/system/multi-user.target.wants/pi-indi.service"
check "systemd-analyze verify in the chroot: no output" \
    bash -c "out=\$(chroot '$ch' systemd-analyze verify /lib/systemd/system/pi-indi.service 2>&1) && [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
check "user pi-indi exists" in_chroot getent passwd pi-indi
for group in gpio spi i2c; do
    check "pi-indi is in group $group" \
        bash -c "chroot '$ch' id -nG pi-indi | tr ' ' '\n' | grep -qx $group"
done
check "conffiles lists /etc/pi-indi.toml" \
    bash -c "chroot '$ch' dpkg-query -W -f='\${Conffiles}' pi-indi | grep -q '^ /etc/pi-indi.toml '"

# The installed package serves: the example on gpiozero's mock pins. The
# chroot shares this machine's network, where another server may listen on
# any fixed port: the port is one the kernel has just given as free, and the
# answer counts only if it comes from the pi-indi started here (its process
# holds the listening socket) and defines every device of the example.
cat >"$ch/tmp/smoke.py" <<'EOF'
import html, os, re, socket, subprocess, sys, time, tomllib

CONFIG = "/usr/lib/python3/dist-packages/pi_indi/example.toml"
with open(CONFIG, "rb") as f:
    expected = {d["name"] for d in tomllib.load(f)["device"] if d.get("enabled", True)}
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]


def listening_pids():
    """The PIDs holding a socket that listens on 127.0.0.1:port."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            address, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and address == f"0100007F:{port:04X}":
                inodes.add(f"socket:[{inode}]")
    pids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds):
                pids.add(int(pid))
        except OSError:
            pass
    return pids


server = subprocess.Popen(["pi-indi", "serve", "--mock", "--host", "127.0.0.1",
                           "--port", str(port), "--config", CONFIG])
try:
    deadline = time.monotonic() + 30
    while True:
        if server.poll() is not None:
            sys.exit(f"pi-indi serve exited ({server.returncode}) before it listened on {port}")
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"pi-indi serve did not listen on {port} in 30 s")
            time.sleep(0.2)
    pids = listening_pids()
    if pids != {server.pid}:
        sys.exit(f"port {port} is held by PIDs {sorted(pids)}, not pi-indi serve ({server.pid})")
    sock.sendall(b'<getProperties version="1.7"/>')
    seen, data = set(), b""
    deadline = time.monotonic() + 30
    while not expected <= seen and time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
        names = re.findall(rb'<def\w+Vector\b[^>]*?\sdevice="([^"]*)"', data)
        seen = {html.unescape(name.decode()) for name in names}
    if not expected <= seen:
        sys.exit(f"pi-indi serve did not define {sorted(expected - seen)}; it defined {sorted(seen)}")
    if server.poll() is not None:
        sys.exit(f"pi-indi serve exited ({server.returncode}) while answering")
    print(f"pi-indi serve, PID {server.pid}, port {port}: {len(expected)} devices defined")
finally:
    server.terminate()
    server.wait(10)
EOF
check "pi-indi serve --mock (the example), on a free port, defines every device itself" \
    in_chroot timeout 90 python3 /tmp/smoke.py

echo "== reinstall keeps a local edit of /etc/pi-indi.toml"
echo '# a local edit' >>"$ch/etc/pi-indi.toml"
if apt_in_chroot install --reinstall "$debname" >"$work/reinstall.log" 2>&1; then
    ok "apt-get install --reinstall"
else
    fail "apt-get install --reinstall"
    tail -n 20 "$work/reinstall.log" | sed 's/^/        /'
fi
check "the local edit survived" grep -qx '# a local edit' "$ch/etc/pi-indi.toml"
check "no .dpkg-dist/.dpkg-new copy was left" \
    bash -c "! ls '$ch'/etc/pi-indi.toml.dpkg-* 2>/dev/null"
check "still enabled" test -L "$ch/etc/systemd/system/multi-user.target.wants/pi-indi.service"

echo "== purge"
if apt_in_chroot purge pi-indi >"$work/purge.log" 2>&1; then
    ok "apt-get purge pi-indi"
else
    fail "apt-get purge pi-indi"
    tail -n 20 "$work/purge.log" | sed 's/^/        /'
fi
check "package gone" bash -c "! chroot '$ch' dpkg-query -W -f='\${Status}' pi-indi 2>/dev/null | grep -q installed"
check "/etc/pi-indi.toml removed" test ! -e "$ch/etc/pi-indi.toml"
check "enable symlink removed" test ! -L "$ch/etc/systemd/system/multi-user.target.wants/pi-indi.service"
check "unit removed" test ! -e "$ch/lib/systemd/system/pi-indi.service"
check "deb-systemd-helper state removed" \
    bash -c "! ls '$ch'/var/lib/systemd/deb-systemd-helper-enabled/ 2>/dev/null | grep -q pi-indi"
check "/usr/bin/pi-indi removed" test ! -e "$ch/usr/bin/pi-indi"

if [ "$failures" -gt 0 ]; then
    echo "chroot test: $failures of $checks checks failed ($((SECONDS - started)) s)"
    exit 1
fi
echo "chroot test: all $checks checks OK in $((SECONDS - started)) s"
