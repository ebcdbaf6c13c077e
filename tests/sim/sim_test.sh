#!/usr/bin/env bash
# shellcheck disable=SC2016,SC1091 # checks are single-quoted for eval on purpose; env files are generated
# Tests tools/ferry-sim, the simulated cluster, with real mpirun jobs:
#   as root: recipe A (UTS namespace + cgroup per node), recipe B (--netns), usage errors,
#   throttle/unthrottle under a CPU-burning job, fail, down, crash recovery;
#   recipe C (no root) as a throwaway user `ferrysimtest` (created if missing, removed at the end).
# Run as a non-root user, only recipe C is tested (as that user).
# Last line: "N passed, M failed"; exit status non-zero on any failure. Takes about 1-2 minutes.
set -uo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
SIM="$root/tools/ferry-sim"
CG=/sys/fs/cgroup/cpu/ferry-sim
TUSER=ferrysimtest
TUSER_GECOS="ferry-sim test (throwaway)"

pass=0 failed=0
ok() {
  pass=$((pass + 1))
  echo "ok   - $*"
}
bad() {
  failed=$((failed + 1))
  echo "FAIL - $*"
}
# check DESC CMD...: CMD succeeding is a pass.
check() {
  local desc="$1"
  shift
  if "$@"; then ok "$desc"; else bad "$desc"; fi
}
note() { echo "# $*"; }

T="$(mktemp -d /tmp/ferry-sim-test.XXXXXX)"
chmod 755 "$T"
A="$T/a" # recipe A state dir
B="$T/b" # recipe B state dir
BG=()    # PIDs of background jobs this test started
created_user=0

