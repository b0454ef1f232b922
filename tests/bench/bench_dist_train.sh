#!/usr/bin/env bash
# Reader training throughput: 1 rank x 2 threads against 2 ranks x 1 thread,
# same model, data and global batch; prints examples/s of each and the ratio.
# (bench_dist measures the all-reduce bandwidth; this is its training half.)
#   tests/bench/bench_dist_train.sh [build_dir] [steps]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
steps="${2:-30}"
fid="$build/bin/fid"
source "$root/launch/env.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$fid" synth-data --output_dir "$work/data" --people 200 >/dev/null 2>&1
"$fid" init-model --arch t5 --tokenizer "$root/tests/data/fixtures/t5_tokenizer/spiece.model" \
  --d_model 256 --num_layers 4 --num_heads 4 --d_ff 1024 --output_dir "$work/t5" >/dev/null 2>&1
"$fid" bm25 --passages "$work/data/passages.tsv" --data "$work/data/train.json" \
  --output_path "$work/train.json" --n-docs 10 >/dev/null 2>&1
common=(train-reader --train_data "$work/train.json" --model_path "$work/t5" --n_context 5
        --text_maxlength 128 --total_steps "$steps" --save_freq 100000 --eval_freq 100000
        --checkpoint_dir "$work/ck" --dropout 0)
rate() {  # mean examples/s over the records after the first (start-up excluded)
  grep examples_per_s "$1" | tail -n +2 | sed 's/.*"examples_per_s":\([0-9.e+-]*\).*/\1/' |
    awk '{s+=$1; n++} END {printf "%.2f", s/n}'
}
"$fid" "${common[@]}" --name one --threads 2 --per_gpu_batch_size 4 >/dev/null 2>&1
mpiexec -n 2 --oversubscribe --bind-to none "$fid" "${common[@]}" --name two --threads 1 \
  --per_gpu_batch_size 2 >/dev/null 2>&1
one=$(rate "$work/ck/one/metrics.jsonl")
two=$(rate "$work/ck/two/metrics.jsonl")
echo "reader training (d_model 256, 4+4 layers, 5 passages x 128 tokens, global batch 4, $steps steps)"
echo "  1 rank  x 2 threads: $one examples/s"
echo "  2 ranks x 1 thread : $two examples/s"
awk -v a="$two" -v b="$one" 'BEGIN {printf "  ratio (2 ranks / 1 rank): %.2f\n", a / b}'
