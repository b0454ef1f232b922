#!/bin/sh
# Open MPI's remote-shell agent for hosts that are network namespaces on this
# machine: called like ssh (`netns_rsh.sh [options] HOST COMMAND...`), it runs
# COMMAND inside the namespace that FID_NETNS_MAP (lines "address namespace")
# gives for HOST. Used with `--mca plm_rsh_agent netns_rsh.sh`.
while [ $# -gt 0 ]; do
  case "$1" in
    -*) shift ;;  # ssh-style options (-x, -T) mean nothing here
    *) break ;;
  esac
done
host="$1"
shift || true
if [ -z "$host" ] || [ $# -eq 0 ]; then
  echo "netns_rsh: usage: netns_rsh.sh HOST COMMAND..." >&2
  exit 2
fi
if [ -z "$FID_NETNS_MAP" ] || [ ! -r "$FID_NETNS_MAP" ]; then
  echo "netns_rsh: FID_NETNS_MAP must name a readable file of 'address namespace' lines" >&2
  exit 2
fi
ns=$(awk -v h="$host" '$1 == h { print $2; exit }' "$FID_NETNS_MAP")
if [ -z "$ns" ]; then
  echo "netns_rsh: host '$host' is not in $FID_NETNS_MAP" >&2
  exit 2
fi
# Like ssh, the remote side gets one command line to interpret.
exec ip netns exec "$ns" /bin/sh -c "$*"
