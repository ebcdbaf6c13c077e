# shellcheck shell=bash disable=SC2034 # globals used by tools/ferry-sim and netns.sh
# ferry-sim: shared helpers (sourced by tools/ferry-sim). State, validation, process discovery,
# cgroups. Every function assumes `set -euo pipefail`.

FSIM_CGROUP_MOUNT=/sys/fs/cgroup/cpu
FSIM_CGROUP_ROOT="$FSIM_CGROUP_MOUNT/ferry-sim"
FSIM_PERIOD_US=100000
FSIM_MIN_QUOTA_US=1000 # the kernel's minimum cfs quota (1 ms)
FSIM_MAX_NODES=99
FSIM_MAX_SLOTS=256
FSIM_NETNS_PREFIX=ferry-sim-

# Exit codes: 1 = runtime problem, 2 = usage error.
die() {
  printf 'ferry-sim: %s\n' "$*" >&2
  exit 1
}
usage_error() {
  printf 'ferry-sim: %s\n' "$*" >&2
  printf "Run 'ferry-sim --help' for usage.\n" >&2
  exit 2
}
info() { printf 'ferry-sim: %s\n' "$*"; }
warn() { printf 'ferry-sim: warning: %s\n' "$*" >&2; }

is_root() { [ "$(id -u)" -eq 0 ]; }
ncores() { nproc; }

default_dir() {
  if is_root; then
    printf '/run/ferry-sim'
  else
    printf '%s/ferry-sim-%s' "${XDG_RUNTIME_DIR:-/tmp}" "$(id -u)"
  fi
}

node_name() { printf 'node%02d' "$1"; }

# recipe_text RECIPE
recipe_text() {
  case "$1" in
    A) printf 'A (root: UTS namespace + cpu cgroup per node)' ;;
    B) printf 'B (root: network + UTS namespace + cpu cgroup per node, mpirun in the head namespace)' ;;
    C) printf 'C (no root: per-node Open MPI directories; no namespaces, no cgroups)' ;;
    *) printf '%s (unknown)' "$1" ;;
  esac
}

# --- state ---------------------------------------------------------------------------------
# Globals set by load_state: DIR CONF C_NODES C_SLOTS C_RECIPE C_UID C_CGROUP C_NETNS_PREFIX
# C_RUNNETNS_CREATED

state_exists() { [ -f "$DIR/ferry-sim.conf" ]; }

load_state() {
  CONF="$DIR/ferry-sim.conf"
  C_NODES="" C_SLOTS="" C_RECIPE="" C_UID="" C_CGROUP="" C_NETNS_PREFIX="" C_RUNNETNS_CREATED=0
  local key value
  while IFS='=' read -r key value; do
    case "$key" in
      nodes) C_NODES="$value" ;;
      slots) C_SLOTS="$value" ;;
      recipe) C_RECIPE="$value" ;;
      uid) C_UID="$value" ;;
      cgroup) C_CGROUP="$value" ;;
      netns_prefix) C_NETNS_PREFIX="$value" ;;
      run_netns_created) C_RUNNETNS_CREATED="$value" ;;
    esac
  done <"$CONF"
  [[ "$C_NODES" =~ ^[0-9]+$ ]] || die "$CONF is damaged (no valid nodes= line); run 'ferry-sim down --dir $DIR'"
  [[ "$C_RECIPE" =~ ^[ABC]$ ]] || die "$CONF is damaged (no valid recipe= line); run 'ferry-sim down --dir $DIR'"
}

# require_state: load the cluster or fail with a hint.
require_state() {
  state_exists || die "no cluster at $DIR (start one with: ferry-sim up N$( [ "$DIR" = "$(default_dir)" ] || printf ' --dir %s' "$DIR"))"
  load_state
  if [ "$C_UID" != "$(id -u)" ]; then
    die "the cluster at $DIR belongs to uid $C_UID, you are uid $(id -u)"
  fi
}

