#!/usr/bin/env bash
# Distributed flat search on the same synthetic collection: 1 process
# (all cores) against 2 ranks (half the cores each, one shard each); prints
# both times, the ratio, and whether both returned the same id lists.
#   tests/bench/bench_retrieve_ranks.sh [build_dir] [vectors] [queries] [dim]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
n="${2:-1000000}"
nq="${3:-1000}"
dim="${4:-128}"
bench="$build/bench/bench_retrieve"
source "$root/launch/env.sh"
run() {  # run <ranks>: the bench's summary line
  mpiexec -n "$1" --oversubscribe --bind-to none "$bench" --sharded --n "$n" --nq "$nq" \
    --dim "$dim" 2>&1 | grep '^sharded flat search'
}
one="$(run 1)"
two="$(run 2)"
echo "$one"
echo "$two"
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p" <<<"$2"; }
t1="$(sed -n 's/.*k=100: \([0-9.]*\) s.*/\1/p' <<<"$one")"
t2="$(sed -n 's/.*k=100: \([0-9.]*\) s.*/\1/p' <<<"$two")"
c1="$(field checksum "$one")"
c2="$(field checksum "$two")"
awk -v a="$t2" -v b="$t1" 'BEGIN {printf "time ratio (2 ranks / 1 process): %.2f\n", a / b}'
if [[ "$c1" == "$c2" ]]; then echo "same id lists on 1 and 2 ranks"; else
  echo "id checksums differ: $c1 vs $c2"; exit 1; fi
