#!/usr/bin/env bash
# launch/demo.sh end to end with one distillation iteration and a few
# training steps: every stage must run and report, results.json must hold a
# row per iteration with retrieval figures that are fractions ordered
# R@1 <= R@5 <= R@20, an EM, the index size and the stage times, and the
# plot must be a PNG. Run twice into the same directory: the second run must
# start clean (no stale shards or index refused as "from another run").
#   test_demo_smoke.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="$1"
build="$(cd "$2" && pwd)"
out="$(mktemp -d)/demo"
trap 'rm -rf "$(dirname "$out")"' EXIT
export FID_BUILD_DIR="$build" FID_DEMO_SKIP_SETUP=1 FID_DEMO_ITERATIONS=1 \
  FID_DEMO_READER_STEPS=4 FID_DEMO_READER_MORE_STEPS=2 FID_DEMO_RETRIEVER_STEPS=4 FID_DEMO_PEOPLE=300 \
  FID_DEMO_MIN_TOP_SHARE="0 0"

fail() { echo "demo_smoke: $*" >&2; exit 1; }
check_run() {
  local log="$out.log"
  bash "$src/launch/demo.sh" "$out" > "$log" 2>&1 || { tail -n 40 "$log"; fail "demo.sh failed"; }
  grep -q "bytes/psg" "$log" || fail "no table printed"
  local rows
  rows=$(jq '.iterations | length' "$out/results.json")
  [[ $rows == 2 ]] || fail "results.json has $rows iterations, expected 2"
  for it in 0 1; do
    for split in dev test; do
      jq -e --argjson i "$it" --arg s "$split" '.iterations[$i][$s] as $m
        | ([$m.r1, $m.r5, $m.r20, $m.em] | all(type == "number" and . >= 0 and . <= 1))
          and $m.r1 <= $m.r5 and $m.r5 <= $m.r20' "$out/results.json" > /dev/null ||
        fail "iteration $it $split: figures missing or out of order: $(jq -c ".iterations[$it].$split" "$out/results.json")"
    done
    jq -e --argjson i "$it" '.iterations[$i].index.bytes_per_passage > 0' "$out/results.json" > /dev/null ||
      fail "iteration $it: no index size"
  done
  jq -e '.iterations[1].stage_seconds | has("train-retriever") | not' "$out/results.json" > /dev/null ||
    fail "the last iteration must not train a retriever"
  jq -e '.iterations[0].stage_seconds | has("train-retriever") and has("train-reader")' \
    "$out/results.json" > /dev/null || fail "iteration 0 stage times missing"
  jq -e '.last_reader_on_bm25_passages | (.dev_em >= 0 and .dev_em <= 1 and .test_em >= 0 and .test_em <= 1)' \
    "$out/results.json" > /dev/null || fail "the last reader's EM on BM25 passages is missing"
  [[ $(head -c 4 "$out/results.png" | od -An -c | tr -d ' ') == *PNG* ]] || fail "results.png is not a PNG"
  [[ -f "$out/iter1/embeddings/manifest.json" ]] || fail "no embedding manifest"
}
check_run
check_run
echo "demo_smoke: ok"
