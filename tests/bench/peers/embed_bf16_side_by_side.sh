#!/usr/bin/env bash
# Passage embedding in bfloat16 against the Python peer, alternating within
# each round, then medians:
#   tests/bench/peers/embed_bf16_side_by_side.sh [build_dir] [rounds=3] [passages=384]
# Ours: bench_embed's "base" model stage (BERT-base FiD retriever, batch 32,
# 2 threads) at its default precision, bf16 on a CPU with native bf16 (the row
# says which), its first batch included (no warm-up). Peer, like for like:
# peer_autocast.py embed, FiD's Retriever on transformers 4.28.1 with BERT
# under torch.autocast("cpu", bfloat16) (the projection's LayerNorm cannot run
# under torch 1.13's CPU autocast: see peer_autocast.py); and in float32
# (peer_embed.py), as FiD runs it. Both peers pad as ours does (--padding
# sorted: the same tokens, checked) and time the model after one warm-up batch
# (which takes seconds under autocast: oneDNN's first calls), so more passages
# than side_by_side.sh's 96 by default. Needs native bf16 and the peer
# (setup_peer.sh here, once). A benchmark, never run in CI.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
build="${1:-$root/build}" rounds="${2:-3}" n="${3:-384}"
work="$(mktemp -d /tmp/embed_bf16_sbs.XXXXXX)"
source "$root/tests/bench/peers/side_by_side_common.sh"
need_native_bf16 "ours would run float32"
need_peer
export FID_SOURCE_DIR="$root"  # peer_embed.py's fixture vocabulary
# bench_embed's "base" rows: passages / model seconds, tokens run and real, the model's dtype.
ours_row() {
  awk '$1 == "base" && $3 == "passages" { rows = $2; dt = $NF; gsub(/\)/, "", dt); getline s; getline t
       n = split(s, a, " "); for (i = 1; i < n; i++) if (a[i] == "model") { ms = a[i + 1]; break }
       n = split(t, b, " "); for (i = 1; i < n; i++) { if (b[i] == "run") pad = b[i + 1]; if (b[i] == "for") real = b[i + 1] }
       printf "pps=%s padded=%s real=%s dtype=%s", rows / ms, pad, real, dt }' "$1"
}

ours=() peer16=() peer32=() same=yes dtype=""
printf '%-6s %10s %10s %10s %9s %9s   (model passages/s)\n' round ours peer_bf16 peer_fp32 "x(bf16)" "x(fp32)"
for ((r = 1; r <= rounds; r++)); do
  "$build/bench/bench_embed" 64 "$n" 32 2 >"$work/ours_$r.log" 2>&1
  "$py" "$peer_dir/peer_autocast.py" embed --padding sorted \
    --passages "$n" --batch 32 --threads 2 >"$work/peer16_$r.log" 2>&1
  "$py" "$peer_dir/peer_embed.py" --padding sorted --passages "$n" --batch 32 --threads 2 >"$work/peer32_$r.log" 2>&1
  o=$(ours_row "$work/ours_$r.log")
  p16=$(grep '^PEER_EMBED' "$work/peer16_$r.log" || true) p32=$(grep '^PEER_EMBED' "$work/peer32_$r.log" || true)
  [ -n "$(kv "$o" pps)" ] && [ -n "$p16" ] && [ -n "$p32" ] || { echo "round $r failed: logs in $work" >&2; exit 1; }
  [ "$(kv "$o" padded)" = "$(kv "$p16" padded_tokens)" ] && [ "$(kv "$o" real)" = "$(kv "$p16" tokens)" ] || same=no
  dtype=$(kv "$o" dtype)
  ours+=("$(kv "$o" pps)") peer16+=("$(kv "$p16" passages_per_s)") peer32+=("$(kv "$p32" passages_per_s)")
  printf '%-6s %10.1f %10.1f %10.1f %8sx %8sx\n' "$r" "${ours[-1]}" "${peer16[-1]}" "${peer32[-1]}" \
    "$(ratio "${ours[-1]}" "${peer16[-1]}")" "$(ratio "${ours[-1]}" "${peer32[-1]}")"
done
mo=$(median "${ours[@]}") m16=$(median "${peer16[@]}") m32=$(median "${peer32[@]}")
printf '%-6s %10.1f %10.1f %10.1f %8sx %8sx\n' median "$mo" "$m16" "$m32" "$(ratio "$mo" "$m16")" "$(ratio "$mo" "$m32")"
echo "ours' model dtype: $dtype; same tokens as the peer: $same; x = ours / peer (>1: ours faster); logs in $work"
