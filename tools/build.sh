#!/usr/bin/env bash
# Configures and builds ferry into ./build (or $FERRY_BUILD_DIR). Installs missing packages first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FERRY_BUILD_DIR:-$root/build}"
"$root/tools/setup.sh"
echo "build: configuring in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.cmake.log" 2>&1 || {
  cat "$build.cmake.log"
  exit 1
}
echo "build: compiling ($(nproc) jobs)"
cmake --build "$build" -j "$(nproc)" 2>&1 | grep -E 'error|warning|Error' || true
test -x "$build/src/ferry" || { echo "build: failed (see above)"; exit 1; }
echo "build: done"
