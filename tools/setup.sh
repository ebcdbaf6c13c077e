#!/usr/bin/env bash
# Installs the Debian packages ferry needs to build, test and run its demo.
# Idempotent: only missing packages are installed; safe to run again.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  openmpi-bin libopenmpi-dev
  libpapi-dev papi-tools
  libhwloc-dev hwloc
  libtbb-dev
  libcivetweb-dev
  libtoml11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  prometheus
  iproute2 util-linux procps psmisc jq
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
