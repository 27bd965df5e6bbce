#!/usr/bin/env bash
# Packaging checks: the systemd unit, the .deb and the pip route (install.sh).
#
#   bash scripts/check-packaging.sh
#
# 1. systemd/pi-indi.service: `systemd-analyze verify` prints nothing, and
#    `systemd-analyze security --offline=true` scores it at most 2.0;
#    the unit, the sysusers file and the default config agree with each other.
# 2. deploy/install.sh, run twice into a temporary root: the venv, the unit
#    (ExecStart in the venv), the sysusers file, the user and its groups, the
#    enable symlink, the default config (no devices); the second run changes
#    nothing and keeps a local edit of the config.
# 3. The .deb (deploy/build-deb.sh, into build/deb/): its files, Depends,
#    conffiles (exactly /etc/pi-indi.toml) and maintainer scripts.
#
# The .deb is left in build/deb/ for scripts/test-deb-chroot.sh. Build tools
# are installed with apt-get when missing (as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
top="$PWD"

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
needed=(build-essential dpkg-dev debhelper dh-python pybuild-plugin-pyproject python3-all
        python3-setuptools python3-venv systemd)
missing=()
for pkg in "${needed[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/pi-indi-packaging.XXXXXX")"
trap 'rm -rf "$work"' EXIT

failures=0
checks=0
ok() { checks=$((checks + 1)); printf '  ok    %s\n' "$1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); printf '  FAIL  %s\n' "$1"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
    local what="$1"
    shift
    if "$@" >"$work/out" 2>&1; then ok "$what"; else fail "$what"; sed 's/^/        /' "$work/out"; fi
}
# same FILE1 FILE2: the files are identical.
same() { cmp -s "$1" "$2"; }
has_line() { grep -qxF -- "$2" "$1"; }

# ---------------------------------------------------------------------------
echo "== systemd unit"
unit="$top/systemd/pi-indi.service"
# verify fails when an Exec*= program is missing; run it on a copy whose
# ExecStart and ExecReload are an executable stub.
mkdir "$work/unit"
printf '#!/bin/sh\nexit 0\n' >"$work/unit/pi-indi-stub"
chmod +x "$work/unit/pi-indi-stub"
sed "s#^\(Exec[A-Za-z]*=\)/usr/bin/pi-indi #\1$work/unit/pi-indi-stub #" "$unit" \
    >"$work/unit/pi-indi.service"
# Unknown keys and bad values are only warnings (rc 0): require no output.
verify_out="$(systemd-analyze verify "$work/unit/pi-indi.service" 2>&1)" && verify_rc=0 || verify_rc=$?
if [ "$verify_rc" = 0 ] && [ -z "$verify_out" ]; then
    ok "systemd-analyze verify: no output"
else
    fail "systemd-analyze verify (rc $verify_rc) printed:"
    printf '%s\n' "$verify_out" | sed 's/^/        /'
fi
score="$(systemd-analyze security --offline=true --no-pager "$work/unit/pi-indi.service" 2>&1 \
    | sed -n 's/.*Overall exposure level for pi-indi.service: \([0-9.]*\).*/\1/p')"
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
    ok "systemd-analyze security --offline=true: exposure $score <= 2.0"
else
    fail "systemd-analyze security --offline=true: exposure '${score:-unparsed}' (must be <= 2.0)"
    systemd-analyze security --offline=true --no-pager "$work/unit/pi-indi.service" 2>&1 \
        | grep -v '✓' | sed 's/^/        /'
fi
# shellcheck disable=SC2016  # $MAINPID is literal unit text
for line in "Type=notify" "NotifyAccess=main" "Restart=on-failure" "RestartPreventExitStatus=78 69" \
    "ExecStart=/usr/bin/pi-indi serve --config /etc/pi-indi.toml" \
    'ExecReload=/usr/bin/pi-indi reload --pid $MAINPID --config /etc/pi-indi.toml' \
    "User=pi-indi" "SupplementaryGroups=gpio spi i2c" \
    "RuntimeDirectory=pi-indi" "WorkingDirectory=/run/pi-indi" "Environment=LG_WD=/run/pi-indi" \
    "StateDirectory=pi-indi" "DeviceAllow=char-gpiochip rw" "WantedBy=multi-user.target"; do
    check "unit has $line" has_line "$unit" "$line"
