#!/usr/bin/env bash
# The test command of the README: installs what is missing, builds, runs the whole suite.
# Needs root for the simulated-cluster tests; mpirun as root is allowed for the test runs only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FERRY_BUILD_DIR:-$root/build}"
"$root/tools/build.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$build"
ctest --output-on-failure --timeout 600 "$@"
