#!/usr/bin/env bash
# What the main job's reader learns, and whether its cross-attention scores
# point at the passage that answers (the retriever's targets). On the
# bundled corpus (1000 people, 3600 training questions, BM25 top-20) it
# trains small readers and prints, per reader:
#   - dev EM (on BM25's top 5, or on the gold passage alone);
#   - G@k of its scores: the fraction of dev questions whose gold passage
#     (the one titled with the asked person) is among the k passages the
#     reader's cross-attention ranks highest over all 20 (the seed's mean
#     logit and the attention mass), against BM25's own G@k.
# Experiments: A overfits 32 examples (can the model and pipeline fit at
# all); B reads the gold passage alone (can it copy an answer); C is the
# main job's setting (5 BM25 passages); D is C after span-corruption
# pretraining (fid pretrain-reader).
#   tests/bench/bench_reader_learning.sh [build_dir] [steps]   (~15 min at 3000 steps)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
steps="${2:-3000}"
fid="$build/bin/fid"
source "$root/launch/env.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
run() { "$root/launch/fid-mpirun" -n 2 -- "$fid" "$@" > /dev/null 2>&1; }

"$fid" synth-data --output_dir data --people 1000 --dev_fraction 0.05 --test_fraction 0.05 >/dev/null 2>&1
"$fid" train-tokenizer --passages data/passages.tsv --output_dir tok --vocab_size 2500 >/dev/null 2>&1
for layers in 2 4; do
  "$fid" init-model --arch t5 --tokenizer tok --d_model 64 --num_layers "$layers" --num_heads 4 \
    --d_ff 128 --seed 1 --output_dir "t5L$layers" >/dev/null 2>&1
done
for split in train dev; do
  run bm25 --passages data/passages.tsv --data "data/$split.json" --output_path "$split.json" \
    --n-docs 20 --index_dir bm25
  # The gold passage first (then the others), scores in that order.
  jq '[.[] | .question as $q | .ctxs |= ((map(select(.title as $t | $q | contains($t)))
        + map(select(.title as $t | $q | contains($t) | not)))
        | [to_entries[] | .value + {score: (100 - .key)}])]' "$split.json" > "gold_$split.json"
done
jq '.[:32]' gold_train.json > over32.json

gold_at() {  # gold_at FILE: G@1 G@5 of its ctx scores
  jq -r '[.[] | .question as $q | .ctxs | sort_by(-.score)
          | map(.title as $t | $q | contains($t)) | index(true) // 99]
         | [(map(select(. < 1)) | length) / length, (map(select(. < 5)) | length) / length]
         | map(. * 1000 | round / 1000 | tostring) | join("  ")' "$1"
}
train() {  # train NAME MODEL TRAIN EVAL N_CONTEXT STEPS DROPOUT
  run train-reader --name "$1" --model_path "$2" --train_data "$3" --eval_data "$4" \
    --n_context "$5" --total_steps "$6" --eval_freq "$6" --save_freq "$6" --dropout "$7" \
    --checkpoint_dir runs --per_gpu_batch_size 8 --optim adamw --lr 2e-3 --scheduler linear \
    --warmup_steps 50 --text_maxlength 80 --answer_maxlength 12
  jq -r 'select(.eval_em) | .eval_em' "runs/$1/metrics.jsonl" | tail -n 1
}
scores() {  # scores NAME KIND: G@1 G@5 of the reader's scores over BM25's top 20 (dev)
  run test-reader --name "sc-$1-$2" --model_path "runs/$1/checkpoint/latest" --eval_data dev.json \
    --checkpoint_dir runs --per_gpu_batch_size 8 --n_context 20 --text_maxlength 80 \
    --max_length 2 --write_crossattention_scores --crossattention_score "$2"
  gold_at "runs/sc-$1-$2/dataset_wscores.json"
}

printf '%-44s %8s  %-14s %-14s\n' experiment "dev EM" "G@1 G@5 seed" "G@1 G@5 mass"
printf '%-44s %8s  %-14s\n' "BM25 ranking (no reader)" - "$(gold_at dev.json)"
report() {  # report LABEL NAME EM
  printf '%-44s %8s  %-14s %-14s\n' "$1" "$3" "$(scores "$2" seed)" "$(scores "$2" mass)"
}
report "A overfit 32 examples (EM on them), 2+2" A "$(train A t5L2 over32.json over32.json 1 300 0)"
report "B gold passage only, 2+2 layers" B2 "$(train B2 t5L2 gold_train.json gold_dev.json 1 "$steps" 0)"
report "B gold passage only, 4+4 layers" B4 "$(train B4 t5L4 gold_train.json gold_dev.json 1 "$steps" 0)"
report "C BM25 top 5, 4+4 layers" C "$(train C t5L4 train.json dev.json 5 "$steps" 0.1)"
run pretrain-reader --name pre --model_path t5L4 --passages data/passages.tsv --checkpoint_dir runs \
  --total_steps 1500 --save_freq 1500 --eval_freq 100000 --per_gpu_batch_size 16 --optim adamw \
  --lr 3e-3 --scheduler linear --warmup_steps 50 --dropout 0 --text_maxlength 80
report "D BM25 top 5, 4+4, after pretrain-reader" D \
  "$(train D runs/pre/checkpoint/latest train.json dev.json 5 "$steps" 0.1)"
