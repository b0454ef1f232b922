#!/usr/bin/env bash
# `fid retrieve` end to end on 1M passages, IVF-PQ, top-100, 2 ranks: where
# the wall time goes (the stage times of its metrics file), for
#   build   the index trained, built and saved (--save_or_load_index),
#   small   the index loaded, questions encoded by the retriever that embedded
#           the passages (1 layer, 32 wide: encoding is nearly free, so the
#           other stages show at their largest),
#   base    the index loaded, questions encoded by a BERT-base-sized retriever
#           (12 x 768, projection to the same 64 dimensions; random weights:
#           the cost of FiD's question encoder, not its accuracy).
#   tests/bench/bench_retrieve_1m.sh [build_dir] [passages=1000000] [work_dir]
# Passages and 1,000 8-word questions are bench_bm25's texts (--write), each
# question's first word its answer; embedded once by embed-passages into a
# work directory that a second call reuses. A benchmark, never run in CI
# (about 5 minutes the first time on 2 cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)" n="${2:-1000000}" work="${3:-/tmp/bench_retrieve_1m}"
fid="$build/bin/fid"
source "$root/launch/env.sh"
mkdir -p "$work"
cd "$work"
mpirun() { mpiexec -n 2 --oversubscribe --bind-to none "$@"; }

if [ ! -s passages.tsv ] || [ ! -s questions.json ]; then
  "$build/bench/bench_bm25" --write . --queries 1000 "$n" >bench_bm25.log
  { printf 'id\ttext\ttitle\n'; awk '{ printf "%d\t%s\tp%d\n", NR, $0, NR }' "passages_$n.txt"; } >passages.tsv
  /usr/bin/python3 - "queries_$n.txt" >questions.json <<'EOF'
import json, sys
qs = [l.split() for l in open(sys.argv[1]) if l.strip()]
json.dump([{"id": str(i), "question": " ".join(q), "answers": [q[0]]} for i, q in enumerate(qs)], sys.stdout)
EOF
  rm -f "passages_$n.txt" "queries_$n.txt"
fi
vocab="$root/tests/data/fixtures/bert/vocab.txt"
common=(--tokenizer "$vocab" --indexing_dimension 64 --apply_question_mask --apply_passage_mask
        --question_maxlength 40 --passage_maxlength 32 --seed 3 --overwrite)
[ -s small/config.json ] || "$fid" init-model --arch retriever --output_dir small --hidden_size 32 \
  --num_hidden_layers 1 --num_attention_heads 4 --intermediate_size 64 "${common[@]}" >/dev/null
[ -s base/config.json ] || "$fid" init-model --arch retriever --output_dir base --hidden_size 768 \
  --num_hidden_layers 12 --num_attention_heads 12 --intermediate_size 3072 "${common[@]}" >/dev/null
[ -s emb/manifest.json ] || { mkdir -p emb && mpirun "$fid" embed-passages --model_path small \
  --passages passages.tsv --output_path emb/passages >embed.log 2>&1; }

run() {  # name model extra...
  local name=$1 model=$2; shift 2
  mpirun "$fid" retrieve --model_path "$model" --passages passages.tsv --passages_embeddings emb/manifest.json \
    --data questions.json --output_path "$name.json" --n-docs 100 --index_type ivfpq --n-subquantizers 16 \
    --save_or_load_index index "$@" >"$name.log" 2>&1
}
rm -rf index
run build small
run small small
run base base
/usr/bin/python3 - build small base <<'EOF'
import json, sys
stages = ["setup", "index", "encode", "search", "gather_merge", "passage_lookup", "answer_match", "write"]
print(f"{'run':<6} {'wall_s':>7} " + " ".join(f"{s:>13}" for s in stages) + "   other  other/wall")
for name in sys.argv[1:]:
    m = json.load(open(f"{name}.json.metrics.json"))
    t = {s: m[f"stage_{s}_s"] for s in stages}
    other = sum(t[s] for s in ["setup", "gather_merge", "passage_lookup", "answer_match", "write"])
    print(f"{name:<6} {m['wall_s']:7.2f} " + " ".join(f"{t[s]:13.3f}" for s in stages)
          + f"  {other:6.2f}  {100 * other / m['wall_s']:6.1f}%")
print("other = every stage but the index (build or load), question encoding and search; top-100 accuracy:",
      ", ".join(f"{n} {json.load(open(n + '.json.metrics.json'))['top100']:.3f}" for n in sys.argv[1:]))
EOF
echo "logs and outputs in $work"
