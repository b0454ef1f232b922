#!/usr/bin/env bash
# The main job's report: reads what each stage of launch/demo.sh measured
# (retrieval metrics, reader EM, index size, stage wall times) and prints
# one table, a row per iteration, then writes it as results.json and plots
# R@5 and EM per iteration into results.png.
#
#   launch/demo_report.sh OUTPUT_DIR ITERATIONS
set -euo pipefail
out="$1"
iterations="$2"
cd "$out"

metric() {  # metric FILE KEY: the number, or null when the stage left none
  [[ -f "$1" ]] && jq -e ".$2 // empty" "$1" 2>/dev/null || echo null
}

rows=()
for ((it = 0; it <= iterations; it++)); do
  times=$(awk -F'\t' -v it="$it" '$1 == it { printf "%s\"%s\": %s", sep, $2, $3; sep = ", " }' \
    stage_seconds.tsv)
  row=$(jq -n \
    --argjson it "$it" \
    --arg retrieval "$([[ $it == 0 ]] && echo "BM25" || echo "distilled dense, PQ")" \
    --argjson index "$(cat "iter$it/index.json" 2>/dev/null || echo null)" \
    --argjson dev_r1 "$(metric "iter$it/dev.json.metrics.json" top1)" \
    --argjson dev_r5 "$(metric "iter$it/dev.json.metrics.json" top5)" \
    --argjson dev_r20 "$(metric "iter$it/dev.json.metrics.json" top20)" \
    --argjson dev_em "$(metric "runs/eval$it-dev/eval_metrics.json" exact_match)" \
    --argjson test_r1 "$(metric "iter$it/test.json.metrics.json" top1)" \
    --argjson test_r5 "$(metric "iter$it/test.json.metrics.json" top5)" \
    --argjson test_r20 "$(metric "iter$it/test.json.metrics.json" top20)" \
    --argjson test_em "$(metric "runs/eval$it-test/eval_metrics.json" exact_match)" \
    --argjson seconds "{$times}" \
    '{iteration: $it, retrieval: $retrieval, index: $index,
      dev: {r1: $dev_r1, r5: $dev_r5, r20: $dev_r20, em: $dev_em},
      test: {r1: $test_r1, r5: $test_r5, r20: $test_r20, em: $test_em},
      stage_seconds: $seconds}')
  rows+=("$row")
done
setup_times=$(awk -F'\t' '$1 == "setup" { printf "%s\"%s\": %s", sep, $2, $3; sep = ", " }' \
  stage_seconds.tsv)
last_on_bm25=$(jq -n --argjson dev "$(metric runs/eval-last-bm25-dev/eval_metrics.json exact_match)" \
  --argjson test "$(metric runs/eval-last-bm25-test/eval_metrics.json exact_match)" \
  '{dev_em: $dev, test_em: $test}')
printf '%s\n' "${rows[@]}" | jq -s --argjson setup "{$setup_times}" --argjson bm25 "$last_on_bm25" \
  '{iterations: ., last_reader_on_bm25_passages: $bm25, setup_seconds: $setup}' > results.json.tmp
mv results.json.tmp results.json

fmt() { jq -r "$1 | if . == null then \"-\" else (. * 1000 | round / 1000 | tostring) end"; }
echo
printf '%-4s %-20s |%-24s|%-24s| %9s\n' "" "" "          dev" "          test" ""
printf '%-4s %-20s |%s|%s| %9s\n' iter passages "   R@1   R@5  R@20    EM " \
  "   R@1   R@5  R@20    EM " "bytes/psg"
for row in "${rows[@]}"; do
  printf '%-4s %-20s |' "$(jq -r .iteration <<<"$row")" "$(jq -r .retrieval <<<"$row")"
  for split in dev test; do
    printf ' %5s %5s %5s %5s |' "$(fmt ".$split.r1" <<<"$row")" "$(fmt ".$split.r5" <<<"$row")" \
      "$(fmt ".$split.r20" <<<"$row")" "$(fmt ".$split.em" <<<"$row")"
  done
  printf ' %9s\n' "$(fmt '.index.bytes_per_passage' <<<"$row")"
done
printf '\nthe last reader on BM25'"'"'s passages (iteration 0'"'"'s): dev EM %s, test EM %s\n' \
  "$(fmt .dev_em <<<"$last_on_bm25")" "$(fmt .test_em <<<"$last_on_bm25")"
echo
echo "wall time per stage (s):"
for row in "${rows[@]}"; do
  printf '  iteration %s: %s\n' "$(jq -r .iteration <<<"$row")" \
    "$(jq -r '.stage_seconds | to_entries | map("\(.key) \(.value)") | join(", ")' <<<"$row")"
done
printf '  setup: %s\n' "$(jq -r '.setup_seconds | to_entries | map("\(.key) \(.value)") | join(", ")' results.json)"

# The plot: passages' R@5 and reader EM per iteration, dev and test.
jq -r '.iterations[] | [.iteration, .dev.r5, .test.r5, .dev.em, .test.em]
       | map(if . == null then "NaN" else tostring end) | join(" ")' results.json > results.dat
if command -v gnuplot >/dev/null; then
  gnuplot <<'EOF'
set terminal png size 800,500
set output 'results.png.tmp'
set title 'Reader-to-retriever distillation'
set xlabel 'iteration (0 = BM25)'
set ylabel 'fraction of questions'
set yrange [0:1]
set xtics 1
set key outside right
plot 'results.dat' using 1:2 with linespoints title 'dev R@5', \
     '' using 1:3 with linespoints title 'test R@5', \
     '' using 1:4 with linespoints title 'dev reader EM', \
     '' using 1:5 with linespoints title 'test reader EM'
EOF
  mv results.png.tmp results.png
  echo "wrote $out/results.json and $out/results.png"
else
  echo "wrote $out/results.json (gnuplot not found: no plot)"
fi
