#!/usr/bin/env bash
# `cmake --install` gives a usable package: bin/ferry, lib/libferry.so, include/ferry/ferry.h,
# find_package(ferry) and ferry.pc all work for a program built against the install.
set -euo pipefail
build="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d /tmp/ferry-install-XXXXXX)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/ferry lib/libferry.so include/ferry/ferry.h lib/cmake/ferry/ferryConfig.cmake lib/pkgconfig/ferry.pc; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
"$prefix/bin/ferry" version | grep -q '^ferry [0-9]' || { echo "FAIL: installed ferry does not run"; exit 1; }

# find_package(ferry)
cmake -S "$here/consumer" -B "$work/cm" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cm" >/dev/null
# pkg-config
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" cc "$here/consumer/consumer.c" -o "$work/pc" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs ferry) -Wl,-rpath,"$prefix/lib"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for exe in "$work/cm/consumer" "$work/pc"; do
  out=$(FERRY_ENABLE=1 FERRY_MONITOR_TABLE=0 LD_LIBRARY_PATH="$prefix/lib" mpirun -np 1 -x FERRY_ENABLE -x FERRY_MONITOR_TABLE -x LD_LIBRARY_PATH "$exe" 2>&1)
  echo "$out" | grep -q 'enabled=1' || { echo "FAIL: $exe: $out"; exit 1; }
  out=$(LD_LIBRARY_PATH="$prefix/lib" mpirun -np 1 -x LD_LIBRARY_PATH "$exe" 2>&1)
  echo "$out" | grep -q 'enabled=0' || { echo "FAIL: $exe without FERRY_ENABLE: $out"; exit 1; }
done
echo "PASS: install, find_package(ferry), pkg-config ferry"
