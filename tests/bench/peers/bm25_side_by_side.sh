#!/usr/bin/env bash
# BM25 against Xapian on the same passages and queries, alternating ours and
# the peer's run within each round, then medians:
#   tests/bench/peers/bm25_side_by_side.sh [build_dir] [passages=1000000] [rounds=3]
# Ours: bench_bm25 (index build, then the queries pruned and exhaustive, in
# one process). Xapian: tests/bench/peers/xapian_bm25.py searching a database
# built once before the rounds (its build is timed then, once). Both print
# queries/s; the table gives each round and the medians. A benchmark, never
# run in CI; needs python3-xapian.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
build="${1:-$root/build}" n="${2:-1000000}" rounds="${3:-3}"
work="$(mktemp -d /tmp/bm25_sbs.XXXXXX)"
source "$root/launch/env.sh"
source "$root/tests/bench/peers/side_by_side_common.sh"  # median
peer="/usr/bin/python3 $root/tests/bench/peers/xapian_bm25.py"
qps() { sed -n "s/.*$1 .* queries in .* s  \\([0-9.]*\\) queries\\/s.*/\\1/p" | head -1; }

"$build/bench/bench_bm25" --write "$work" "$n" >"$work/ours0.log"
$peer "$work" "$n" --db "$work/xapian" >"$work/peer0.log"
echo "build: ours $(sed -n 's/.*index build *[0-9.]* s *\([0-9]*\) passages\/s.*/\1/p' "$work/ours0.log" | head -1) passages/s," \
     "Xapian $(sed -n 's/.*index build *[0-9.]* s *\([0-9]*\) passages\/s.*/\1/p' "$work/peer0.log") passages/s ($n passages)"
printf '%-6s %12s %12s %12s %9s\n' round ours_pruned exhaustive xapian ratio
ours=() peers=()
for ((r = 1; r <= rounds; r++)); do
  "$build/bench/bench_bm25" "$n" >"$work/ours$r.log"
  $peer "$work" "$n" --db "$work/xapian" >"$work/peer$r.log"
  o=$(qps pruned <"$work/ours$r.log") e=$(qps exhaustive <"$work/ours$r.log") p=$(qps search <"$work/peer$r.log")
  ours+=("$o") peers+=("$p")
  printf '%-6s %12s %12s %12s %8.2fx\n' "$r" "$o" "$e" "$p" "$(awk -v a="$o" -v b="$p" 'BEGIN { print a / b }')"
done
mo=$(median "${ours[@]}") mp=$(median "${peers[@]}")
printf 'median %12s %12s %12s %8.2fx   (queries/s; logs in %s)\n' "$mo" "" "$mp" "$(awk -v a="$mo" -v b="$mp" 'BEGIN { print a / b }')" "$work"
