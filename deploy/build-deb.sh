#!/usr/bin/env bash
# Build pi-indi_VERSION_all.deb from this checkout without touching it.
#
#   bash deploy/build-deb.sh [OUTDIR]      # default OUTDIR: build/deb
#
# The Debian packaging lives in deploy/debian/. dpkg-buildpackage wants it as
# debian/ at the top of the source tree, so the working tree (tracked and
# untracked files alike, minus caches, venvs and build output) is copied to a
# temporary directory, deploy/debian/ becomes debian/ there, and the build
# runs in that copy. The repository root stays clean.
#
# Needs (Debian 12 or later): build-essential dpkg-dev debhelper dh-python
# pybuild-plugin-pyproject python3-all python3-setuptools.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
outdir="${1:-$here/build/deb}"
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"

work="$(mktemp -d "${TMPDIR:-/tmp}/pi-indi-deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
src="$work/pi-indi"
mkdir "$src"

# Only what the package is built from: no tests, benchmarks, venvs or caches.
tar -C "$here" -cf - \
    --exclude='__pycache__' --exclude='*.egg-info' --exclude='*.pyc' \
    pyproject.toml README.md pi_indi drivers systemd docs \
    deploy/pi-indi.toml deploy/debian \
    | tar -C "$src" -xf -
mv "$src/deploy/debian" "$src/debian"

# pyproject.toml says `license = "MIT"` (a PEP 639 licence expression).
# setuptools before 77 (Debian 12 ships 66.1) rejects that form and wants the
# older table, so the copy, never the checkout, gets the table there.
if ! /usr/bin/python3 -c 'import setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)'; then
    sed -i 's/^license = "\([^"]*\)"$/license = { text = "\1" }/' "$src/pyproject.toml"
fi

# A clean environment: with pyenv shims (or an active venv) first on PATH,
# pybuild runs a python3 that has no python3-build and fails with
# "No module named build".
(cd "$src" && env -i HOME="$work" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-}" \
    dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
    tail -n 60 "$work/build.log" >&2
    echo "build-deb: dpkg-buildpackage failed (last 60 lines above)" >&2
    exit 1
}
for f in "$work"/*.deb; do
    cp "$f" "$outdir/"
    echo "$outdir/$(basename "$f")"
done
