#!/usr/bin/env bash
# Whole-application overhead of ferry on examples/heat2d (linked with libferry for its checkpoint
# contract, which is inert while FERRY_ENABLE is unset): runs it alternately with ferry off and
# with ferry enabled, and compares
# the medians of heat2d's own timed loop ("heat2d: time X s") and of the whole mpirun wall time.
#
#   heat2d_overhead.sh [-p PAIRS] [-n N] [-i ITERATIONS] [-r RANKS] [-t MAX_RATIO]
#                      [-w WARMUPS] [-q QUIET_WAIT] [-f FOREIGN_PCT] [-R RETRIES] [BUILD_DIR]
#
#   -p  off/on pairs (default 5)            -n, -i  heat2d grid size and iterations (1024, 3000)
#   -r  ranks (default 4, --oversubscribe)  -t  pass threshold on the loop ratio (default 1.01)
#   -w  uncounted warm-up runs (default 1)  -q  before each run wait up to this many seconds for
#                                               the machine to be >= 90 % idle (default 120, 0 = no)
#   -f, -R  a run during which other processes used more than FOREIGN_PCT % of the machine
#       (default 5) is "disturbed"; its pair is run again, at most RETRIES times (default 2)
#   BUILD_DIR  default: ../build next to this script
#
#   off: mpirun --oversubscribe -np RANKS heat2d -n N -i ITERATIONS           (no LD_PRELOAD)
#   on:  the same with -x FERRY_ENABLE=1 -x FERRY_MONITOR_INTERVAL=1 -x FERRY_MONITOR_TABLE=0
#        -x LD_PRELOAD=BUILD_DIR/src/libferry.so, plus -x FERRY_MONITOR_REPORT=LOGS/onK.json
#        (written at MPI_Finalize, outside the timed loop) to check that ferry really ran
#
# PASS when median(on) / median(off) of the timed loop is <= MAX_RATIO (1 % by default).
# Exit status: 0 PASS, 1 FAIL, 2 usage or run error. Works as root (sets the OMPI_ALLOW_RUN_AS_ROOT
# variables). Needs only bash, awk and sort.
set -u

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
pairs=5
grid=1024
iterations=3000
ranks=4
max_ratio=1.01
warmup=1
quiet_wait=120
foreign_max=5
retries=2

usage() {
  sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

while getopts "p:n:i:r:t:w:q:f:R:h" opt; do
  case $opt in
    p) pairs=$OPTARG ;;
    n) grid=$OPTARG ;;
    i) iterations=$OPTARG ;;
    r) ranks=$OPTARG ;;
    t) max_ratio=$OPTARG ;;
    w) warmup=$OPTARG ;;
    q) quiet_wait=$OPTARG ;;
    f) foreign_max=$OPTARG ;;
    R) retries=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 1 ] && usage
