#!/usr/bin/env bash
# Measures `fid embed-passages` on this node, to plan a Wikipedia-scale job:
# passages/s per rank for a BERT-base retriever (110M parameters, 768-d
# vectors, passages cut at 200 tokens) at several ranks x threads, and the
# hours 21M passages would take on one node and on N nodes.
#
#   cluster/embed_rate.sh [--fid PATH] [--passages N] [--model base|small] [RxT ...]
#     RxT: R ranks of T threads each (default: 1x1 and 1x<cores>, and <cores>x1)
#     --model small: 4 layers, hidden 256 (a quick check of the pipeline)
# Weights are random: the rate does not depend on them. Passages are the
# synthetic corpus's (~100 words, as Wikipedia's DPR passages); with the small
# test vocabulary every passage fills its 200 tokens, the worst case (real
# passages average ~140 BERT tokens).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fid="$root/build/bin/fid"
n=64
model=base
configs=()
while (($#)); do
  case "$1" in
    --fid) fid="$2"; shift 2 ;;
    --passages) n="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *x*) configs+=("$1"); shift ;;
    *) echo "embed_rate: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -x "$fid" ]] || { echo "embed_rate: no fid binary at '$fid' (build it, or give --fid)" >&2; exit 2; }
fid="$(realpath "$fid")"
cores=$(nproc)
((${#configs[@]})) || configs=(1x1 "1x$cores" "${cores}x1")
[[ $(id -u) -eq 0 ]] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

work="$(mktemp -d "${TMPDIR:-/tmp}/fid-embed-rate-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
# One passage per person in the synthetic corpus.
"$fid" synth-data --output_dir data --people "$n" --words 100 --seed 1 >synth.log 2>&1 ||
  { cat synth.log; echo "embed_rate: fid synth-data failed" >&2; exit 1; }
{ head -n 1 data/passages.tsv; tail -n +2 data/passages.tsv | head -n "$n"; } >passages.tsv
n=$(($(wc -l <passages.tsv) - 1))
case "$model" in
  base) shape=(--hidden_size 768 --num_hidden_layers 12 --num_attention_heads 12 --intermediate_size 3072
               --indexing_dimension 768) ;;
  small) shape=(--hidden_size 256 --num_hidden_layers 4 --num_attention_heads 4 --intermediate_size 1024
                --indexing_dimension 256) ;;
  *) echo "embed_rate: --model is base or small, got '$model'" >&2; exit 2 ;;
esac
"$fid" init-model --arch retriever --tokenizer "$root/tests/data/fixtures/bert/vocab.txt" \
  --vocab_size 30522 --max_position_embeddings 512 "${shape[@]}" --apply_passage_mask \
  --apply_question_mask --passage_maxlength 200 --seed 1 --output_dir model >init.log 2>&1 ||
  { cat init.log; echo "embed_rate: fid init-model failed" >&2; exit 1; }

echo "embed-passages, $model retriever, $n passages of 200 tokens, $cores cores ($(uptime | sed 's/.*load/load/'))"
printf '%-8s %-10s %14s %14s %16s\n' ranks threads "passages/s/rank" "passages/s" "21M passages (h)"
for c in "${configs[@]}"; do
  r="${c%x*}"
  t="${c#*x}"
  rm -rf out
  FID_THREADS="$t" "$root/launch/fid-mpirun" -n "$r" -- "$fid" embed-passages --model_path model \
    --passages passages.tsv --output_path out/ --per_gpu_batch_size 16 >"run-$c.log" 2>&1 ||
    { tail -n 20 "run-$c.log"; echo "embed_rate: $c failed" >&2; exit 1; }
  # Rank 0's own rate (after the model is loaded): "... N passages in S s (R passages/s".
  rate=$(sed -n "s/.*wrote '.*': [0-9]* passages in [0-9.e+-]* s (\([0-9.e+-]*\) passages\/s.*/\1/p" "run-$c.log" | head -n 1)
  [[ -n "$rate" ]] || { tail -n 5 "run-$c.log"; echo "embed_rate: no rate in the log of $c" >&2; exit 1; }
  awk -v r="$r" -v t="$t" -v rate="$rate" 'BEGIN {
    printf "%-8d %-10d %14.3f %14.3f %16.1f\n", r, t, rate, r * rate, 21015324 / (r * rate) / 3600 }'
done
grep -o "model [a-z0-9]*: [^;]*" "run-${configs[0]}.log" | head -n 1 | sed 's/^/precision: /'
