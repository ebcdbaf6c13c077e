# shellcheck shell=bash
# ferry-sim recipe B: a network namespace per node, a `fabric` namespace holding a bridge, and a
# `head` namespace for mpirun. Sourced by tools/ferry-sim after lib.sh.
#
#   namespace            interface        address
#   ferry-sim-fabric     fsim-br (bridge), fsim-head, fsim-node01, ... (bridge ports)
#   ferry-sim-head       fsim0            10.213.0.1/24
#   ferry-sim-nodeNN     fsim0            10.213.0.(10+NN)/24
#
# The 10.213.0.0/24 addresses exist only inside these namespaces (no route to or from the host's
# namespace). Every namespace is recorded in <state>/netns before it is created; `down` deletes
# exactly the recorded ones.

FSIM_IF=fsim0
FSIM_BRIDGE=fsim-br
FSIM_NET=10.213.0
FSIM_NET_BITS=24

ns_of() { printf '%s%s' "$FSIM_NETNS_PREFIX" "$1"; } # head | fabric | nodeNN

ns_addr() { # head | nodeNN -> address
  if [ "$1" = head ]; then
    printf '%s.1' "$FSIM_NET"
  else
    printf '%s.%d' "$FSIM_NET" $((10 + 10#${1#node}))
  fi
}

ns_recorded() { [ -f "$DIR/netns" ] && grep -qxF -- "$1" "$DIR/netns"; }

# A live named namespace is a bind mount on /run/netns/NAME (a plain file there is a stale name,
# e.g. after a reboot when /run is not a tmpfs).
ns_exists() { mountpoint -q "/run/netns/$1" 2>/dev/null; }

# ns_ensure NAME: create the namespace unless it exists; refuse one this cluster did not create.
ns_ensure() {
  local ns="$1"
  if ns_exists "$ns"; then
    ns_recorded "$ns" ||
      die "network namespace '$ns' exists but was not created by the cluster at $DIR; not touching it (remove it with 'ip netns del $ns' if it is stale)"
    return 0
  fi
  ns_recorded "$ns" || echo "$ns" >>"$DIR/netns"
  if [ -e "/run/netns/$ns" ]; then rm -f "/run/netns/$ns"; fi # our stale name
  ip netns add "$ns" || die "cannot create network namespace $ns (ip netns add $ns failed)"
}

ns_sysctl() { # NS KEY=VALUE: a sysctl inside the namespace (best effort)
  nsenter --net="/run/netns/$1" -- sysctl -q -w "$2" >/dev/null 2>&1 || true
}

# netns_up N: create or repair the whole network. Idempotent.
netns_up() {
  local n="$1" fabric peer ns port i
  command -v ip >/dev/null || die "'ip' (iproute2) is needed for --netns"
  command -v nsenter >/dev/null || die "'nsenter' (util-linux) is needed for --netns"
  fabric="$(ns_of fabric)"
  ns_ensure "$fabric"
  ns_sysctl "$fabric" net.ipv6.conf.all.disable_ipv6=1
  ns_sysctl "$fabric" net.ipv6.conf.default.disable_ipv6=1
  ip -n "$fabric" link set lo up
  if ! ip -n "$fabric" link show "$FSIM_BRIDGE" >/dev/null 2>&1; then
    ip -n "$fabric" link add "$FSIM_BRIDGE" type bridge || die "cannot create bridge $FSIM_BRIDGE in $fabric"
  fi
  ip -n "$fabric" link set "$FSIM_BRIDGE" up
  local peers=(head)
  for ((i = 1; i <= n; i++)); do peers+=("$(node_name "$i")"); done
  for peer in "${peers[@]}"; do
    ns="$(ns_of "$peer")"
    port="fsim-$peer"
    ns_ensure "$ns"
    ns_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1
    ns_sysctl "$ns" net.ipv6.conf.default.disable_ipv6=1
    if ! ip -n "$ns" link show "$FSIM_IF" >/dev/null 2>&1; then
      # A half-created pair: drop our fabric end and recreate both.
      ip -n "$fabric" link del "$port" >/dev/null 2>&1 || true
      ip -n "$fabric" link add "$port" type veth peer name "$FSIM_IF" netns "$ns" ||
        die "cannot create veth pair $port <-> $ns:$FSIM_IF"
    fi
    ip -n "$fabric" link set "$port" master "$FSIM_BRIDGE"
    ip -n "$fabric" link set "$port" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr replace "$(ns_addr "$peer")/$FSIM_NET_BITS" dev "$FSIM_IF"
    ip -n "$ns" link set "$FSIM_IF" up
  done
}

# netns_down: kill what runs in the recorded namespaces and delete them.
netns_down() {
  [ -f "$DIR/netns" ] || return 0
  local ns pids rc=0 round
  local recorded=()
  mapfile -t recorded <"$DIR/netns"
  for ((round = 0; round < 30; round++)); do
    pids=()
    for ns in "${recorded[@]}"; do
      if [ -z "$ns" ] || ! ns_exists "$ns"; then continue; fi
      mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null || true)
    done
    [ ${#pids[@]} -gt 0 ] || break
    kill -KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.1
  done
  for ns in "${recorded[@]}"; do
    if [ -z "$ns" ] || ! ns_exists "$ns"; then continue; fi
    ip netns del "$ns" 2>/dev/null || {
      warn "could not delete network namespace $ns"
      rc=1
    }
  done
  for ns in "${recorded[@]}"; do
    if [ -n "$ns" ] && [ -e "/run/netns/$ns" ] && ! ns_exists "$ns"; then rm -f "/run/netns/$ns"; fi
  done
  # `ip netns add` created /run/netns (a bind mount on itself) for us: undo that if it is empty.
  if [ "$C_RUNNETNS_CREATED" = 1 ] && [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
    while mountpoint -q /run/netns; do umount /run/netns 2>/dev/null || break; done
    rmdir /run/netns 2>/dev/null || true
  fi
  return "$rc"
}
