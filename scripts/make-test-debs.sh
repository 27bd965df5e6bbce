#!/usr/bin/env bash
# Build the two packages pi-indi's .deb depends on that Debian bookworm lacks,
# from PyPI's wheels, for the tests that install the .deb on plain Debian
# (scripts/test-deb-chroot.sh, scripts/test-system.sh):
#
#   bash scripts/make-test-debs.sh OUTDIR [ARCH]     # ARCH: amd64 (default) or arm64
#
# * python3-gpiozero: bookworm ships 1.6.2, pi-indi needs >= 2.0 (Raspberry Pi
#   OS bookworm ships 2.0.1). PyPI's pure-Python wheel gpiozero-2.0.1.post3,
#   its files unchanged (gpiozero, gpiozerocli, and the dist-info with the pin
#   factory entry points), depending on bookworm's python3-colorzero as the
#   real package does.
# * python3-lgpio: not in Debian at all (Raspberry Pi OS ships it). PyPI's
#   wheel lgpio-0.2.2.0 for CPython 3.11 (bookworm's Python), its files
#   unchanged: lgpio.py and _lgpio, which has liblgpio built in. It works on
#   any kernel GPIO character device, not only a Pi's.
#
# Both are real upstream code; only the packaging is ours. Each package says
# so in its description and in /usr/share/doc/PACKAGE/README.test-build, and
# carries a version that sorts below any real Debian or Raspberry Pi OS one.
# Prints the paths of the two .deb files. Needs pip (network: PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: make-test-debs.sh OUTDIR [ARCH]}"
arch="${2:-amd64}"
case "$arch" in
    amd64) platform=manylinux_2_34_x86_64 ;;
    arm64) platform=manylinux_2_34_aarch64 ;;
    *) echo "make-test-debs: no lgpio wheel for $arch" >&2; exit 1 ;;
esac
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/pi-indi-test-debs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
python="${PI_INDI_VENV:-.venv}/bin/python"
[ -x "$python" ] || python=python3
pydir=usr/lib/python3/dist-packages
gpiozero_version=2.0.1.post3
lgpio_version=0.2.2.0

"$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$work/wheels" "gpiozero==$gpiozero_version"
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 --platform "$platform" \
    -d "$work/wheels" "lgpio==$lgpio_version"

# package NAME VERSION ARCH DEPENDS WHEEL SUMMARY
package() {
    local name="$1" version="$2" pkgarch="$3" depends="$4" wheel="$5" summary="$6"
    local pkg="$work/$name"
    mkdir -p "$pkg/DEBIAN" "$pkg/$pydir" "$pkg/usr/share/doc/$name"
    "$python" -m zipfile -e "$wheel" "$pkg/$pydir"
    find "$pkg/$pydir" -name '*.so' -exec chmod 0644 {} +
    cat >"$pkg/usr/share/doc/$name/README.test-build" <<DOC
Local test build made by pi-indi's scripts/make-test-debs.sh: the files of
PyPI's $(basename "$wheel"), unchanged, packaged for
Debian bookworm, which has no usable $name. For pi-indi's tests only, not for
distribution. Raspberry Pi OS ships the real $name.
DOC
    cat >"$pkg/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $pkgarch
Maintainer: pi-indi developers <pi-indi@localhost>
Depends: $depends
Section: python
Priority: optional
Description: $summary (pi-indi test build from PyPI's wheel)
 LOCAL TEST BUILD for pi-indi's tests on Debian bookworm: the unchanged
 files of PyPI's $(basename "$wheel").
 Not for distribution; Raspberry Pi OS ships the real package.
CONTROL
    dpkg-deb --root-owner-group --build "$pkg" "$out/${name}_${version}_${pkgarch}.deb" >/dev/null
    echo "$out/${name}_${version}_${pkgarch}.deb"
}

package python3-gpiozero "$gpiozero_version-0~piindi.test1" all \
    "python3:any (>= 3.9), python3-colorzero" \
    "$work/wheels/gpiozero-$gpiozero_version-py3-none-any.whl" \
    "gpiozero $gpiozero_version"
package python3-lgpio "$lgpio_version-0~piindi.test1" "$arch" \
    "python3 (>= 3.11), python3 (<< 3.12), libc6 (>= 2.34)" \
    "$(ls "$work"/wheels/lgpio-"$lgpio_version"-cp311-*.whl)" \
    "lgpio $lgpio_version, GPIO on the kernel's character device"