done
check "unit sets WatchdogSec" grep -q '^WatchdogSec=[1-9]' "$unit"
check "unit does not hide /dev (no PrivateDevices=yes)" \
    bash -c "! grep -q '^PrivateDevices=yes' '$unit'"
sysusers="$top/systemd/pi-indi.sysusers.conf"
for group in gpio spi i2c; do
    check "sysusers creates group $group when missing" grep -Eq "^g[[:space:]]+${group}[[:space:]]" "$sysusers"
    check "sysusers puts pi-indi in $group" grep -Eq "^m[[:space:]]+pi-indi[[:space:]]+$group\$" "$sysusers"
done
check "sysusers creates user pi-indi" grep -Eq '^u[[:space:]]+pi-indi[[:space:]]' "$sysusers"

# ---------------------------------------------------------------------------
echo "== deploy/install.sh into a temporary root, twice"
root="$work/root"
mkdir "$root"
# pi-indi from a clean copy of the source: pip builds a directory in place,
# and setuptools' build/ would otherwise keep files deleted from the checkout.
mkdir "$work/src"
tar -cf - --exclude='__pycache__' --exclude='*.egg-info' \
    pyproject.toml README.md pi_indi drivers | tar -C "$work/src" -xf -
# Paths inside the root; the venv lives at $root/opt/pi-indi/venv.
venv="$root/opt/pi-indi/venv"
# A bare name would be a root pip install from the index of whatever claims it.
check "install.sh refuses a bare name (pi-indi is not installed from an index)" \
    bash -c "! PI_INDI_ROOT='$root' bash deploy/install.sh pi-indi 2>'$work/bare.err' \
             && grep -q 'neither a wheel nor a source directory' '$work/bare.err' \
             && [ ! -e '$venv' ]"
if PI_INDI_ROOT="$root" bash deploy/install.sh "$work/src" >"$work/install1.log" 2>&1; then
    ok "first run exits 0"
else
    fail "first run"
    sed 's/^/        /' "$work/install1.log"
fi
installed_unit="$root/etc/systemd/system/pi-indi.service"
check "venv has bin/pi-indi" test -x "$venv/bin/pi-indi"
check "/usr/local/bin/pi-indi links to the venv" \
    bash -c "[ \"\$(readlink '$root/usr/local/bin/pi-indi')\" = /opt/pi-indi/venv/bin/pi-indi ]"
check "venv sees system site-packages" grep -qx 'include-system-site-packages = true' "$venv/pyvenv.cfg"
# Into another root, lgpio is the target's business (this machine's Python
# is not the target's); tests/system/run.py checks that install.sh installs
# it on a real machine that has none.
check "into another root, install.sh says lgpio is left to the target" \
    grep -q "not installing lgpio into another root" "$work/install1.log"
check "installed udev rule is systemd/60-pi-indi-gpio.rules" \
    same systemd/60-pi-indi-gpio.rules "$root/etc/udev/rules.d/60-pi-indi-gpio.rules"
check "unit installed with ExecStart in the venv" has_line "$installed_unit" \
    "ExecStart=/opt/pi-indi/venv/bin/pi-indi serve --config /etc/pi-indi.toml"
# shellcheck disable=SC2016  # $MAINPID is literal unit text
check "unit installed with ExecReload in the venv" has_line "$installed_unit" \
    'ExecReload=/opt/pi-indi/venv/bin/pi-indi reload --pid $MAINPID --config /etc/pi-indi.toml'
