#!/usr/bin/env bash
# Launch overhead of `ferry run` against a bare `mpirun` of the same placement: 6 ranks on this
# host, a short MPI program (tests/pattern, well under a second), each whole command timed.
#
#   launch_overhead.sh [BUILD_DIR] [PAIRS]
#
#   BUILD_DIR  default: ../build next to this script (needs src/ferry, src/libferry.so, tests/pattern)
#   PAIRS      bare/ferry pairs (default 10); the order inside a pair alternates (bare first in
#              odd pairs, ferry first in even ones) so that a drifting machine favours neither
#
#   bare:  mpirun --hostfile H --rankfile R -np 6 pattern FILE 0.0 1
#   ferry: ferry run --nodes HOST:6 -- pattern FILE 0.0 1
#
# H and R are written here the way `ferry run` writes its own: "HOST slots=6", and
# "rank i=HOST slot=(i % nproc)" (block map). One uncounted warm-up run of each comes first; during
# the ferry one, ferry's generated hostfile and rankfile are copied from its job directory and
# compared with H and R. Every run must exit 0, and every ferry run must report "6 of 6 ranks".
#
# PASS when median(ferry) / median(bare) <= 1.1. Exit status: 0 PASS, 1 FAIL, 2 usage or run
# error. FERRY_RUN_DIR is a temporary directory (removed at the end); as root the
# OMPI_ALLOW_RUN_AS_ROOT variables are set. Needs bash and awk (plus date, mktemp, hostname, nproc).
set -u

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir=${1:-$script_dir/../build}
pairs=${2:-10}
ranks=6
max_ratio=1.1

usage() {
  sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}
[ $# -le 2 ] || usage
case ${1:-} in -h | --help) usage ;; esac
if ! [[ $pairs =~ ^[0-9]+$ ]] || [ "$pairs" -lt 1 ]; then
  echo "launch_overhead: PAIRS must be a number >= 1, got \"$pairs\"" >&2
  exit 2
fi

