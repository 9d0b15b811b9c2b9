#!/bin/sh
# Installs every Debian 12 package that infergate's build, tests and
# benchmarks need. Idempotent: apt-get skips what is already installed.
#
# Debian 12 quirks handled here:
#  - Boost must be 1.81 (libboost1.81-dev): the default 1.74 Asio lacks
#    pieces and fails with GCC 12, and the two -dev packages conflict.
#  - llhttp ships only as C sources in node-llhttp; meson compiles them.
#  - doctest has no pkg-config file; meson finds the header.
set -eu

PACKAGES="
  g++ meson ninja-build pkg-config
  libboost1.81-dev
  libssl-dev
  node-llhttp
  libfmt-dev
  doctest-dev
  libyaml-cpp-dev
  libsimdjson-dev
  libxxhash-dev
  prometheus-cpp-dev
  libbenchmark-dev
  curl python3 procps
  wrk nginx-light haproxy gnuplot-nox openssl testssl.sh
"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "packaging: all dependencies present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "packaging: need root to install:$missing" >&2
  exit 1
fi

echo "packaging: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