cleanup() {
  local pid
  for pid in ${BG[@]+"${BG[@]}"}; do kill -KILL "$pid" 2>/dev/null || true; done
  if [ "$(id -u)" -eq 0 ]; then
    "$SIM" down --dir "$A" >/dev/null 2>&1 || true
    "$SIM" down --dir "$B" >/dev/null 2>&1 || true
    if id "$TUSER" >/dev/null 2>&1; then
      as_user "\"$SIM\" down" >/dev/null 2>&1 || true
      if [ "$created_user" = 1 ] || [ "$(getent passwd "$TUSER" | cut -d: -f5)" = "$TUSER_GECOS" ]; then
        userdel -r "$TUSER" >/dev/null 2>&1 || true
      fi
    fi
  else
    "$SIM" down >/dev/null 2>&1 || true
  fi
  rm -rf "$T"
}
on_exit() {
  local rc=$?
  trap - EXIT
  cleanup
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then bad "test script aborted (exit $rc)"; fi
  echo "$pass passed, $failed failed"
  [ "$failed" -eq 0 ]
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# run CMD...: runs it, capturing stdout+stderr in $OUT and the status in $RC.
OUT="" RC=0
run() {
  OUT="$("$@" 2>&1)"
  RC=$?
}
has() { grep -qF -- "$1" <<<"$OUT"; }
# expect_error DESC RC NEEDLE... CMD: exit status RC and every NEEDLE in the message.
expect_error() {
  local desc="$1" want="$2"
  shift 2
  local needles=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    needles+=("$1")
    shift
  done
  shift
  run "$@"
  local n miss=""
  for n in "${needles[@]}"; do has "$n" || miss+=" '$n'"; done
  if [ "$RC" -eq "$want" ] && [ -z "$miss" ]; then
    ok "$desc"
  else
    bad "$desc (exit $RC, want $want; missing:${miss:- none}): $OUT"
  fi
}

wait_for() { # TIMEOUT_S CMD...: poll every 0.1 s
  local deadline=$((SECONDS + $1))
  shift
  while ! "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}
# wait_pid PID TIMEOUT_S: wait for a background job, sets WRC (124 on timeout).
wait_pid() {
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL "$1" 2>/dev/null
      wait "$1" 2>/dev/null
      WRC=124
      return 1
    fi
    sleep 0.1
  done
  wait "$1" 2>/dev/null
  WRC=$?
}

# recorded_orted DIR NODE: is a PID recorded in nodes/NODE/pids a live orted?
recorded_orted() {
  local pid _
  while read -r pid _; do
    [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = orted ] && return 0
  done <"$1/nodes/$2/pids"
  return 1
}
procs_in() { if [ -r "$CG/$1/cgroup.procs" ]; then sort -u "$CG/$1/cgroup.procs" | wc -l; else echo 0; fi; }
at_least() { [ "$(procs_in "$1")" -ge "$2" ]; }
# Processes carrying a cluster's tag (every orted and rank of that cluster has it).
tagged() { grep -lzxF -- "FERRY_SIM_STATE=$1" /proc/[0-9]*/environ 2>/dev/null | grep -vc "^/proc/$$/"; }
no_tagged() { [ "$(tagged "$1")" -eq 0 ]; }
all_cgroups_empty() {
  local n
  for n in node01 node02 node03; do [ "$(procs_in "$n")" -eq 0 ] || return 1; done
}

# An MPI program that really talks between the nodes: a ring exchange plus an allreduce.
RING=""
build_ring() {
  command -v mpicc >/dev/null || return 1
  cat >"$T/ring.c" <<'EOF'
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int r, n, x, y, sum;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  char h[256];
  gethostname(h, sizeof h);
  x = r;
  MPI_Sendrecv(&x, 1, MPI_INT, (r + 1) % n, 0, &y, 1, MPI_INT, (r + n - 1) % n, 0,
               MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Allreduce(&x, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  const char *node = getenv("FERRY_SIM_NODE");
  printf("rank %d host %s node %s got %d ok %d\n", r, h, node ? node : "-", y,
         y == (r + n - 1) % n && sum == n * (n - 1) / 2);
  MPI_Finalize();
  return 0;
}
EOF
  mpicc -O1 -o "$T/ring" "$T/ring.c" >"$T/ring.log" 2>&1 || return 1
  chmod 755 "$T/ring"
  RING="$T/ring"
}

# check_ring DESC NP HOSTCHECK OUTPUT: NP lines, all ok, hostname == node when HOSTCHECK=1.
check_ring() {
  local desc="$1" np="$2" hostcheck="$3" out="$4"
  local lines good
  lines="$(grep -c '^rank ' <<<"$out")"
  good="$(awk -v hc="$hostcheck" '/^rank / && $NF == 1 && $6 ~ /^node0[1-9]$/ && (hc == 0 || $4 == $6) { n++ } END { print n + 0 }' <<<"$out")"
  if [ "$lines" -eq "$np" ] && [ "$good" -eq "$np" ]; then ok "$desc"; else bad "$desc: $out"; fi
}

# The CPU burner: each rank idles 1 s (so the test, whose shell competes with the burners for the
# CPU, can apply the throttle while the job runs), spins until 4.8 s and prints
# "node cpu_seconds wall_seconds" over the window 1.8 s .. 4.8 s after its start.
BURN='use Time::HiRes qw(time sleep); my $t0 = time; sleep 1; 1 while time - $t0 < 1.8; my @a = times;
my $c0 = $a[0] + $a[1]; my $w0 = time; 1 while time - $t0 < 4.8; @a = times;
printf "%s %.3f %.3f\n", $ENV{FERRY_SIM_NODE}, $a[0] + $a[1] - $c0, time - $w0;'

# burn DIR THROTTLE: runs a 3-rank burner (one per node), throttling node02 to 0.25 as soon as
# its rank is running when THROTTLE=1. Sets RATIO (node02 CPU / mean CPU of the others) and
# SHARE (node02's CPU / wall time).
RATIO="" SHARE=""
burn() {
  local dir="$1" throttle="$2" out pid
  (
    . "$dir/env"
    exec timeout 60 mpirun -np 3 --map-by node perl -e "$BURN" >"$T/burn.out" 2>&1
  ) &
  pid=$!
  BG+=("$pid")
  if [ "$throttle" = 1 ]; then
    wait_for 20 at_least node02 2 || note "node02's rank did not show up in its cgroup"
    run "$SIM" throttle --dir "$dir" node02 0.25
    [ "$RC" -eq 0 ] || note "throttle failed: $OUT"
  fi
  wait_pid "$pid" 60
  out="$(cat "$T/burn.out")"
  note "burn (throttle=$throttle): $(tr '\n' ';' <<<"$out")"
  RATIO="$(awk '$1 == "node02" { t = $2; w = $3 } $1 ~ /^node0[13]$/ { o += $2; n++ }
    END { if (n == 2 && o > 0) printf "%.3f", t / (o / n); else print "nan" }' <<<"$out")"
  SHARE="$(awk '$1 == "node02" && $3 > 0 { printf "%.3f", $2 / $3 }' <<<"$out")"
  [ -n "$SHARE" ] || SHARE=nan
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "nan" && a + 0 < b + 0) }'; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "nan" && a + 0 > b + 0) }'; }

as_user() { # CMD: run a bash command line as the throwaway user, with a clean environment
  runuser -u "$TUSER" -- env -i HOME="/home/$TUSER" USER="$TUSER" LOGNAME="$TUSER" \
    PATH=/usr/local/bin:/usr/bin:/bin bash -c "cd /tmp && $1"
}

# ---------------------------------------------------------------------------------------------
note "ferry-sim test in $T ($(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg))"
build_ring || note "mpicc missing or failed: skipping the MPI ring checks ($T/ring.log)"

# --- usage and input errors (no cluster needed) ------------------------------------------------
run "$SIM" --help
if [ "$RC" -eq 0 ] && has "up N" && has "show [--json]" && has "throttle NODE FRACTION" && has "unthrottle NODE" &&
  has "fail NODE" && has "down" && has "exec [--] CMD" && has "env"; then
  ok "--help exits 0 and describes every command"
else
  bad "--help: exit $RC: $OUT"
fi
run "$SIM" up --help
check "up --help exits 0" [ "$RC" -eq 0 ]
expect_error "no command: usage error" 2 "missing COMMAND" -- "$SIM"
expect_error "unknown command: usage error naming it and the valid ones" 2 "unknown command 'frobnicate'" "up, show" -- "$SIM" frobnicate
expect_error "up without N: usage error" 2 "missing N" -- "$SIM" up --dir "$A"
expect_error "up abc: usage error" 2 "invalid N 'abc'" "1 to 99" -- "$SIM" up abc --dir "$A"
expect_error "up 0: usage error" 2 "invalid N '0'" -- "$SIM" up 0 --dir "$A"
expect_error "up 3 --slots 0: usage error" 2 "invalid --slots '0'" -- "$SIM" up 3 --slots 0 --dir "$A"
expect_error "up with an unknown option: usage error" 2 "unknown option '--bogus'" -- "$SIM" up 3 --bogus --dir "$A"
expect_error "show without a cluster: error saying so" 1 "no cluster at $A" "ferry-sim up N" -- "$SIM" show --dir "$A"
check "a failed up leaves no state dir" [ ! -e "$A" ]

if [ "$(id -u)" -eq 0 ]; then
  # --- recipe A ---------------------------------------------------------------------------
  if [ -d "$CG" ]; then
    bad "$CG already exists: another ferry-sim cluster is up on this machine; run 'tools/ferry-sim down' first"
    exit 1
  fi
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  expect_error "up 3 --cpu node05=0.5: unknown node" 2 "unknown node 'node05'" "node01 node02 node03" -- "$SIM" up 3 --cpu node05=0.5 --dir "$A"

  run "$SIM" up 3 --dir "$A"
  check "up 3 succeeds" [ "$RC" -eq 0 ]
  check "hostfile has node01..node03 with 2 slots" [ "$(cat "$A/hostfile" 2>/dev/null)" = $'node01 slots=2\nnode02 slots=2\nnode03 slots=2' ]
  check "agent is executable" [ -x "$A/agent" ]
  check "storage dirs exist" eval '[ -d "$A/nodes/node01/storage" ] && [ -d "$A/nodes/node03/storage" ]'
  run cat "$A/env"
  if has "OMPI_MCA_plm_rsh_agent=$A/agent" && has "OMPI_MCA_orte_default_hostfile=$A/hostfile" &&
    has "export OMPI_ALLOW_RUN_AS_ROOT=1" && has "export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"; then
    ok "env file exports agent, hostfile and the run-as-root vars"
  else
    bad "env file: $OUT"
  fi
  run "$SIM" env --dir "$A"
  check "ferry-sim env prints the env file" [ "$OUT" = "$(cat "$A/env")" ]
  check "cgroups node01..node03: period 100000, quota -1" \
    [ "$(cat "$CG"/node0{1,2,3}/cpu.cfs_period_us "$CG"/node0{1,2,3}/cpu.cfs_quota_us 2>/dev/null | paste -sd' ')" = "100000 100000 100000 -1 -1 -1" ]

  "$SIM" throttle --dir "$A" node01 0.5 >/dev/null
  run "$SIM" up 3 --dir "$A"
  check "up 3 again: no-op (says so, keeps node01's quota)" eval '[ "$RC" -eq 0 ] && has "already up" && [ "$(cat "$CG/node01/cpu.cfs_quota_us")" = 50000 ]'
  "$SIM" unthrottle --dir "$A" node01 >/dev/null
  expect_error "up 2 on a 3-node cluster: error telling to run down" 1 "already up" "ferry-sim down" -- "$SIM" up 2 --dir "$A"
  expect_error "up 3 --slots 4 on a 2-slot cluster: error" 1 "ferry-sim down" -- "$SIM" up 3 --slots 4 --dir "$A"

  expect_error "throttle unknown node: error listing the valid nodes" 2 "unknown node 'node09'" "node01 node02 node03" -- "$SIM" throttle --dir "$A" node09 0.5
  expect_error "throttle FRACTION 0: error with the valid range" 2 "invalid FRACTION '0'" "(0, $(nproc)]" -- "$SIM" throttle --dir "$A" node02 0
  expect_error "throttle FRACTION 5: error with the valid range" 2 "invalid FRACTION '5'" "(0, $(nproc)]" -- "$SIM" throttle --dir "$A" node02 5
  expect_error "throttle FRACTION abc: error with the valid range" 2 "invalid FRACTION 'abc'" "(0, $(nproc)]" -- "$SIM" throttle --dir "$A" node02 abc
  expect_error "throttle without FRACTION: usage error" 2 "expected NODE FRACTION" -- "$SIM" throttle --dir "$A" node02
  expect_error "unthrottle unknown node: error" 2 "unknown node 'nodeX'" -- "$SIM" unthrottle --dir "$A" nodeX
  expect_error "fail unknown node: error" 2 "unknown node 'node00'" -- "$SIM" fail --dir "$A" node00

  # The agent, called the way mpirun's rsh launcher (or ssh-style callers) would.
  run "$A/agent" -x -o BatchMode=yes -p 22 -oFoo=bar node02 echo '$(hostname)' '$FERRY_SIM_NODE' '$FERRY_NODE_DIR'
  check "agent skips ssh options and runs on node02 (hostname, env)" [ "$OUT" = "node02 node02 $A/nodes/node02/storage" ]
  expect_error "agent with an unknown host: exit 255 naming it" 255 "unknown node 'node07'" -- "$A/agent" node07 true

  # The hostname job.
  run bash -c ". '$A/env' && timeout 60 mpirun -np 6 --map-by node sh -c 'echo \$(hostname) \$FERRY_SIM_NODE \$FERRY_NODE_DIR \$(grep :cpu: /proc/self/cgroup)'"
  want=""
  for n in node01 node01 node02 node02 node03 node03; do want+="$n $n $A/nodes/$n/storage 1:cpu:/ferry-sim/$n"$'\n'; done
  got="$(sort <<<"$OUT" | sed 's/ [0-9]*:cpu:/ 1:cpu:/')"
  check "6 ranks on node01..node03: own hostname, FERRY_SIM_NODE, FERRY_NODE_DIR and cgroup" [ "$got" = "${want%$'\n'}" ]
  [ "$got" = "${want%$'\n'}" ] || note "got: $OUT"
  if [ -n "$RING" ]; then
    run bash -c ". '$A/env' && timeout 60 mpirun -np 6 --map-by node '$RING'"
    check_ring "MPI ring + allreduce across 3 nodes (recipe A)" 6 1 "$OUT"
  fi

  run "$SIM" show --dir "$A"
  check "show lists the nodes, slots, cpu, recipe and state dir" eval 'has "node03" && has "unlimited" && has "recipe:    A" && has "$A"'
  run "$SIM" show --json --dir "$A"
  if command -v jq >/dev/null; then
    check "show --json is valid JSON with 3 nodes" eval '[ "$(jq -r "\"\(.nodes | length) \(.nodes[1].cpu) \(.recipe)\"" <<<"$OUT" 2>&1)" = "3 unlimited A" ]'
  elif command -v python3 >/dev/null; then
    check "show --json is valid JSON with 3 nodes" eval '[ "$(python3 -c "import json,sys; d=json.load(sys.stdin); print(len(d[\"nodes\"]), d[\"nodes\"][1][\"cpu\"], d[\"recipe\"])" <<<"$OUT" 2>&1)" = "3 unlimited A" ]'
  else
    note "neither jq nor python3: show --json not validated"
  fi

  # Throttle while a CPU-burning job runs. Other jobs on this machine compete for the 2 cores;
  # give the cluster's subtree a large weight for the measurement so that node02's cap, not the
  # machine's load, decides who gets what (this briefly starves everything else, the test's own
  # shell included, hence the burner's idle first second).
  shares="$(cat "$CG/cpu.shares")"
  echo 262144 >"$CG/cpu.shares"
  for attempt in 1 2; do
    "$SIM" unthrottle --dir "$A" node02 >/dev/null
    burn "$A" 1
    lt "$RATIO" 0.5 && lt "$SHARE" 0.32 && break
    note "attempt $attempt: ratio $RATIO, share $SHARE; retrying"
  done
  check "throttle node02 0.25 mid-job: node02 gets $SHARE of a core, $RATIO of the others (< 0.5)" eval 'lt "$RATIO" 0.5 && lt "$SHARE" 0.32'
  check "throttle wrote cfs_quota_us 25000" [ "$(cat "$CG/node02/cpu.cfs_quota_us")" = 25000 ]
  run "$SIM" show --dir "$A"
  check "show reports node02 at 0.25" eval 'grep -qE "^node02 +2 +0.25 " <<<"$OUT"'
  run "$SIM" unthrottle --dir "$A" node02
  check "unthrottle sets quota -1" eval '[ "$RC" -eq 0 ] && [ "$(cat "$CG/node02/cpu.cfs_quota_us")" = -1 ]'
  for attempt in 1 2; do
    burn "$A" 0
    gt "$RATIO" 0.7 && break
    note "attempt $attempt: ratio $RATIO; retrying"
  done
  check "after unthrottle node02 gets its share again ($RATIO of the others, > 0.7)" gt "$RATIO" 0.7
  echo "$shares" >"$CG/cpu.shares"

  # fail: kill node02 under a running job.
  (
    . "$A/env"
    exec timeout 60 mpirun -np 6 --map-by node sleep 60 >"$T/fail.out" 2>&1
  ) &
  job=$!
  BG+=("$job")
  if wait_for 20 eval 'at_least node01 3 && at_least node02 3 && at_least node03 3'; then ok "sleep job: orted + 2 ranks in each node's cgroup"; else bad "sleep job did not start: $(cat "$T/fail.out")"; fi
  check "nodes/node02/pids records node02's orted" recorded_orted "$A" node02
  run "$SIM" show --dir "$A"
  check "show counts 3 live processes on node02" eval 'grep -qE "^node02 +2 +unlimited +3 " <<<"$OUT"'
  run "$SIM" fail --dir "$A" node02
  check "fail node02 reports 3 processes killed" eval '[ "$RC" -eq 0 ] && has "killed 3 process"'
  wait_pid "$job" 20
  check "the mpirun job ends, non-zero (exit $WRC)" eval '[ "$WRC" -ne 0 ] && [ "$WRC" -ne 124 ]'
  check "no leftover processes in any node cgroup" wait_for 10 all_cgroups_empty
  check "no leftover processes of the cluster (orted/ranks)" wait_for 10 no_tagged "$A"

  # Crash recovery: the state dir vanishes under a running job.
  (
    . "$A/env"
    exec timeout 60 mpirun -np 6 --map-by node sleep 60 >/dev/null 2>&1
  ) &
  job=$!
  BG+=("$job")
  wait_for 20 eval 'at_least node01 3 && at_least node02 3 && at_least node03 3'
  rm -rf "$A"
  expect_error "crash (state dir lost, processes live): up refuses, tells to run down" 1 "live processes" "ferry-sim down" -- "$SIM" up 3 --dir "$A"
  run "$SIM" down --dir "$A"
  check "crash: down kills the leftovers and removes the cgroups" eval '[ "$RC" -eq 0 ] && [ ! -d "$CG" ] && no_tagged "$A"'
  wait_pid "$job" 20
  check "crash: the orphaned job ended" [ "$WRC" -ne 124 ]
  "$SIM" up 3 --dir "$A" >/dev/null 2>&1
  rm -rf "$A"
  run "$SIM" up 3 --dir "$A"
  check "crash (state dir lost, cgroups left empty): up recovers" eval '[ "$RC" -eq 0 ] && has "reclaimed" && [ -f "$A/env" ] && [ -d "$CG/node03" ]'
  (
    . "$A/env"
    exec timeout 60 mpirun -np 6 --map-by node sleep 60 >/dev/null 2>&1
  ) &
  job=$!
  BG+=("$job")
  wait_for 20 eval 'at_least node01 3 && at_least node02 3 && at_least node03 3'
  kill -KILL "$job" # mpirun dies; its orteds and ranks follow
  wait "$job" 2>/dev/null
  wait_for 10 all_cgroups_empty
  run "$SIM" up 3 --dir "$A"
  check "crash (processes gone, state dir intact): up is a no-op" eval '[ "$RC" -eq 0 ] && has "already up"'
  run bash -c ". '$A/env' && timeout 60 mpirun -np 6 --map-by node hostname"
  check "a job runs after the recoveries" [ "$(sort <<<"$OUT" | uniq -c | awk '{print $1 $2}' | paste -sd' ')" = "2node01 2node02 2node03" ]

  run "$SIM" down --dir "$A"
  check "down succeeds" [ "$RC" -eq 0 ]
  check "down: no $CG, no state dir, no stray orted/ranks" eval '[ ! -d "$CG" ] && [ ! -e "$A" ] && no_tagged "$A"'
  run "$SIM" down --dir "$A"
  check "down again: no-op" eval '[ "$RC" -eq 0 ] && has "nothing to clean up"'

  # --- recipe B (--netns) -------------------------------------------------------------------
  if ls /run/netns/ferry-sim-* >/dev/null 2>&1; then
    bad "network namespaces ferry-sim-* already exist; skipping recipe B"
  else
    run "$SIM" up 3 --netns --dir "$B"
    check "up 3 --netns succeeds" [ "$RC" -eq 0 ]
    check "namespaces head, fabric, node01..node03 exist" eval '[ "$(ip netns list | grep -oE "^ferry-sim-[a-z0-9]+" | sort | paste -sd" ")" = "ferry-sim-fabric ferry-sim-head ferry-sim-node01 ferry-sim-node02 ferry-sim-node03" ]'
    check "env sets btl/oob_tcp_if_include=fsim0" eval 'grep -q "OMPI_MCA_btl_tcp_if_include=fsim0" "$B/env" && grep -q "OMPI_MCA_oob_tcp_if_include=fsim0" "$B/env"'
    check "the 10.213.0.0/24 addresses do not exist in the host namespace" eval '! ip -br addr | grep -q "10\.213\."'
    expect_error "up 3 (no --netns) on a --netns cluster: error" 1 "ferry-sim down" -- "$SIM" up 3 --dir "$B"
    run "$SIM" up 3 --netns --dir "$B"
    check "up 3 --netns again: no-op" eval '[ "$RC" -eq 0 ] && has "already up"'
    run "$SIM" exec --dir "$B" -- timeout 60 mpirun -np 6 --map-by node sh -c 'echo $(hostname) $FERRY_SIM_NODE $(ip -4 -o addr show fsim0 | awk "{print \$4}")'
    want=""
    for i in 1 1 2 2 3 3; do want+="node0$i node0$i 10.213.0.1$i/24"$'\n'; done
    check "netns: 6 ranks on node01..node03 with their hostnames and addresses" [ "$(sort <<<"$OUT")" = "${want%$'\n'}" ]
    if [ -n "$RING" ]; then
      run "$SIM" exec --dir "$B" -- timeout 60 mpirun -np 6 --map-by node "$RING"
      check_ring "MPI ring + allreduce across 3 network namespaces (recipe B)" 6 1 "$OUT"
    fi
    run "$SIM" show --dir "$B"
    check "show lists the node addresses" eval 'has "10.213.0.12" && has "recipe:    B"'
    "$SIM" exec --dir "$B" -- timeout 60 mpirun -np 6 --map-by node sleep 60 >/dev/null 2>&1 &
    job=$!
    BG+=("$job")
    wait_for 20 eval 'at_least node01 3 && at_least node02 3 && at_least node03 3'
    run "$SIM" fail --dir "$B" node02
    check "netns: fail node02 kills its 3 processes" has "killed 3 process"
    wait_pid "$job" 20
    check "netns: the job ends non-zero (exit $WRC)" eval '[ "$WRC" -ne 0 ] && [ "$WRC" -ne 124 ]'
    check "netns: no leftover processes" wait_for 10 no_tagged "$B"
    run "$SIM" down --dir "$B"
    check "netns: down removes namespaces, cgroups and state dir" eval '[ "$RC" -eq 0 ] && ! ip netns list | grep -q "^ferry-sim-" && [ ! -d "$CG" ] && [ ! -e "$B" ]'
  fi

  # --- recipe C, as a throwaway user -------------------------------------------------------
  if ! id "$TUSER" >/dev/null 2>&1; then
    useradd -m -c "$TUSER_GECOS" -s /bin/bash "$TUSER" && created_user=1
  fi
  if ! id "$TUSER" >/dev/null 2>&1; then
    bad "could not create user $TUSER; recipe C not tested"
    exit 1
  fi
  UDIR="/tmp/ferry-sim-$(id -u "$TUSER")"
  as_user "\"$SIM\" down" >/dev/null 2>&1
  run as_user "\"$SIM\" up 2"
  check "as $TUSER: up 2 succeeds (recipe C, default dir $UDIR)" eval '[ "$RC" -eq 0 ] && has "recipe C" && [ -f "$UDIR/env" ]'
  check "as $TUSER: env has no run-as-root vars" eval '! grep -q OMPI_ALLOW_RUN_AS_ROOT "$UDIR/env"'
  run as_user "\"$SIM\" up 2"
  check "as $TUSER: up 2 again is a no-op" has "already up"
  run as_user "eval \"\$(\"$SIM\" env)\" && timeout 60 mpirun -np 4 sh -c 'echo \$FERRY_SIM_NODE \$FERRY_NODE_DIR \$OMPI_MCA_orte_tmpdir_base'"
  want="node01 $UDIR/nodes/node01/storage $UDIR/nodes/node01/tmp"$'\n'"node01 $UDIR/nodes/node01/storage $UDIR/nodes/node01/tmp"$'\n'
  want+="node02 $UDIR/nodes/node02/storage $UDIR/nodes/node02/tmp"$'\n'"node02 $UDIR/nodes/node02/storage $UDIR/nodes/node02/tmp"
  check "as $TUSER: a 4-rank job completes on node01, node02 (per-node dirs)" eval '[ "$RC" -eq 0 ] && [ "$(sort <<<"$OUT")" = "$want" ]'
  [ "$(sort <<<"$OUT")" = "$want" ] || note "got (exit $RC): $OUT"
  if [ -n "$RING" ]; then
    run as_user "eval \"\$(\"$SIM\" env)\" && timeout 60 mpirun -np 4 '$RING'"
    check_ring "as $TUSER: MPI ring + allreduce, 4 ranks on 2 nodes (shared memory + TCP)" 4 0 "$OUT"
  fi
  expect_error "as $TUSER: throttle says it needs root" 1 "needs root" -- as_user "\"$SIM\" throttle node01 0.5"
  expect_error "as $TUSER: up --netns says it needs root" 1 "needs root" -- as_user "\"$SIM\" up 2 --netns --dir /tmp/ferry-sim-netns-\$(id -u)"
  as_user "eval \"\$(\"$SIM\" env)\" && exec timeout 60 mpirun -np 4 sleep 60" >/dev/null 2>&1 &
  job=$!
  BG+=("$job")
  wait_for 20 eval 'as_user "\"$SIM\" show" | grep -qE "^node02 +2 +unlimited +3 "'
  check "as $TUSER: nodes/node02/pids records node02's orted" recorded_orted "$UDIR" node02
  run as_user "\"$SIM\" fail node02"
  check "as $TUSER: fail node02 kills its processes by recorded PID" eval '[ "$RC" -eq 0 ] && has "killed 3 process"'
  wait_pid "$job" 20
  check "as $TUSER: the job ends non-zero (exit $WRC)" eval '[ "$WRC" -ne 0 ] && [ "$WRC" -ne 124 ]'
  check "as $TUSER: no leftover processes" wait_for 10 no_tagged "$UDIR"
  run as_user "\"$SIM\" down"
  check "as $TUSER: down removes the state dir" eval '[ "$RC" -eq 0 ] && [ ! -e "$UDIR" ]'
else
  # Not root: recipe C as the current user, in a private state dir.
  note "not root: testing recipe C only"
  C="$T/c"
  run "$SIM" up 2 --dir "$C"
  check "up 2 (recipe C)" eval '[ "$RC" -eq 0 ] && has "recipe C"'
  run bash -c ". '$C/env' && timeout 60 mpirun -np 4 sh -c 'echo \$FERRY_SIM_NODE'"
  check "a 4-rank job completes on node01, node02" [ "$(sort <<<"$OUT" | paste -sd' ')" = "node01 node01 node02 node02" ]
  if [ -n "$RING" ]; then
    run bash -c ". '$C/env' && timeout 60 mpirun -np 4 '$RING'"
    check_ring "MPI ring + allreduce, 4 ranks on 2 nodes" 4 0 "$OUT"
  fi
  expect_error "throttle says it needs root" 1 "needs root" -- "$SIM" throttle --dir "$C" node01 0.5
  run "$SIM" down --dir "$C"
  check "down" eval '[ "$RC" -eq 0 ] && [ ! -e "$C" ] && no_tagged "$C"'
fi