write_conf() { # nodes slots recipe cgroup run_netns_created
  local tmp="$DIR/ferry-sim.conf.new"
  {
    echo "# ferry-sim cluster state; written by 'ferry-sim up', read by ferry-sim and the agent."
    echo "version=1"
    echo "nodes=$1"
    echo "slots=$2"
    echo "recipe=$3"
    echo "uid=$(id -u)"
    echo "cgroup=$4"
    echo "netns_prefix=$FSIM_NETNS_PREFIX"
    echo "run_netns_created=$5"
  } >"$tmp"
  mv -f "$tmp" "$DIR/ferry-sim.conf"
}

all_nodes() {
  local i
  for ((i = 1; i <= C_NODES; i++)); do node_name "$i"; echo; done
}

valid_nodes_text() {
  if ((C_NODES <= 10)); then
    all_nodes | paste -sd' ' -
  else
    printf '%s .. %s' "$(node_name 1)" "$(node_name "$C_NODES")"
  fi
}

# check_node NODE: usage error unless NODE is one of this cluster's nodes.
check_node() {
  local n="$1"
  if [[ "$n" =~ ^node([0-9][0-9])$ ]] && ((10#${BASH_REMATCH[1]} >= 1 && 10#${BASH_REMATCH[1]} <= C_NODES)); then
    return 0
  fi
  usage_error "unknown node '$n'; valid nodes: $(valid_nodes_text)"
}

# fraction_to_quota FRACTION: prints the cfs quota in us, or fails with a usage error.
fraction_to_quota() {
  local f="$1" cores quota
  cores="$(ncores)"
  local range="a number in (0, $cores] (CPU cores' worth, e.g. 0.25 = a quarter of one core; at least 0.01)"
  [[ "$f" =~ ^([0-9]+(\.[0-9]*)?|\.[0-9]+)$ ]] || usage_error "invalid FRACTION '$f': must be $range"
  quota="$(awk -v f="$f" -v p="$FSIM_PERIOD_US" 'BEGIN { printf "%d", f * p + 0.5 }')"
  if ((quota < FSIM_MIN_QUOTA_US)) || awk -v f="$f" -v c="$cores" 'BEGIN { exit !(f <= 0 || f > c) }'; then
    usage_error "invalid FRACTION '$f': must be $range"
  fi
  printf '%s' "$quota"
}

quota_to_text() { # QUOTA_US -> "unlimited" or a fraction
  if [ "$1" -lt 0 ]; then
    printf 'unlimited'
  else
    awk -v q="$1" -v p="$FSIM_PERIOD_US" 'BEGIN { s = sprintf("%.4f", q / p); sub(/0+$/, "", s); sub(/\.$/, "", s); print s }'
  fi
}

json_str() { # JSON string literal
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

# --- processes -----------------------------------------------------------------------------
# A node's processes are the union of: its cgroup's cgroup.procs (recipes A, B); the PIDs the
# agent recorded in nodes/<node>/pids (checked against their start time) and all their
# descendants; and every process whose environment carries FERRY_SIM_STATE=<state dir> and
# FERRY_SIM_NODE=<node> (set by the agent, inherited by the ranks even after re-parenting).
# Zombies and ferry-sim itself are never listed.

declare -A P_PPID=() P_START=() P_STATE=() P_KIDS=() TAG_NODE=()

scan_procs() {
  P_PPID=() P_START=() P_STATE=() P_KIDS=() TAG_NODE=()
  local f pid line rest fields
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    pid="${f#/proc/}"
    pid="${pid%/stat}"
    rest="${line##*) }"
    read -r -a fields <<<"$rest"
    P_STATE[$pid]="${fields[0]}"
    P_PPID[$pid]="${fields[1]}"
    P_START[$pid]="${fields[19]}"
    P_KIDS[${fields[1]}]+=" $pid"
  done
  local tagged=() entry node
  mapfile -t tagged < <(grep -lzxF -- "FERRY_SIM_STATE=$DIR" /proc/[0-9]*/environ 2>/dev/null || true)
  if [ ${#tagged[@]} -gt 0 ]; then
    while IFS= read -r entry; do
      pid="${entry#/proc/}"
      pid="${pid%%/*}"
      node="${entry#*:FERRY_SIM_NODE=}"
      TAG_NODE[$pid]="$node"
    done < <(grep -zH '^FERRY_SIM_NODE=' "${tagged[@]}" 2>/dev/null | tr '\0' '\n' || true)
  fi
}

# node_pids NODE: the node's live processes, one PID per line (call scan_procs first).
node_pids() {
  local node="$1" pid start
  declare -A seen=()
  local queue=()
  if [ -n "$C_CGROUP" ] && [ -r "$C_CGROUP/$node/cgroup.procs" ]; then
    while read -r pid; do queue+=("$pid"); done <"$C_CGROUP/$node/cgroup.procs"
  fi
  if [ -r "$DIR/nodes/$node/pids" ]; then
    while read -r pid start; do
      [[ "$pid" =~ ^[0-9]+$ ]] || continue
      if [ "${P_START[$pid]:-}" = "$start" ]; then queue+=("$pid"); fi
    done <"$DIR/nodes/$node/pids"
  fi
  for pid in "${!TAG_NODE[@]}"; do
    if [ "${TAG_NODE[$pid]}" = "$node" ]; then queue+=("$pid"); fi
  done
  if [ "$C_RECIPE" = B ] && [ -e "/run/netns/$C_NETNS_PREFIX$node" ]; then
    while read -r pid; do queue+=("$pid"); done < <(ip netns pids "$C_NETNS_PREFIX$node" 2>/dev/null || true)
  fi
  # Close over descendants.
  local i=0 kid
  while [ "$i" -lt "${#queue[@]}" ]; do
    pid="${queue[$i]}"
    i=$((i + 1))
    if [ -n "${seen[$pid]:-}" ]; then continue; fi
    seen[$pid]=1
    for kid in ${P_KIDS[$pid]:-}; do queue+=("$kid"); done
  done
  for pid in "${!seen[@]}"; do
    [ -n "${P_STATE[$pid]:-}" ] || continue # gone since the scan
    [ "${P_STATE[$pid]}" != Z ] || continue
    [ "$pid" != "$$" ] || continue
    echo "$pid"
  done
}

count_node_pids() { node_pids "$1" | wc -l; }

# kill_nodes NODE...: SIGKILL every process of the nodes until none is left (a few seconds at
# most). Sets KILLED[node] to the number of distinct processes killed.
declare -A KILLED=()
kill_nodes() {
  local node pid round pids
  KILLED=()
  declare -A done_pids=()
  for node in "$@"; do KILLED[$node]=0; done
  for ((round = 0; round < 50; round++)); do
    scan_procs
    local any=0
    for node in "$@"; do
      mapfile -t pids < <(node_pids "$node")
      [ ${#pids[@]} -gt 0 ] || continue
      any=1
      for pid in "${pids[@]}"; do
        if [ -z "${done_pids[$pid]:-}" ]; then
          done_pids[$pid]=1
          KILLED[$node]=$((KILLED[$node] + 1))
        fi
      done
      kill -KILL "${pids[@]}" 2>/dev/null || true
    done
    [ "$any" -eq 1 ] || return 0
    sleep 0.1
  done
  warn "some processes of $* survived SIGKILL for 5 s"
  return 1
}

# prune_pids NODE: drop recorded PIDs that are gone (under the agent's lock; rewritten via .new).
# shellcheck disable=SC2094
prune_pids() {
  local f="$DIR/nodes/$1/pids" pid start keep=()
  [ -f "$f" ] || return 0
  (
    flock 9
    while read -r pid start; do
      [[ "$pid" =~ ^[0-9]+$ ]] || continue
      if [ "${P_START[$pid]:-}" = "$start" ] && [ "${P_STATE[$pid]}" != Z ]; then keep+=("$pid $start"); fi
    done <"$f"
    if [ ${#keep[@]} -gt 0 ]; then printf '%s\n' "${keep[@]}" >"$f.new"; else : >"$f.new"; fi
    mv -f "$f.new" "$f"
  ) 9>>"$f"
}

# --- cgroups (recipes A, B) ----------------------------------------------------------------

check_cgroup_mount() {
  [ -w "$FSIM_CGROUP_MOUNT/cpu.cfs_quota_us" ] || [ -d "$FSIM_CGROUP_ROOT" ] ||
    die "the cgroup v1 cpu controller is not mounted writable at $FSIM_CGROUP_MOUNT (needed as root; expected $FSIM_CGROUP_MOUNT/cpu.cfs_quota_us)"
}

cgroup_procs_count() { # DIR -> number of processes in that cgroup
  if [ -r "$1/cgroup.procs" ]; then sort -u "$1/cgroup.procs" | wc -l; else echo 0; fi
}

# cgroup_ensure NODE RESET: create the node's cgroup (period 100 ms, quota unlimited); RESET=1
# also resets the quota of an existing one. cpu.shares stays at the kernel default (1024) on
# purpose: the nodes are equal among themselves, and the whole cluster weighs as much as one
# process against the rest of the machine, so a busy cluster cannot starve the processes that
# control it (ferry's runtime, ferry-sim itself), which run outside it.
cgroup_ensure() {
  local cg="$FSIM_CGROUP_ROOT/$1"
  if [ ! -d "$FSIM_CGROUP_ROOT" ]; then
    mkdir "$FSIM_CGROUP_ROOT" || die "cannot create cgroup $FSIM_CGROUP_ROOT"
    echo -1 >"$FSIM_CGROUP_ROOT/cpu.cfs_quota_us"
  fi
  if [ ! -d "$cg" ]; then
    mkdir "$cg" || die "cannot create cgroup $cg"
    echo -1 >"$cg/cpu.cfs_quota_us"
    echo "$FSIM_PERIOD_US" >"$cg/cpu.cfs_period_us"
  elif [ "$2" = 1 ]; then
    echo -1 >"$cg/cpu.cfs_quota_us"
    echo "$FSIM_PERIOD_US" >"$cg/cpu.cfs_period_us"
  fi
}

cgroup_set_quota() { # NODE QUOTA_US
  local f="$FSIM_CGROUP_ROOT/$1/cpu.cfs_quota_us"
  [ -w "$f" ] || die "missing $f (run 'ferry-sim up $C_NODES' to repair the cluster)"
  if [ "$2" -ge 0 ]; then echo "$FSIM_PERIOD_US" >"$FSIM_CGROUP_ROOT/$1/cpu.cfs_period_us"; fi
  echo "$2" >"$f" || die "cannot write $2 to $f"
}

cgroup_quota() { # NODE -> quota in us (-1 = unlimited), "-1" when there is no cgroup
  local f="$FSIM_CGROUP_ROOT/$1/cpu.cfs_quota_us"
  if [ -r "$f" ]; then cat "$f"; else echo -1; fi
}

# rmdir_retry DIR: remove an (empty) cgroup, retrying while its last processes exit.
rmdir_retry() {
  local i
  for ((i = 0; i < 30; i++)); do
    rmdir "$1" 2>/dev/null && return 0
    [ -d "$1" ] || return 0
    sleep 0.1
  done
  rmdir "$1" 2>/dev/null || {
    warn "could not remove cgroup $1 (still holds $(cgroup_procs_count "$1") processes)"
    return 1
  }
}

# cgroup_teardown: kill everything in the subtree, remove it. Returns non-zero if it stays.
cgroup_teardown() {
  [ -d "$FSIM_CGROUP_ROOT" ] || return 0
  local cg pid rc=0 round any
  for ((round = 0; round < 50; round++)); do
    any=0
    for cg in "$FSIM_CGROUP_ROOT" "$FSIM_CGROUP_ROOT"/*/; do
      [ -r "$cg/cgroup.procs" ] || continue
      while read -r pid; do
        if [ "$pid" = "$$" ]; then continue; fi
        any=1
        kill -KILL "$pid" 2>/dev/null || true
      done <"${cg%/}/cgroup.procs"
    done
    [ "$any" -eq 1 ] || break
    sleep 0.1
  done
  for cg in "$FSIM_CGROUP_ROOT"/*/; do
    [ -d "$cg" ] || continue
    rmdir_retry "${cg%/}" || rc=1
  done
  rmdir_retry "$FSIM_CGROUP_ROOT" || rc=1
  return "$rc"
}