check "installed unit differs from systemd/pi-indi.service only in ExecStart, ExecReload and the header" \
    bash -c "diff <(grep -v -e '^Exec\(Start\|Reload\)=' -e '^#' '$unit') <(grep -v -e '^Exec\(Start\|Reload\)=' -e '^#' '$installed_unit')"
sed "s#^\(Exec[A-Za-z]*=\)/opt/#\1$root/opt/#" "$installed_unit" >"$work/unit/installed.service"
check "systemd-analyze verify on the installed unit: no output" \
    bash -c "out=\$(systemd-analyze verify '$work/unit/installed.service' 2>&1) && [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
check "sysusers file installed" same "$sysusers" "$root/etc/sysusers.d/pi-indi.conf"
if command -v systemd-sysusers >/dev/null 2>&1; then
    check "user pi-indi created" grep -q '^pi-indi:' "$root/etc/passwd"
    for group in gpio spi i2c; do
        check "pi-indi is in group $group" grep -Eq "^$group:[^:]*:[0-9]+:(.*,)?pi-indi(,|\$)" "$root/etc/group"
    done
fi
check "unit enabled (multi-user.target.wants symlink)" \
    test -L "$root/etc/systemd/system/multi-user.target.wants/pi-indi.service"
check "default config installed" same deploy/pi-indi.toml "$root/etc/pi-indi.toml"
check "installed pi-indi: list-drivers has no load errors" \
    bash -c "out=\$('$venv/bin/pi-indi' list-drivers) && echo \"\$out\" && grep -q '^relay ' <<<\"\$out\" && ! grep -qi error <<<\"\$out\""
check "installed pi-indi: check-config of the default config: no devices" \
    bash -c "'$venv/bin/pi-indi' check-config --config '$root/etc/pi-indi.toml' | grep -q 'OK, 0 device(s) enabled of 0'"
sed -e 's/^# \(\[\[device\]\]\)/\1/' -e 's/^# \([a-z_]* = \)/\1/' deploy/pi-indi.toml >"$work/uncommented.toml"
check "default config's commented devices are valid when uncommented" \
    bash -c "'$venv/bin/pi-indi' check-config --config '$work/uncommented.toml' | grep -Eq 'OK, [1-9][0-9]* device'"

echo "# a local edit" >>"$root/etc/pi-indi.toml"
(cd "$root" && find . -path ./opt -prune -o -type f -print0 | sort -z | xargs -0 md5sum) >"$work/before.md5"
if PI_INDI_ROOT="$root" bash deploy/install.sh "$work/src" >"$work/install2.log" 2>&1; then
    ok "second run exits 0"
else
    fail "second run"
    sed 's/^/        /' "$work/install2.log"
fi
(cd "$root" && find . -path ./opt -prune -o -type f -print0 | sort -z | xargs -0 md5sum) >"$work/after.md5"
check "second run keeps the edited config" grep -qx "# a local edit" "$root/etc/pi-indi.toml"
check "second run changes no file outside the venv" diff "$work/before.md5" "$work/after.md5"
check "second run still has a working pi-indi" "$venv/bin/pi-indi" --version

# ---------------------------------------------------------------------------
echo "== .deb"
outdir="$top/build/deb"
rm -f "$outdir"/pi-indi_*.deb
start=$SECONDS
if bash deploy/build-deb.sh "$outdir" >"$work/build.log" 2>&1; then
    ok "dpkg-buildpackage ($((SECONDS - start)) s)"
else
    fail "dpkg-buildpackage"
    sed 's/^/        /' "$work/build.log"
    echo "packaging: $failures of $checks checks failed"
    exit 1