build_dir=$(cd "$build_dir" 2>/dev/null && pwd) || { echo "launch_overhead: no build directory $build_dir" >&2; exit 2; }
ferry=$build_dir/src/ferry
prog=$build_dir/tests/pattern
[ -x "$ferry" ] || { echo "launch_overhead: $ferry missing (make ferry_cli)" >&2; exit 2; }
[ -f "$build_dir/src/libferry.so" ] || { echo "launch_overhead: $build_dir/src/libferry.so missing (make ferry)" >&2; exit 2; }
[ -x "$prog" ] || { echo "launch_overhead: $prog missing (make pattern)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "launch_overhead: mpirun not found" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# The bare runs must really be bare, and ferry must see no stray settings of the caller's.
unset FERRY_ENABLE LD_PRELOAD FERRY_CONFIG FERRY_LIBRARY

tmp=$(mktemp -d "${TMPDIR:-/tmp}/launch_overhead.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
export FERRY_RUN_DIR=$tmp/run
cd "$tmp" || exit 2  # no ./ferry.toml of the caller's

host=$(hostname)
cores=$(nproc)
hostfile=$tmp/hostfile
rankfile=$tmp/rankfile
echo "$host slots=$ranks" >"$hostfile"
awk -v n="$ranks" -v host="$host" -v cores="$cores" \
  'BEGIN { for (i = 0; i < n; ++i) printf "rank %d=%s slot=%d\n", i, host, i % cores }' >"$rankfile"

bare_cmd=(mpirun --hostfile "$hostfile" --rankfile "$rankfile" -np "$ranks" "$prog" "$tmp/bare.expect" 0.0 1)
ferry_cmd=("$ferry" run --nodes "$host:$ranks" -- "$prog" "$tmp/ferry.expect" 0.0 1)

now() { date +%s.%N; }

# run MODE LOG: one whole command, prints its wall time in seconds, or fails.
run() {
  local mode=$1 log=$2 t0 t1 rc
  if [ "$mode" = ferry ]; then
    t0=$(now)
    "${ferry_cmd[@]}" >"$log" 2>&1
    rc=$?
    t1=$(now)
  else
    t0=$(now)
    "${bare_cmd[@]}" >"$log" 2>&1
    rc=$?
    t1=$(now)
  fi
  if [ $rc -ne 0 ]; then
    echo "launch_overhead: $mode run failed (exit $rc):" >&2
    tail -20 "$log" >&2
    return 1
  fi
  if [ "$mode" = ferry ] && ! grep -q "$ranks of $ranks ranks reported" "$log"; then
    echo "launch_overhead: ferry run did not report $ranks of $ranks ranks:" >&2
    tail -20 "$log" >&2
    return 1
  fi
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}

# Median of the numbers on stdin.
median() {
  awk '{ v[NR] = $1 + 0 }
    END {
      for (i = 2; i <= NR; ++i) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; --j) v[j + 1] = v[j]; v[j + 1] = x }
      if (NR == 0) print "nan"; else if (NR % 2) printf "%.4f\n", v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() { printf '%s\n' "$@" | awk 'NR == 1 { lo = hi = $1 } { if ($1 < lo) lo = $1; if ($1 > hi) hi = $1 } END { printf "%s .. %s", lo, hi }'; }
load() { awk '{ print $1, $2, $3 }' /proc/loadavg; }

echo "launch overhead: $pairs pairs, $ranks ranks on $host ($cores cores), threshold $max_ratio"
echo "  bare:  ${bare_cmd[*]}"
echo "  ferry: ${ferry_cmd[*]}"
echo "  rankfile: $(awk '{ printf "%s%s", sep, $0; sep = "; " }' "$rankfile")"
echo "  load average at start: $(load)"

# Warm-up (not counted): page cache, and a look at the files ferry generates for its mpirun.
wb=$(run bare "$tmp/warmup-bare.log") || exit 2
"${ferry_cmd[@]}" >"$tmp/warmup-ferry.log" 2>&1 &
ferry_pid=$!
captured=0
for ((i = 0; i < 500; ++i)); do
  for d in "$FERRY_RUN_DIR"/*/; do
    if [ -s "$d/rankfile" ] && [ -s "$d/hostfile" ]; then
      cp "$d/rankfile" "$tmp/ferry.rankfile" 2>/dev/null && cp "$d/hostfile" "$tmp/ferry.hostfile" 2>/dev/null && captured=1
    fi
  done
  [ $captured -eq 1 ] && break
  kill -0 $ferry_pid 2>/dev/null || break
  sleep 0.01
done
wait $ferry_pid || { echo "launch_overhead: warm-up ferry run failed:" >&2; tail -20 "$tmp/warmup-ferry.log" >&2; exit 2; }
if [ $captured -eq 1 ]; then
  if cmp -s "$tmp/ferry.rankfile" "$rankfile" && cmp -s "$tmp/ferry.hostfile" "$hostfile"; then
    echo "  ferry's generated hostfile and rankfile: identical to the bare run's"
  else
    echo "launch_overhead: ferry's placement differs from the bare run's; ferry wrote:" >&2
    sed 's/^/    /' "$tmp/ferry.hostfile" "$tmp/ferry.rankfile" >&2
    exit 2
  fi
else
  echo "  warning: could not catch ferry's generated rankfile (job too short); placement not compared" >&2
fi
echo "warm-up (not counted): bare $wb s"

bare_times=() ferry_times=() ratios=()
for ((p = 1; p <= pairs; ++p)); do
  if ((p % 2)); then
    order="bare first"
    tb=$(run bare "$tmp/bare$p.log") || exit 2
    tf=$(run ferry "$tmp/ferry$p.log") || exit 2
  else
    order="ferry first"
    tf=$(run ferry "$tmp/ferry$p.log") || exit 2
    tb=$(run bare "$tmp/bare$p.log") || exit 2
  fi
  r=$(awk -v f="$tf" -v b="$tb" 'BEGIN { printf "%.4f", f / b }')
  printf 'pair %2d/%d  bare %s s  ferry %s s  ratio %s  (%s)\n' "$p" "$pairs" "$tb" "$tf" "$r" "$order"
  bare_times+=("$tb") ferry_times+=("$tf") ratios+=("$r")
done

m_bare=$(printf '%s\n' "${bare_times[@]}" | median)
m_ferry=$(printf '%s\n' "${ferry_times[@]}" | median)
m_pair=$(printf '%s\n' "${ratios[@]}" | median)
ratio=$(awk -v f="$m_ferry" -v b="$m_bare" 'BEGIN { printf "%.4f", f / b }')
extra=$(awk -v f="$m_ferry" -v b="$m_bare" 'BEGIN { printf "%.3f", f - b }')

echo
echo "summary ($pairs pairs, load average at end: $(load))"
echo "  bare   median $m_bare s  (range $(range "${bare_times[@]}"))"
echo "  ferry  median $m_ferry s  (range $(range "${ferry_times[@]}"))"
echo "  ferry - bare: $extra s per launch; median of per-pair ratios $m_pair"
if awk -v r="$ratio" -v t="$max_ratio" 'BEGIN { exit !(r <= t) }'; then
  echo "PASS: launch ratio ferry/bare $ratio <= $max_ratio"
  exit 0
fi
echo "FAIL: launch ratio ferry/bare $ratio > $max_ratio"
exit 1
