#!/usr/bin/env bash
# `ferry run` on the simulated cluster (needs root: UTS namespaces, cgroups, a second user).
#   6 ranks on 3 nodes: each rank reports its node's hostname; `ferry status` shows the rankfile's
#   placement; a node throttled to 25 % CPU shows a clearly lower CPU share, and recovers; the
#   control socket refuses another uid and keeps serving; nothing is left after `down`.
# Usage: run_sim_test.sh BUILD_DIR
set -uo pipefail
build="${1:?usage: run_sim_test.sh BUILD_DIR}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
sim="$root/tools/ferry-sim"
ferry="$build/src/ferry"
passed=0 failed=0
check() {  # check NAME COMMAND...
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
if [ "$(id -u)" -ne 0 ]; then
  echo "run_sim_test: needs root (namespaces, cgroups, a test user); CI runs it as root"
  echo "0 passed, 1 failed"
  exit 1
fi
work="$(mktemp -d /tmp/ferry-runsim-XXXXXX)"
user=ferryruntest
cleanup() {
  [ -n "${job_pid:-}" ] && kill "$job_pid" 2>/dev/null
  "$sim" down >/dev/null 2>&1
  id "$user" >/dev/null 2>&1 && userdel -r "$user" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 FERRY_RUN_DIR="$work/run"
"$sim" down >/dev/null 2>&1
"$sim" up 3 >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
eval "$("$sim" env)"

"$ferry" run -np 6 --job simjob -- "$build/tests/pattern" "$work/expect.txt" 1.5 6 >"$work/out" 2>"$work/err" &
job_pid=$!

status_json() { "$ferry" status --json --window "${1:-3}" simjob 2>/dev/null; }
# Wait until every rank has reported.
for _ in $(seq 1 60); do
  n=$(status_json | jq '[.ranks[] | select(.samples > 0)] | length' 2>/dev/null) || true
  [ "${n:-0}" -ge 6 ] && break
  sleep 0.5
done
status_json >"$work/status0.json"

placement_ok() {  # every rank's reported hostname is the node of the generated rankfile
  local r node reported
  for r in 0 1 2 3 4 5; do
    node=$(sed -n "s/^rank $r=\([^ ]*\) slot=.*/\1/p" "$work/run/simjob/rankfile")
    reported=$(jq -r ".ranks[] | select(.rank == $r) | .reported_node" "$work/status0.json")
    [ "$node" = "node0$((r / 2 + 1))" ] && [ "$reported" = "$node" ] || { echo "  rank $r: rankfile $node, reported $reported"; return 1; }
  done
}
check "ranks report their simulated node's hostname, as placed" placement_ok

node_cpu() {  # node_cpu FILE NODE -> cpu share of that node
  jq -r ".nodes[] | select(.node == \"$2\") | .cpu_share" "$1"
}
# Whatever else runs on this machine must not decide the shares: the cluster gets the weight of
# a few processes while the shares are measured (test only; more would starve the supervisor).
cg=/sys/fs/cgroup/cpu/ferry-sim
shares=$(cat "$cg/cpu.shares")
echo 4096 >"$cg/cpu.shares"
"$sim" throttle node02 0.25 >/dev/null
sleep 5
status_json 3 >"$work/status1.json"
throttled() {
  local slow other
  slow=$(node_cpu "$work/status1.json" node02); other=$(node_cpu "$work/status1.json" node01)
  echo "  cpu share throttled node02=$slow node01=$other"
  awk -v s="$slow" -v o="$other" 'BEGIN { exit !(s > 0 && s < 0.6 * o) }'
}
check "a node throttled to 25% shows a clearly lower CPU share" throttled
"$sim" unthrottle node02 >/dev/null
sleep 5
status_json 3 >"$work/status2.json"
recovered() {
  local slow other
  slow=$(node_cpu "$work/status2.json" node02); other=$(node_cpu "$work/status2.json" node01)
  echo "  cpu share unthrottled node02=$slow node01=$other"
  awk -v s="$slow" -v o="$other" 'BEGIN { exit !(s > 0.75 * o) }'
}
check "unthrottled, it recovers" recovered
echo "$shares" >"$cg/cpu.shares"

useradd -M -s /bin/sh "$user" >/dev/null 2>&1
refused_by_mode() {
  out=$(runuser -u "$user" -- "$ferry" status simjob 2>&1); rc=$?
  [ $rc -ne 0 ] && echo "$out" | grep -qiE 'permission denied|no running job'
}
check "another uid cannot reach the control socket (mode 0700/0600)" refused_by_mode
# Open the file modes: the supervisor's own peer-uid check must still refuse.
chmod 0755 "$work" "$work/run" "$work/run/simjob"; chmod 0666 "$work/run/simjob/control.sock"; chmod 0644 "$work/run/simjob/job.json"
refused_by_uid() {
  out=$(runuser -u "$user" -- env FERRY_RUN_DIR="$work/run" "$ferry" status simjob 2>&1); rc=$?
  echo "  $out"
  [ $rc -ne 0 ] && echo "$out" | grep -q "may not control"
}
check "another uid is refused by the supervisor's peer check" refused_by_uid
still_serving() { status_json >/dev/null; }
check "the supervisor keeps serving after refusals" still_serving

wait "$job_pid"; rc=$?; job_pid=
check "the job finishes successfully" test "$rc" -eq 0
check "the final table lists 6 of 6 ranks" grep -q "6 of 6 ranks reported" "$work/err"
"$sim" down >/dev/null
no_leftovers() {
  ! pgrep -f "$work/expect.txt" >/dev/null && [ ! -d /sys/fs/cgroup/cpu/ferry-sim ] && [ ! -d /run/ferry-sim ]
}
check "nothing is left after down" no_leftovers

# The non-root fallback (recipe C) runs a job under `ferry run` too.
nonroot_job() {
  runuser -u "$user" -- bash -c '
    d=$(mktemp -d) || exit 1
    trap "'"$sim"' down --dir \$d/sim >/dev/null 2>&1; rm -rf \$d" EXIT
    "'"$sim"'" up 2 --dir "$d/sim" >/dev/null || exit 1
    eval "$("'"$sim"'" env --dir "$d/sim")"
    FERRY_RUN_DIR="$d/run" "'"$ferry"'" run -np 4 -- "'"$build"'/tests/pattern" "$d/e.txt" 0.1 2 2>&1
  ' >"$work/nonroot.out" 2>&1 || { cat "$work/nonroot.out"; return 1; }
  grep -q "4 of 4 ranks reported" "$work/nonroot.out" && grep -q "counting perf::TASK-CLOCK" "$work/nonroot.out"
}
check "a non-root user runs a job with ferry run on the fallback cluster" nonroot_job
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
