#!/usr/bin/env bash
# The main job on a bundled synthetic corpus, under mpirun with 2 ranks:
#   synthetic corpus -> sentencepiece tokenizer -> small T5 reader and BERT
#   retriever -> BM25 top-k (iteration 0) -> train-reader -> test-reader
#   (EM, and the reader's cross-attention scores) -> train-retriever
#   (distillation from those scores).
# It prints one table of what each stage measured and writes it as JSON into
# the output directory. Safe to run again: each run starts from a clean
# output directory.
#
#   launch/demo.sh [output_dir]      (default: demo-out/)
# Environment: FID_DEMO_RANKS (2), FID_DEMO_PEOPLE (300), FID_DEMO_STEPS (300).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(realpath -m "${1:-$root/demo-out}")"
ranks="${FID_DEMO_RANKS:-2}"
people="${FID_DEMO_PEOPLE:-300}"
steps="${FID_DEMO_STEPS:-300}"

bash "$root/launch/setup.sh"
source "$root/launch/env.sh"
fid="$root/build/bin/fid"
run() { "$root/launch/fid-mpirun" -n "$ranks" -- "$fid" "$@"; }
json_get() { sed -n "s/^ *\"$2\": *\([-0-9.e]*\),\{0,1\}$/\1/p" "$1" | head -n 1; }
declare -A seconds
stage() {  # stage NAME command...
  local name="$1"; shift
  local t0=$SECONDS
  echo "== $name"
  "$@"
  seconds[$name]=$((SECONDS - t0))
}

rm -rf "$out"
mkdir -p "$out"
cd "$out"

stage synth-data "$fid" synth-data --output_dir data --people "$people" --seed 0
stage tokenizer "$fid" train-tokenizer --passages data/passages.tsv --output_dir tokenizer \
  --vocab_size 500 --model_type unigram
stage init-models bash -c "
  '$fid' init-model --arch t5 --tokenizer tokenizer --d_model 64 --num_layers 2 --num_heads 4 \
    --d_ff 128 --dropout_rate 0.1 --seed 1 --output_dir models/t5 &&
  '$fid' init-model --arch retriever --tokenizer tokenizer/spiece.model --hidden_size 64 \
    --num_hidden_layers 2 --num_attention_heads 4 --intermediate_size 128 --indexing_dimension 32 \
    --apply_question_mask --apply_passage_mask --question_maxlength 24 --passage_maxlength 160 \
    --seed 2 --output_dir models/retriever"

# Iteration 0: BM25 passages for every split.
for split in train dev test; do
  stage "bm25-$split" run bm25 --passages data/passages.tsv --data "data/$split.json" \
    --output_path "iter0/$split.json" --n-docs 20 --index_dir iter0/bm25-index
done

reader_opts=(--n_context 5 --text_maxlength 160 --answer_maxlength 12 --per_gpu_batch_size 4
             --optim adamw --lr 1e-3 --scheduler linear --warmup_steps 20 --dropout 0.1)
stage train-reader run train-reader --train_data iter0/train.json --eval_data iter0/dev.json \
  --model_path models/t5 --checkpoint_dir runs --name reader0 --total_steps "$steps" \
  --eval_freq "$steps" --save_freq "$steps" "${reader_opts[@]}"
reader="runs/reader0/checkpoint/latest"
for split in dev test; do
  stage "test-reader-$split" run test-reader --model_path "$reader" --eval_data "iter0/$split.json" \
    --checkpoint_dir runs --name "eval0-$split" --n_context 5 --text_maxlength 160 \
    --per_gpu_batch_size 8 --write_results
done
for split in train dev; do
  stage "scores-$split" run test-reader --model_path "$reader" --eval_data "iter0/$split.json" \
    --checkpoint_dir runs --name "scores0-$split" --n_context 5 --text_maxlength 160 \
    --per_gpu_batch_size 8 --write_crossattention_scores
done
stage train-retriever run train-retriever --model_path models/retriever \
  --train_data runs/scores0-train/dataset_wscores.json --eval_data runs/scores0-dev/dataset_wscores.json \
  --checkpoint_dir runs --name retriever1 --n_context 5 --per_gpu_batch_size 8 \
  --total_steps "$steps" --eval_freq "$steps" --save_freq "$steps" --optim adamw --lr 1e-3

# The table: what each stage measured.
r_dev=iter0/dev.json.metrics.json
r_test=iter0/test.json.metrics.json
em_dev=$(json_get runs/eval0-dev/eval_metrics.json exact_match)
em_test=$(json_get runs/eval0-test/eval_metrics.json exact_match)
ret_metrics=$(grep eval_loss runs/retriever1/metrics.jsonl | tail -n 1)
printf '\n%-10s %-6s %7s %7s %7s %10s\n' iteration split R@1 R@5 R@20 reader-EM
for split in dev test; do
  m="iter0/$split.json.metrics.json"
  em=$([[ $split == dev ]] && echo "$em_dev" || echo "$em_test")
  printf '%-10s %-6s %7.3f %7.3f %7.3f %10.3f\n' "0 (BM25)" "$split" "$(json_get "$m" top1)" \
    "$(json_get "$m" top5)" "$(json_get "$m" top20)" "$em"
done
echo
echo "retriever distilled from the reader (dev, reader-score targets): $ret_metrics"
echo
echo "wall time per stage (s):"
for k in "${!seconds[@]}"; do printf '  %-20s %5d\n' "$k" "${seconds[$k]}"; done | sort

{
  echo "{"
  echo "  \"iterations\": [{\"iteration\": 0, \"retrieval\": \"bm25\","
  echo "    \"dev\": {\"r1\": $(json_get $r_dev top1), \"r5\": $(json_get $r_dev top5), \"r20\": $(json_get $r_dev top20), \"em\": $em_dev},"
  echo "    \"test\": {\"r1\": $(json_get $r_test top1), \"r5\": $(json_get $r_test top5), \"r20\": $(json_get $r_test top20), \"em\": $em_test}}],"
  echo "  \"retriever_distillation\": $ret_metrics,"
  echo "  \"stage_seconds\": {"
  sep=""
  for k in "${!seconds[@]}"; do printf '%s    "%s": %d' "$sep" "$k" "${seconds[$k]}"; sep=$',\n'; done
  echo
  echo "  }"
  echo "}"
} > results.json
echo "wrote $out/results.json"
