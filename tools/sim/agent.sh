#!/bin/bash
# ferry-sim rsh agent: what `mpirun --mca plm_rsh_agent <state>/agent` calls instead of ssh.
#
#   agent [ssh options] HOST COMMAND...
#
# `ferry-sim up` copies this file to <state>/agent; it reads <state>/ferry-sim.conf (next to
# itself). It runs COMMAND (mpirun's orted command line, joined with spaces and run by a shell,
# as sshd would) "on" the fake node HOST:
#   - records its PID (which becomes the orted's: every step below execs) in
#     <state>/nodes/HOST/pids, so `ferry-sim fail` / `down` find the node's processes;
#   - exports FERRY_SIM_NODE=HOST, FERRY_NODE_DIR=<state>/nodes/HOST/storage and
#     FERRY_SIM_STATE=<state>, which reach the ranks;
#   - recipe A (root): joins the node's cgroup, then runs in a new UTS namespace whose hostname
#     is HOST;
#   - recipe B (root, --netns): the same, inside the node's network namespace;
#   - recipe C (no root): per-node Open MPI session and shared-memory directories instead.
# Errors exit 255, like ssh does when it cannot reach a host.
set -euo pipefail

die() {
  printf 'ferry-sim agent: %s\n' "$*" >&2
  exit 255
}

self="$(readlink -f -- "${BASH_SOURCE[0]}")"
state="${self%/*}"
conf="$state/ferry-sim.conf"
[ -r "$conf" ] || die "cannot read $conf (is the cluster up? run: ferry-sim up N)"

nodes="" recipe="" cgroup="" netns_prefix=""
while IFS='=' read -r key value; do
  case "$key" in
    nodes) nodes="$value" ;;
    recipe) recipe="$value" ;;
    cgroup) cgroup="$value" ;;
    netns_prefix) netns_prefix="$value" ;;
  esac
done <"$conf"
[[ "$nodes" =~ ^[0-9]+$ ]] || die "$conf has no valid 'nodes=' line"

# Skip ssh-style options before the host: flags (-x, -q, -T, combined -xq), options with a value
# given separately (-o val, -p 22, -l user, ...) or attached (-oBatchMode=yes, -p22), and "--".
while [ $# -gt 0 ]; do
  case "$1" in
    --)
      shift
      break
      ;;
    -[BbcDEeFIiJLlmOoPpQRSWw])
      [ $# -ge 2 ] || die "ssh option $1 needs a value"
      shift 2
      ;;
    -?*) shift ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || die "no host given (usage: agent [ssh options] HOST COMMAND...)"
host="${1##*@}" # user@host -> host
shift

valid="node01..$(printf 'node%02d' "$nodes")"
if [[ ! "$host" =~ ^node([0-9][0-9])$ ]] || ((10#${BASH_REMATCH[1]} < 1 || 10#${BASH_REMATCH[1]} > nodes)); then
  die "unknown node '$host' (this cluster has $valid)"
fi
[ $# -gt 0 ] || die "no command given for $host (interactive logins are not supported)"

nodedir="$state/nodes/$host"
[ -d "$nodedir" ] || die "missing $nodedir (run: ferry-sim up $nodes)"

# Record our PID with its start time (field 22 of /proc/PID/stat) to survive PID reuse; drop
# entries of processes that are gone. Locked against concurrent agents and `ferry-sim fail`.
starttime() {
  local line rest fields
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
  rest="${line##*) }"
  read -r -a fields <<<"$rest"
  [ "${fields[0]}" != Z ] || return 1
  printf '%s' "${fields[19]}"
}
pidfile="$nodedir/pids"
exec 9>>"$pidfile"
flock 9
keep=()
while read -r pid start; do
  [[ "$pid" =~ ^[0-9]+$ ]] || continue
  if [ "$(starttime "$pid" || true)" = "$start" ]; then keep+=("$pid $start"); fi
done <"$pidfile"
keep+=("$$ $(starttime $$)")
printf '%s\n' "${keep[@]}" >"$pidfile.new"
mv -f "$pidfile.new" "$pidfile"
exec 9>&-

export FERRY_SIM_NODE="$host"
export FERRY_NODE_DIR="$nodedir/storage"
export FERRY_SIM_STATE="$state"
unset BASH_ENV ENV

# The node's shell: sets the hostname in the new UTS namespace, then runs the command line the
# way sshd would (bash, unlike dash, execs the last command, so the orted keeps our PID).
# shellcheck disable=SC2016 # expanded by the inner bash
node_shell='hostname "$1" && shift && exec /bin/bash -c "$*"'

case "$recipe" in
  A | B)
    if [ -z "$cgroup" ] || [ ! -w "$cgroup/$host/cgroup.procs" ]; then
      die "cannot join cgroup $cgroup/$host (is the cluster up, and are you root?)"
    fi
    echo $$ >"$cgroup/$host/cgroup.procs" || die "cannot move into cgroup $cgroup/$host"
    if [ "$recipe" = B ]; then
      netns="/run/netns/$netns_prefix$host"
      [ -e "$netns" ] || die "missing network namespace $netns (run: ferry-sim up $nodes --netns)"
      exec nsenter --net="$netns" -- unshare --uts -- /bin/bash -c "$node_shell" ferry-sim-node "$host" "$@"
    fi
    exec unshare --uts -- /bin/bash -c "$node_shell" ferry-sim-node "$host" "$@"
    ;;
  C)
    export OMPI_MCA_btl_vader_backing_directory="$nodedir/shm"
    export OMPI_MCA_orte_tmpdir_base="$nodedir/tmp"
    exec /bin/bash -c "$*"
    ;;
  *) die "$conf has unknown recipe '$recipe'" ;;
esac
