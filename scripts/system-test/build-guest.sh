#!/usr/bin/env bash
# Build the system test's Debian bookworm guest, from Debian packages only:
# a root filesystem (debootstrap) with systemd, ssh and Python, the Debian
# kernel, and gpio-sim built out of tree from Debian's own kernel source,
# because no Debian kernel enables CONFIG_GPIO_SIM.
#
#   bash scripts/system-test/build-guest.sh CACHEDIR
#
# Leaves in CACHEDIR/guest-KEY/: rootfs/ (the tree mkfs.ext4 -d turns into a
# disk image for every run), vmlinuz, initrd.img, id_ed25519 (the host's key
# for root@guest) and done. KEY is a hash of this script and the files of
# scripts/system-test/guest/, so changing either builds a new guest; an
# existing one is reused (about 3 minutes saved). Needs root, debootstrap and
# a Debian mirror.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${1:?usage: build-guest.sh CACHEDIR}"
mirror="${PI_INDI_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

key="$(cat "$0" $(find "$here/guest" -type f | LC_ALL=C sort) | sha256sum | cut -c1-12)"
out="$cache/guest-$key"
if [ -f "$out/done" ]; then
    echo "$out"
    exit 0
fi
# Older guests are of no further use.
find "$cache" -maxdepth 1 -name 'guest-*' ! -name "guest-$key" -exec rm -rf --one-file-system {} + 2>/dev/null || true
rm -rf --one-file-system "$out"
mkdir -p "$out"
root="$out/rootfs"
log="$out/build.log"
started=$SECONDS

fail() { tail -n 40 "$log" >&2; echo "build-guest: $1 (log: $log)" >&2; exit 1; }
umount_all() {
    for m in dev/pts dev proc sys; do
        if mountpoint -q "$root/$m" 2>/dev/null; then umount -l "$root/$m"; fi
    done
}
trap umount_all EXIT
trap 'exit 1' TERM INT

echo "build-guest: debootstrap bookworm" >&2
packages=systemd-sysv,udev,dbus,kmod,iproute2,openssh-server,ca-certificates
packages+=,python3,python3-venv,python3-pip,python3-systemd,python3-colorzero,python3-tomli-w
packages+=,procps,gpiod,less
debootstrap --include="$packages" bookworm "$root" "$mirror" >"$log" 2>&1 \
    || fail "debootstrap failed"

mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root \
    DEBIAN_FRONTEND=noninteractive "$@"; }

echo "build-guest: the Debian kernel, its headers and its source" >&2
in_root apt-get install -y -q --no-install-recommends \
    linux-image-amd64 linux-headers-amd64 linux-source-6.1 xz-utils make gcc \
    >>"$log" 2>&1 || fail "installing the kernel packages failed"
kver="$(ls "$root/lib/modules" | sort -V | tail -n 1)"

echo "build-guest: gpio-sim for $kver, out of tree" >&2
# gpio-sim.c needs gpiolib.h from the same tree and the irq simulator, which
# Debian does not build either (no CONFIG_IRQ_SIM); irq_sim.c is linked into
# the one module. irq_to_desc() is not exported to modules; for the simple
# handler irq_sim installs, generic_handle_irq(irq) does the same dispatch as
# handle_simple_irq(irq_to_desc(irq)).
src=/usr/src/gpio-sim
mkdir -p "$root$src"
tar -C "$root$src" -xJf "$root"/usr/src/linux-source-6.1.tar.xz --strip-components=3 \
    --wildcards '*/drivers/gpio/gpio-sim.c' '*/drivers/gpio/gpiolib.h' \
    || fail "gpio-sim.c or gpiolib.h missing from linux-source-6.1"
tar -C "$root$src" -xJf "$root"/usr/src/linux-source-6.1.tar.xz --strip-components=3 \
    --wildcards '*/kernel/irq/irq_sim.c' || fail "irq_sim.c missing from linux-source-6.1"
mv "$root$src/gpio-sim.c" "$root$src/gpio-sim-main.c"
grep -q 'handle_simple_irq(irq_to_desc(' "$root$src/irq_sim.c" \
    || fail "irq_sim.c has changed: no handle_simple_irq(irq_to_desc(...)) to replace"
sed -i 's/handle_simple_irq(irq_to_desc(\([^)]*\)))/generic_handle_irq(\1)/' "$root$src/irq_sim.c"
cat >"$root$src/Makefile" <<'MAKE'
obj-m := gpio-sim.o
gpio-sim-y := gpio-sim-main.o irq_sim.o
MAKE
in_root make -C "/lib/modules/$kver/build" M="$src" modules >>"$log" 2>&1 \
    || fail "building gpio-sim failed"
install -D -m 0644 "$root$src/gpio-sim.ko" "$root/lib/modules/$kver/extra/gpio-sim.ko"
in_root depmod "$kver"
rm -f "$root"/usr/src/linux-source-6.1.tar.*
in_root apt-get purge -y -q --autoremove linux-source-6.1 >>"$log" 2>&1 || true
in_root apt-get clean

echo "build-guest: configuring" >&2
# The guest's own files: the simulated chip and board revision at boot.
cp -a "$here/guest/." "$root/"
chmod +x "$root/usr/local/sbin/"*
in_root systemctl enable pi-board-sim.service systemd-networkd.service >>"$log" 2>&1
# Nothing in the background competes with the test for the emulated CPUs.
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer man-db.timer \
    e2scrub_all.timer fstrim.timer systemd-timesyncd.service >>"$log" 2>&1 || true
echo pi-indi-guest >"$root/etc/hostname"
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$root/etc/fstab"
ssh-keygen -q -t ed25519 -N '' -C pi-indi-system-test -f "$out/id_ed25519"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$out/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
rm -f "$root/usr/sbin/policy-rc.d"
umount_all
cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$out/initrd.img"
echo "$kver" >"$out/kernel-version"
touch "$out/done"
echo "build-guest: built in $((SECONDS - started)) s" >&2
echo "$out"
