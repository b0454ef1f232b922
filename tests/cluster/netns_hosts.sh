# shellcheck shell=bash
# Sourced by the multi-host test (after lib.sh): two network namespaces
# joined by a veth pair act as two hosts, 10.77.0.1 and 10.77.0.2. Open MPI
# reaches the second through netns_rsh.sh instead of ssh and talks to it over
# TCP on the veth only. Both hosts share this machine's file system, as
# cluster nodes share a parallel file system.

NETNS_SUBNET=10.77.0.0/24
NETNS_ADDRS=(10.77.0.1 10.77.0.2)

# Namespaces are named fidc<pid><a|b>, so a run killed before its clean-up
# is recognised by its dead pid and its namespaces removed by the next run.
_netns_remove() {
  local ns="$1" pid
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$pid"; done
  ip netns delete "$ns" 2>/dev/null || true
}
stale_multihost() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^fidc[0-9]+[ab]$' || true); do
    local pid="${ns#fidc}"
    pid="${pid%[ab]}"
    kill -0 "$pid" 2>/dev/null || _netns_remove "$ns"
  done
}

# netns_up: creates the two hosts; sets NS_A, NS_B, HOSTFILE, MPI_NET_ARGS
# (the mpirun options that confine Open MPI to them) and FID_NETNS_MAP.
netns_up() {
  stale_multihost
  NS_A="fidc$$a"
  NS_B="fidc$$b"
  local va="vfc$$a" vb="vfc$$b"
  ip netns add "$NS_A" 2>"$WORK/netns.err" ||
    skip "cannot create network namespaces ($(head -n 1 "$WORK/netns.err"))"
  on_exit "_netns_remove $NS_A"
  ip netns add "$NS_B" || fail "ip netns add $NS_B"
  on_exit "_netns_remove $NS_B"
  # (Interface names: at most 15 characters; a pid has at most 7 digits.)
  ip link add "$va" type veth peer name "$vb" 2>"$WORK/netns.err" ||
    skip "cannot create a veth pair ($(head -n 1 "$WORK/netns.err"))"
  ip link set "$va" netns "$NS_A"
  ip link set "$vb" netns "$NS_B"
  ip -n "$NS_A" addr add "${NETNS_ADDRS[0]}/24" dev "$va"
  ip -n "$NS_B" addr add "${NETNS_ADDRS[1]}/24" dev "$vb"
  local ns
  for ns in "$NS_A" "$NS_B"; do
    ip -n "$ns" link set lo up
  done
  ip -n "$NS_A" link set "$va" up
  ip -n "$NS_B" link set "$vb" up

  FID_NETNS_MAP="$WORK/netns.map"
  printf '%s %s\n' "${NETNS_ADDRS[0]}" "$NS_A" "${NETNS_ADDRS[1]}" "$NS_B" >"$FID_NETNS_MAP"
  export FID_NETNS_MAP
  HOSTFILE="$WORK/hostfile"
  printf '%s slots=1\n' "${NETNS_ADDRS[@]}" >"$HOSTFILE"
  # btl tcp,self: no shared memory between the hosts; interfaces: the veth
  # only, for the daemons' wire-up (oob) and for MPI messages (btl).
  MPI_NET_ARGS=(--mca plm_rsh_agent "$CLUSTER_DIR/netns_rsh.sh"
                --mca btl tcp,self --mca pml ob1
                --mca btl_tcp_if_include "$NETNS_SUBNET" --mca oob_tcp_if_include "$NETNS_SUBNET")
}

# on_two_hosts CMD...: fid-mpirun started on host A with one rank per host.
on_two_hosts() {
  run_limited 240 ip netns exec "$NS_A" "$FID_MPIRUN" --hostfile "$HOSTFILE" "${MPI_NET_ARGS[@]}" -- "$@"
}

# on_one_host CMD...: two ranks on this machine, the usual way.
on_one_host() {
  run_limited 240 "$FID_MPIRUN" -n 2 -- "$@"
}

# Each rank reports the address it sees; fails unless rank r runs on host r.
check_ranks_on_two_hosts() {
  local out="$WORK/placement.txt"
  on_two_hosts /bin/sh -c \
    'echo "$OMPI_COMM_WORLD_RANK $(ip -o -4 addr show | awk '\''$4 ~ /^10\.77\./ {sub("/.*", "", $4); print $4}'\'')"' \
    >"$out" 2>&1 || { cat "$out"; fail "mpirun across the two namespaces"; }
  sort -o "$out" "$out"
  printf '0 %s\n1 %s\n' "${NETNS_ADDRS[@]}" | cmp -s - "$out" ||
    { cat "$out"; fail "ranks are not one per host (expected rank 0 on ${NETNS_ADDRS[0]}, rank 1 on ${NETNS_ADDRS[1]})"; }
}
