#!/bin/sh
# The README's second command: install dependencies, build, and run the
# whole test suite (unit and integration). Exit status is meson's.
set -eu
cd "$(dirname "$0")/.."
./packaging/build.sh
meson test -C build --print-errorlogs "$@"
