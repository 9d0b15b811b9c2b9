#!/bin/sh
# Installs the dependencies (Debian 12 packages) and builds infergate into
# ./build with meson. Safe to run again: it only rebuilds what changed.
# Arguments, if any, are meson targets to build instead of everything
# (the demo builds only the two binaries it runs).
set -eu
cd "$(dirname "$0")/.."
./packaging/install-deps.sh
if [ ! -f build/build.ninja ]; then
  meson setup build
fi
meson compile -C build "$@"
