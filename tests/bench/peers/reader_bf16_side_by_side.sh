#!/usr/bin/env bash
# The reader in bfloat16 against the Python peer, alternating within each
# round, then medians:
#   tests/bench/peers/reader_bf16_side_by_side.sh [build_dir] [rounds=3]
# Ours: bench_reader's child, "train bf16" and "generate bf16" (autocast, no
# checkpointing), the workload of side_by_side.sh here (t5-small FiD,
# B=1 N=10 L=200 T=20, 5 timed steps after 1 warm-up, 2 threads).
# Peer, like for like: peer_autocast.py reader, FiD's wrapping of transformers
# 4.28.1 under torch.autocast("cpu", bfloat16). Peer as FiD runs it:
# peer_reader_step.py in float32 (FiD's train_reader.py has no autocast).
# Needs a CPU with native bf16 (AVX512-BF16 or AMX; elsewhere bf16 products
# are a scalar fallback on both sides) and the peer set up
# (setup_peer.sh here, once; see README.md here). A benchmark,
# never run in CI.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
build="${1:-$root/build}" rounds="${2:-3}"
work="$(mktemp -d /tmp/reader_bf16_sbs.XXXXXX)"
source "$root/tests/bench/peers/side_by_side_common.sh"
need_native_bf16 "the comparison would time scalar fallbacks"
need_peer

"$build/bench/bench_reader" --only "(header only)" | grep -E '^(CPU|matmul)'
for mode in train generate; do
  key=train_s; [ $mode = generate ] && key=gen_s
  ours=() peer16=() peer32=()
  printf '\n== %s: seconds of the best of 5 steps (after 1 warm-up)\n' "$mode"
  printf '%-6s %10s %12s %12s %10s %10s\n' round ours_bf16 peer_bf16 peer_fp32 "x(bf16)" "x(fp32)"
  for ((r = 1; r <= rounds; r++)); do
    "$build/bench/bench_reader" --child $mode --precision bf16 --checkpoint 0 --steps 5 >"$work/ours_${mode}_$r.log" 2>&1
    "$py" "$peer_dir/peer_autocast.py" reader --mode $mode --steps 5 \
      >"$work/peer16_${mode}_$r.log" 2>&1
    "$py" "$peer_dir/peer_reader_step.py" --mode $mode --steps 5 >"$work/peer32_${mode}_$r.log" 2>&1
    o=$(kv "$(grep '^RESULT' "$work/ours_${mode}_$r.log")" best_seconds)
    p16=$(kv "$(grep "^PEER mode=$mode" "$work/peer16_${mode}_$r.log")" $key)
    p32=$(kv "$(grep "^PEER mode=$mode" "$work/peer32_${mode}_$r.log")" $key)
    [ -n "$o" ] && [ -n "$p16" ] && [ -n "$p32" ] || { echo "round $r failed: logs in $work" >&2; exit 1; }
    ours+=("$o") peer16+=("$p16") peer32+=("$p32")
    printf '%-6s %10.3f %12.3f %12.3f %9sx %9sx\n' "$r" "$o" "$p16" "$p32" "$(ratio "$p16" "$o")" "$(ratio "$p32" "$o")"
  done
  mo=$(median "${ours[@]}") m16=$(median "${peer16[@]}") m32=$(median "${peer32[@]}")
  printf '%-6s %10.3f %12.3f %12.3f %9sx %9sx\n' median "$mo" "$m16" "$m32" "$(ratio "$m16" "$mo")" "$(ratio "$m32" "$mo")"
done
echo "x = peer seconds / ours (>1: ours faster); logs in $work"