[ $# -eq 1 ] && build_dir=$1
for v in "$pairs" "$grid" "$iterations" "$ranks" "$warmup" "$quiet_wait" "$foreign_max" "$retries"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "heat2d_overhead: not a number: $v" >&2; exit 2; }
done
[[ $max_ratio =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "heat2d_overhead: not a ratio: $max_ratio" >&2; exit 2; }
[ "$pairs" -ge 1 ] || { echo "heat2d_overhead: need at least one pair" >&2; exit 2; }

build_dir=$(cd "$build_dir" 2>/dev/null && pwd) || { echo "heat2d_overhead: no build directory $build_dir" >&2; exit 2; }
heat2d=$build_dir/examples/heat2d
libferry=$build_dir/src/libferry.so
[ -x "$heat2d" ] || { echo "heat2d_overhead: $heat2d missing (make heat2d)" >&2; exit 2; }
[ -f "$libferry" ] || { echo "heat2d_overhead: $libferry missing (make ferry)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "heat2d_overhead: mpirun not found" >&2; exit 2; }

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Locally launched ranks inherit mpirun's environment: "off" must really be off.
unset FERRY_ENABLE LD_PRELOAD

logs=$(mktemp -d "${TMPDIR:-/tmp}/heat2d_overhead.XXXXXX")
mpirun_args=(--oversubscribe -np "$ranks")
app_args=(-n "$grid" -i "$iterations")
ferry_args=(-x FERRY_ENABLE=1 -x FERRY_MONITOR_INTERVAL=1 -x FERRY_MONITOR_TABLE=0 -x "LD_PRELOAD=$libferry")
clk_tck=$(getconf CLK_TCK)
ncpu=$(getconf _NPROCESSORS_ONLN)

now() { date +%s.%N; }

# Busy CPU time of the whole machine so far, in clock ticks (user nice system irq softirq steal).
busy_ticks() { awk 'NR == 1 { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# CPU seconds of finished children (and theirs: mpirun waits for its ranks) in a file holding the
# output of `times`. `times` itself must run in the shell that waited for them, not in $(...).
child_seconds() {
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.3f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"
}

# Percentage of CPU time the whole machine spent idle over the last second.
idle_percent() {
  local a b
  a=$(head -1 /proc/stat)
  sleep 1
  b=$(head -1 /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {
    n = split(a, x); split(b, y); total = 0
    for (i = 2; i <= n; ++i) total += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    pct = (total > 0) ? 100 * idle / total : 100
    printf "%d\n", pct }'
}

# The machine may be shared: before each run wait (up to quiet_wait seconds) until it is idle.
wait_quiet() {
  [ "$quiet_wait" -gt 0 ] || return 0
  local waited=0 idle
  while idle=$(idle_percent); [ "$idle" -lt 90 ]; do
    waited=$((waited + 1))
    if [ $waited -ge "$quiet_wait" ]; then
      echo "  warning: machine still busy (${idle}% idle) after ${quiet_wait}s; running anyway" >&2
      return 0
    fi
  done
}

# run MODE LOG: one mpirun; prints "LOOP_SECONDS WALL_SECONDS CHECKSUM FOREIGN_PCT", or fails.
# FOREIGN_PCT: share of the machine's CPU that processes other than this run used meanwhile.
run() {
  local mode=$1 log=$2 t0 t1 b0 b1 c0 c1 rc
  wait_quiet
  times >"$log.times0"
  c0=$(child_seconds "$log.times0")
  b0=$(busy_ticks)
  t0=$(now)
  if [ "$mode" = on ]; then
    mpirun "${mpirun_args[@]}" "${ferry_args[@]}" -x "FERRY_MONITOR_REPORT=${log%.log}.json" "$heat2d" "${app_args[@]}" >"$log" 2>&1
  else
    mpirun "${mpirun_args[@]}" "$heat2d" "${app_args[@]}" >"$log" 2>&1
  fi
  rc=$?
  t1=$(now)
  b1=$(busy_ticks)
  times >"$log.times1"
  c1=$(child_seconds "$log.times1")
  [ $rc -eq 0 ] || { echo "heat2d_overhead: $mode run failed (exit $rc), see $log:" >&2; tail -20 "$log" >&2; return 1; }
  awk -v t0="$t0" -v t1="$t1" -v b0="$b0" -v b1="$b1" -v c0="$c0" -v c1="$c1" -v hz="$clk_tck" -v ncpu="$ncpu" '
    /^heat2d: time / { loop = $3 }
    /^heat2d: n=/ { for (i = 1; i <= NF; ++i) if ($i ~ /^checksum=/) sum = substr($i, 10) }
    END {
      if (loop == "") exit 1
      wall = t1 - t0
      foreign = ((b1 - b0) / hz - (c1 - c0)) / (wall * ncpu) * 100
      if (foreign < 0) foreign = 0
      printf "%s %.3f %s %.1f\n", loop, wall, sum, foreign }' "$log" ||
    { echo "heat2d_overhead: no \"heat2d: time\" line in $log" >&2; return 1; }
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
min() { printf '%s\n' "$@" | sort -g | head -1; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s .. %s", lo, hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

echo "heat2d overhead: $pairs pairs, $ranks ranks, heat2d -n $grid -i $iterations, threshold $max_ratio"
echo "  off: mpirun ${mpirun_args[*]} $heat2d ${app_args[*]}"
echo "  on:  mpirun ${mpirun_args[*]} ${ferry_args[*]} -x FERRY_MONITOR_REPORT=LOGS/onK.json $heat2d ${app_args[*]}"
echo "  logs: $logs"

for ((w = 1; w <= warmup; ++w)); do
  r=$(run off "$logs/warmup$w.log") || exit 2
  echo "warm-up $w/$warmup (off, not counted): loop ${r%% *} s"
done

off_loop=() on_loop=() off_wall=() on_wall=() ratios=() wall_ratios=()
checksum_ok=1 disturbed=0 repeated=0
for ((p = 1; p <= pairs; ++p)); do
  for ((attempt = 0; ; ++attempt)); do
    tag=$p
    [ "$attempt" -gt 0 ] && tag=$p.$attempt
    r_off=$(run off "$logs/off$tag.log") || exit 2
    read -r lo wo so fo <<<"$r_off"
    echo "pair $p/$pairs  off: loop $lo s, wall $wo s   (other processes: $fo % of the machine)"
    r_on=$(run on "$logs/on$tag.log") || exit 2
    read -r ln wn sn fn <<<"$r_on"
    echo "pair $p/$pairs  on:  loop $ln s, wall $wn s   (other processes: $fn % of the machine)"
    if above "$fo" "$foreign_max" || above "$fn" "$foreign_max"; then
      if [ "$attempt" -lt "$retries" ]; then
        echo "              disturbed by other processes: running pair $p again"
        repeated=$((repeated + 1))
        continue
      fi
      echo "              disturbed by other processes, $retries retries used: kept"
      disturbed=$((disturbed + 1))
    fi
    break
  done
  report=$logs/on$tag.json
  if [ -s "$report" ]; then
    seen=$(grep -c '"rank":' "$report")
    calls=$(awk -F'[:,]' '/"calls":/ { n += $2 } END { printf "%d", n }' "$report")
    [ "$seen" -eq "$ranks" ] || echo "  warning: ferry reported $seen of $ranks ranks ($report)" >&2
  else
    echo "  warning: no ferry report $report: was ferry enabled?" >&2
    seen=0 calls=0
  fi
  [ "$so" = "$sn" ] || { checksum_ok=0; echo "  warning: checksums differ: off $so, on $sn" >&2; }
  r=$(ratio "$ln" "$lo")
  rw=$(ratio "$wn" "$wo")
  echo "              ratio on/off: loop $r, wall $rw; ferry: $seen/$ranks ranks reported, $calls intercepted calls"
  off_loop+=("$lo") on_loop+=("$ln") off_wall+=("$wo") on_wall+=("$wn") ratios+=("$r") wall_ratios+=("$rw")
done

m_off=$(printf '%s\n' "${off_loop[@]}" | median)
m_on=$(printf '%s\n' "${on_loop[@]}" | median)
m_off_wall=$(printf '%s\n' "${off_wall[@]}" | median)
m_on_wall=$(printf '%s\n' "${on_wall[@]}" | median)
m_ratio=$(printf '%s\n' "${ratios[@]}" | median)
m_wall_ratio=$(printf '%s\n' "${wall_ratios[@]}" | median)
loop_ratio=$(ratio "$m_on" "$m_off")
wall_ratio=$(ratio "$m_on_wall" "$m_off_wall")
f_off=$(min "${off_loop[@]}")
f_on=$(min "${on_loop[@]}")

echo
echo "summary ($pairs pairs; $repeated repeated because disturbed, $disturbed kept although disturbed)"
echo "  timed loop  median off $m_off s, on $m_on s   ratio $loop_ratio  (off range $(range "${off_loop[@]}"), on range $(range "${on_loop[@]}"))"
echo "  wall time   median off $m_off_wall s, on $m_on_wall s   ratio $wall_ratio"
echo "  fastest run off $f_off s, on $f_on s   ratio $(ratio "$f_on" "$f_off")  (least disturbed runs; informative)"
echo "  per-pair loop ratios: ${ratios[*]}   (median $m_ratio)"
echo "  per-pair wall ratios: ${wall_ratios[*]}   (median $m_wall_ratio)"
[ $checksum_ok -eq 1 ] && echo "  checksums: identical in every run"
if above "$loop_ratio" "$max_ratio"; then
  echo "FAIL: timed-loop overhead ratio $loop_ratio > $max_ratio"
  exit 1
fi
echo "PASS: timed-loop overhead ratio $loop_ratio <= $max_ratio"
exit 0
