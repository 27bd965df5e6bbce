#!/usr/bin/env bash
# Install pi-indi the pip way: a venv under /opt/pi-indi, the system user, the
# systemd unit and a default /etc/pi-indi.toml. (The other way is the .deb:
# see docs/deployment.md.)
#
#   sudo deploy/install.sh                 # pi-indi from this checkout
#   sudo deploy/install.sh ./dist/pi_indi-0.1.0-py3-none-any.whl
#
# SOURCE is a source directory or a wheel, never a bare name: pi-indi is not
# on PyPI, and a root pip install of a name would take whatever claims it.
#
# Run it from a checkout (or an unpacked release tarball): the unit, the
# sysusers file and the default config are taken from beside this script.
# Running it again upgrades pi-indi in the venv and rewrites the unit; it never
# touches an existing /etc/pi-indi.toml.
#
# What it does:
#   1. python3 -m venv --system-site-packages PREFIX/venv, so that apt's
#      python3-lgpio (and python3-systemd, python3-gpiozero) are used;
#   2. pip install SOURCE into it, and lgpio from PyPI when the venv cannot
#      import one (apt has python3-lgpio only on Raspberry Pi OS), and link
#      /usr/local/bin/pi-indi to it;
#   3. /etc/sysusers.d/pi-indi.conf, then systemd-sysusers: the pi-indi user,
#      in the gpio, spi and i2c groups (created when missing); the udev rule
#      that gives /dev/gpiochip*, /dev/spidev* and /dev/i2c-* to those groups,
#      applied to the devices already there;
#   4. /etc/systemd/system/pi-indi.service, with ExecStart and ExecReload
#      running PREFIX/venv/bin/pi-indi;
#   5. /etc/pi-indi.toml, only if there is none: no devices, drives no pin;
#   6. systemctl daemon-reload, enable, and start (restart if running), when
#      systemd is running; otherwise only the enable symlink (systemctl --root).
#
# Environment (for tests and image builds):
#   PI_INDI_ROOT     install into this root instead of / (no systemctl calls, no
#                    root needed); the venv goes to ROOT/PREFIX/venv, while
#                    paths written into files are those seen from the root
#   PI_INDI_PREFIX   default /opt/pi-indi
#   PI_INDI_PYTHON   the Python for the venv; default /usr/bin/python3
#   PI_INDI_NO_LGPIO=1  do not install lgpio (a machine with no GPIO chip that
#                    only ever runs pin_factory = "mock")
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/.." && pwd)"
root="${PI_INDI_ROOT:-}"
root="${root%/}"
prefix="${PI_INDI_PREFIX:-/opt/pi-indi}"
prefix="${prefix%/}"
python="${PI_INDI_PYTHON:-/usr/bin/python3}"
[ -x "$python" ] || python="$(command -v python3)"

unit_src="$top/systemd/pi-indi.service"
sysusers_src="$top/systemd/pi-indi.sysusers.conf"
udev_src="$top/systemd/60-pi-indi-gpio.rules"
config_src="$here/pi-indi.toml"

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

for f in "$unit_src" "$sysusers_src" "$udev_src" "$config_src"; do
    [ -f "$f" ] || die "$f is missing: run this script from a pi-indi checkout"
done

if [ $# -gt 1 ]; then
    die "usage: install.sh [SOURCE]   (a source directory or a wheel)"
elif [ $# -eq 1 ]; then
    source_arg="$1"
    case "$source_arg" in
        *.whl) [ -f "$source_arg" ] || die "no wheel $source_arg" ;;
        *) [ -f "$source_arg/pyproject.toml" ] \
            || die "$source_arg is neither a wheel nor a source directory (pi-indi is not" \
                   "installed from a package index: give a checkout or a built wheel)" ;;
    esac
    # A relative path, for pip, needs the ./ prefix (else it is taken for a name).
    if [ "${source_arg#/}" = "$source_arg" ] && [ "${source_arg#./}" = "$source_arg" ]; then
        source_arg="./$source_arg"
    fi
elif [ -f "$top/pyproject.toml" ] && grep -q '^name = "pi-indi"' "$top/pyproject.toml"; then
    source_arg="$top"
else
    die "no pi-indi source beside this script: give a source directory or a wheel" \
        "(install.sh ./pi_indi-VERSION-py3-none-any.whl)"
fi

if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
    die "run as root (sudo), or set PI_INDI_ROOT to install into another root"
fi

venv="$root$prefix/venv"
etc="$root/etc"

# Writes $2 from stdin only when the content differs, atomically, mode $1.
put() {
    local mode="$1" dest="$2" tmp
    mkdir -p "$(dirname "$dest")"
    tmp="$(mktemp "$dest.XXXXXX")"
    cat >"$tmp"
    chmod "$mode" "$tmp"
    if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"
    else
        mv -f "$tmp" "$dest"
        say "wrote ${dest#"$root"}"
    fi
}

# 1. The venv. --system-site-packages: apt's python3-lgpio has no wheel for
#    every Python, and python3-systemd needs a compiler to pip install.
if [ ! -x "$venv/bin/python" ]; then
    say "creating the venv $venv (with $python)"
    "$python" -m venv --system-site-packages "$venv" \
        || die "cannot create a venv: on Debian/Raspberry Pi OS, sudo apt install python3-venv"
fi

# 2. pi-indi itself (an upgrade when it is already there).
say "installing $source_arg into $venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$source_arg"
[ -x "$venv/bin/pi-indi" ] || die "pip did not install $venv/bin/pi-indi"

