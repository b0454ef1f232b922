#!/usr/bin/env bash
# Two hosts (network namespaces joined by a veth pair), one rank on each,
# Open MPI over TCP: each distributed subcommand must give the same output as
# the same two ranks on one host.
#
#   tests/cluster/test_multihost.sh [path/to/fid]
# Skips (exit 77) when not root or when namespaces cannot be created.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_DIR/netns_hosts.sh"

need_root "the multi-host test (network namespaces)"
command -v ip >/dev/null || skip "the 'ip' command (iproute2) is not installed"
command -v mpirun >/dev/null || skip "mpirun is not installed"
find_fid "${1:-}"
make_workdir multihost
netns_up
cd "$WORK"

say "placement: one rank per host"
check_ranks_on_two_hosts

say "inputs"
make_tiny_inputs "$WORK/in"
in="$WORK/in"
# One thread per rank everywhere: outputs may then be compared byte for byte.
export FID_THREADS=1
on_hosts() {
  local where="$1"
  shift
  if [[ "$where" == one ]]; then on_one_host "$@"; else on_two_hosts "$@"; fi
}

# fid bm25: each rank indexes its shard; results gathered and merged on rank 0.
for where in one two; do
  say "bm25 on $where host(s)"
  on_hosts "$where" "$FID" bm25 --passages "$in/data/passages.tsv" --data "$in/data/dev.json" \
    --output_path "$WORK/bm25-$where.json" --n-docs 10 --index_dir "$WORK/bm25-index-$where" \
    >"$WORK/bm25-$where.log" 2>&1 || { cat "$WORK/bm25-$where.log"; fail "bm25 on $where host(s)"; }
done
grep -q '"ctxs"' "$WORK/bm25-one.json" || fail "bm25 output has no ctxs"
same_file "$WORK/bm25-one.json" "$WORK/bm25-two.json"
say "bm25: outputs identical"

# fid train-retriever: gradients all-reduced across the hosts; the BM25 scores
# stand in for the reader's, which is all distillation needs to run.
for where in one two; do
  say "train-retriever on $where host(s)"
  on_hosts "$where" "$FID" train-retriever --model_path "$in/retriever" \
    --train_data "$WORK/bm25-one.json" --checkpoint_dir "$WORK/ck-$where" --name r --n_context 10 \
    --per_gpu_batch_size 2 --total_steps 4 --save_freq 4 --eval_freq 1000 --optim adamw --lr 1e-3 \
    --seed 5 >"$WORK/tr-$where.log" 2>&1 || { cat "$WORK/tr-$where.log"; fail "train-retriever on $where host(s)"; }
done
cmp -s "$in/retriever/model.safetensors" "$WORK/ck-one/r/checkpoint/step-4/model.safetensors" &&
  fail "train-retriever did not change the weights"
same_file "$WORK/ck-one/r/checkpoint/step-4/model.safetensors" "$WORK/ck-two/r/checkpoint/step-4/model.safetensors"
say "train-retriever: weights identical"

# fid embed-passages: one HDF5 shard per rank, written where the rank runs.
for where in one two; do
  say "embed-passages on $where host(s)"
  on_hosts "$where" "$FID" embed-passages --model_path "$in/retriever" \
    --passages "$in/data/passages.tsv" --output_path "$WORK/emb-$where/" --per_gpu_batch_size 8 \
    >"$WORK/emb-$where.log" 2>&1 || { cat "$WORK/emb-$where.log"; fail "embed-passages on $where host(s)"; }
done
same_file "$WORK/emb-one/manifest.json" "$WORK/emb-two/manifest.json"
for shard in passages_00000.h5 passages_00001.h5; do
  for f in "$WORK/emb-one/$shard" "$WORK/emb-two/$shard"; do
    [[ -s "$f" ]] || fail "embed-passages wrote no $f"
  done
  # Same ids; vectors equal within float rounding (they are stored as float16).
  h5diff "$WORK/emb-one/$shard" "$WORK/emb-two/$shard" /ids >"$WORK/h5diff.txt" 2>&1 ||
    { cat "$WORK/h5diff.txt"; fail "$shard: ids differ between one and two hosts"; }
  h5diff -d 1e-3 "$WORK/emb-one/$shard" "$WORK/emb-two/$shard" /embeddings >"$WORK/h5diff.txt" 2>&1 ||
    { cat "$WORK/h5diff.txt"; fail "$shard: embeddings differ between one and two hosts"; }
done
say "embed-passages: same shards, ids and vectors"

# fid retrieve: each rank indexes its shard (flat, then PQ with a quantizer
# trained on a sample from both hosts); top-k merged across the hosts.
for index in flat pq; do
  opts=()
  [[ $index == pq ]] && opts=(--n-subquantizers 4 --n-bits 4)
  for where in one two; do
    say "retrieve ($index) on $where host(s)"
    on_hosts "$where" "$FID" retrieve --model_path "$in/retriever" --passages "$in/data/passages.tsv" \
      --data "$in/data/dev.json" --passages_embeddings "$WORK/emb-$where/manifest.json" \
      --output_path "$WORK/ret-$index-$where.json" --n-docs 5 "${opts[@]}" \
      >"$WORK/ret-$index-$where.log" 2>&1 ||
      { cat "$WORK/ret-$index-$where.log"; fail "retrieve ($index) on $where host(s)"; }
  done
  grep -q '"ctxs"' "$WORK/ret-$index-one.json" || fail "retrieve ($index) output has no ctxs"
  same_file "$WORK/ret-$index-one.json" "$WORK/ret-$index-two.json"
done
say "retrieve: outputs identical"

say "PASS"