fi
debs=("$outdir"/pi-indi_*_all.deb)
deb="${debs[0]}"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#' >"$work/files"
for path in /etc/pi-indi.toml /lib/systemd/system/pi-indi.service /usr/bin/pi-indi \
    /lib/udev/rules.d/60-pi-indi.rules \
    /usr/lib/sysusers.d/pi-indi.conf \
    /usr/lib/python3/dist-packages/pi_indi/__init__.py \
    /usr/lib/python3/dist-packages/pi_indi/cli.py \
    /usr/lib/python3/dist-packages/pi_indi/example.toml \
    /usr/lib/python3/dist-packages/pi_indi/protocol/__init__.py \
    /usr/lib/python3/dist-packages/pi_indi_drivers/__init__.py \
    /usr/lib/python3/dist-packages/pi_indi_drivers/_gpio.py; do
    check "deb contains $path" has_line "$work/files" "$path"
done
check "deb contains the dist-info entry points" \
    grep -Eq '^/usr/lib/python3/dist-packages/pi_indi-[^/]+\.dist-info/entry_points\.txt$' "$work/files"
check "deb contains no tests or bench" bash -c "! grep -Eq '/dist-packages/(tests|bench|examples)/' '$work/files'"
dpkg-deb -f "$deb" Architecture >"$work/arch"
check "Architecture: all" has_line "$work/arch" "all"
depends="$(dpkg-deb -f "$deb" Depends)"
echo "$depends" | tr ',' '\n' | sed 's/^ *//' >"$work/depends"
# Not procps: it gave /bin/kill to the old ExecReload=/bin/kill -HUP $MAINPID;
# ExecReload is `pi-indi reload` now.
for dep in "python3-gpiozero (>= 2.0)" "python3-lgpio" "python3-tomli-w"; do
    check "Depends: $dep" has_line "$work/depends" "$dep"
done
check "Depends: systemd-sysusers (for the user)" grep -q 'systemd-sysusers' "$work/depends"
dpkg-deb -f "$deb" Recommends | tr ',' '\n' | sed 's/^ *//' >"$work/recommends"
check "Recommends: python3-systemd" has_line "$work/recommends" "python3-systemd"
dpkg-deb -e "$deb" "$work/control"
check "conffiles is exactly /etc/pi-indi.toml" \
    bash -c "[ \"\$(cat '$work/control/conffiles')\" = /etc/pi-indi.toml ]"
check "postinst creates the user" grep -q 'systemd-sysusers .*pi-indi.conf' "$work/control/postinst"
check "postinst enables the unit" grep -q "deb-systemd-helper enable 'pi-indi.service'" "$work/control/postinst"
check "postinst runs sysusers before starting the unit" \
    bash -c "[ \$(grep -n systemd-sysusers '$work/control/postinst' | head -1 | cut -d: -f1) -lt \$(grep -n 'deb-systemd-invoke' '$work/control/postinst' | head -1 | cut -d: -f1) ]"
check "postrm purges the enablement" grep -q "deb-systemd-helper purge 'pi-indi.service'" "$work/control/postrm"
dpkg-deb -x "$deb" "$work/deb"
check "deb's unit is systemd/pi-indi.service" same "$unit" "$work/deb/lib/systemd/system/pi-indi.service"
check "deb's udev rule is systemd/60-pi-indi-gpio.rules" \
    same systemd/60-pi-indi-gpio.rules "$work/deb/lib/udev/rules.d/60-pi-indi.rules"
check "postinst applies the udev rule to the devices already there" \
    grep -q 'udevadm trigger --action=add --subsystem-match=gpio' "$work/control/postinst"
check "deb's sysusers is systemd/pi-indi.sysusers.conf" same "$sysusers" "$work/deb/usr/lib/sysusers.d/pi-indi.conf"
check "deb's /etc/pi-indi.toml is deploy/pi-indi.toml" same deploy/pi-indi.toml "$work/deb/etc/pi-indi.toml"
check "deb's example.toml is pi_indi/example.toml" same pi_indi/example.toml \
    "$work/deb/usr/lib/python3/dist-packages/pi_indi/example.toml"
check "repo root has no debian/ (the build ran on a copy)" test ! -e debian

if [ "$failures" -gt 0 ]; then
    echo "packaging: $failures of $checks checks failed"
    exit 1
fi
echo "packaging: all $checks checks OK; $deb"