# lgpio: gpiozero's pin library for the kernel's GPIO character device, the
# only one that works on every Pi (the Pi 5 included). Raspberry Pi OS has it
# from apt (python3-lgpio, seen through --system-site-packages); elsewhere it
# comes from PyPI, whose wheels carry the C library. Looked for without
# importing it: importing lgpio creates a FIFO in the working directory.
if [ "${PI_INDI_NO_LGPIO:-0}" = 1 ]; then
    say "not installing lgpio (PI_INDI_NO_LGPIO=1): only pin_factory = \"mock\" will work"
elif [ -n "$root" ]; then
    # This machine's Python and packages are not the target's (an image for
    # a Pi built on a PC): lgpio must come from the target's apt, or from a
    # run of this script on the target itself.
    say "not installing lgpio into another root: on the target, apt install python3-lgpio or run this script there"
elif "$venv/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("lgpio") is None)'; then
    say "lgpio is there: $("$venv/bin/python" -c 'import importlib.util; print(importlib.util.find_spec("lgpio").origin)')"
else
    say "installing lgpio into $venv (apt has no python3-lgpio here)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "lgpio>=0.2" \
        || die "could not install lgpio, which pin_factory = \"lgpio\" and \"auto\" need:
  on Raspberry Pi OS: sudo apt install python3-lgpio, then run this script again;
  elsewhere, where PyPI has no wheel for this machine: sudo apt install swig
  python3-dev liblgpio-dev (or build lgpio from source), then run it again;
  or, for a machine with no GPIO: PI_INDI_NO_LGPIO=1"
fi

# The command on root's PATH: /usr/local/bin/pi-indi, a symlink into the venv
# (left alone if it is something else, such as a pi-indi installed by hand).
link="$root/usr/local/bin/pi-indi"
if [ -L "$link" ] || [ ! -e "$link" ]; then
    mkdir -p "$(dirname "$link")"
    if [ "$(readlink "$link" 2>/dev/null)" != "$prefix/venv/bin/pi-indi" ]; then
        ln -sfn "$prefix/venv/bin/pi-indi" "$link"
        say "linked /usr/local/bin/pi-indi -> $prefix/venv/bin/pi-indi"
    fi
else
    say "not replacing /usr/local/bin/pi-indi (not a symlink): use $prefix/venv/bin/pi-indi"
fi

# 3. The system user and its groups.
put 0644 "$etc/sysusers.d/pi-indi.conf" <"$sysusers_src"
if command -v systemd-sysusers >/dev/null 2>&1; then
    # A bare name is looked up in the sysusers.d directories (of --root).
    systemd-sysusers ${root:+--root="$root"} pi-indi.conf
elif [ -z "$root" ]; then
    # No systemd-sysusers (not a systemd system): the same with shadow-utils.
    for group in gpio spi i2c; do groupadd --force --system "$group"; done
    if ! id pi-indi >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir / \
            --shell /usr/sbin/nologin --comment "pi-indi INDI server" pi-indi
    fi
    usermod --append --groups gpio,spi,i2c pi-indi
else
    say "no systemd-sysusers: the pi-indi user is created when the root boots"
fi

# The udev rule, then make udev read it again and apply it to the devices
# already there: it resolves GROUP= names when it reads a rule, and re-reads
# only files that changed, so a rule read before the group existed would be
# kept without it until a reboot. Hence the touch.
put 0644 "$etc/udev/rules.d/60-pi-indi-gpio.rules" <"$udev_src"
if [ -z "$root" ] && [ -d /run/udev ] && command -v udevadm >/dev/null 2>&1 \
    && ! systemd-detect-virt --quiet --chroot 2>/dev/null; then
    touch "$etc/udev/rules.d/60-pi-indi-gpio.rules"
    udevadm control --reload || say "udevadm control --reload failed"
    udevadm trigger --action=add --subsystem-match=gpio \
        --subsystem-match=spidev --subsystem-match=i2c-dev || say "udevadm trigger failed"
    udevadm settle --timeout=10 || true
fi

# 4. The unit, run from the venv. It goes to /etc/systemd/system, where it
#    takes precedence over a /lib/systemd/system/pi-indi.service of the .deb.
# shellcheck disable=SC2016  # the backquotes are text for the unit's header
sed "s#^\(Exec[A-Za-z]*=\)/usr/bin/pi-indi #\1$prefix/venv/bin/pi-indi #" "$unit_src" \
    | sed '1i # Installed by pi-indi deploy/install.sh (ExecStart, ExecReload: its venv). Rerunning it\n# rewrites this file: change settings with `systemctl edit pi-indi` instead.' \
    | put 0644 "$etc/systemd/system/pi-indi.service"
grep -q "^ExecStart=$prefix/venv/bin/pi-indi serve " "$etc/systemd/system/pi-indi.service" \
    || die "could not point ExecStart at $prefix/venv/bin/pi-indi"
if grep -q '^Exec[A-Za-z]*=/usr/bin/pi-indi ' "$etc/systemd/system/pi-indi.service"; then
    die "a command line of the unit still runs /usr/bin/pi-indi"
fi

# 5. The config: a default that drives no pin, never over an existing file.
if [ -e "$etc/pi-indi.toml" ]; then
    say "keeping the existing /etc/pi-indi.toml"
else
    put 0644 "$etc/pi-indi.toml" <"$config_src"
fi

# 6. systemd.
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable pi-indi.service
    if systemctl is-active --quiet pi-indi.service; then
        action=restart
    else
        action=start
    fi
    systemctl "$action" pi-indi.service \
        || say "pi-indi.service did not $action: see journalctl -u pi-indi"
    say "done: pi-indi.service is enabled; edit /etc/pi-indi.toml, then sudo systemctl reload pi-indi"
else
    if command -v systemctl >/dev/null 2>&1; then
        # Offline enable: only the multi-user.target.wants symlink.
        systemctl --root="${root:-/}" --quiet enable pi-indi.service
    fi
    say "done (systemd is not running here: nothing was started)"
fi
