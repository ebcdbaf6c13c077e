#!/usr/bin/env bash
# The demo command of the README: builds ferry and runs examples/heat2d on 4 local ranks with
# ferry preloaded, printing ferry's per-rank figures at the end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FERRY_BUILD_DIR:-$root/build}"
"$root/tools/build.sh"
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
report="$(mktemp -d)/heat2d-report.json"
echo
echo "demo: examples/heat2d on 4 ranks, measured by ferry (FERRY_ENABLE=1, libferry.so preloaded)"
echo
FERRY_ENABLE=1 FERRY_MONITOR_REPORT="$report" \
  mpirun --oversubscribe --bind-to none -np 4 \
    -x FERRY_ENABLE -x FERRY_MONITOR_REPORT -x LD_PRELOAD="$build/src/libferry.so" \
    "$build/examples/heat2d" -n 2048 -i 800 -r 200
echo
echo "demo: the same figures as JSON: $report"
