# shellcheck shell=bash
# Sourced by the cluster tests: skipping with a reason, a scratch directory
# whose clean-up also runs after a failure, stale-state removal, checks, and
# the small inputs every cluster test shares.
#
# A test skips with exit code 77 (CTest SKIP_RETURN_CODE) and a line
# "SKIP: <reason>"; it fails with exit 1 and a line "FAIL: <reason>".

CLUSTER_SKIP=77
CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$CLUSTER_DIR/../.." && pwd)"
FID_MPIRUN="$REPO_ROOT/launch/fid-mpirun"

skip() { echo "SKIP: $(basename "$0" .sh): $*"; exit "$CLUSTER_SKIP"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
say() { echo "[$(date +%H:%M:%S)] $*"; }

# Clean-up actions run last-in first-out when the script exits for any reason
# (success, failure, set -e, SIGINT/SIGTERM from CTest's timeout).
_cleanups=()
on_exit() { _cleanups+=("$*"); }
_run_cleanups() {
  local rc=$?
  local i
  set +e
  for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[$i]}"; done
  exit "$rc"
}
trap _run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

need_root() {
  [[ "${FID_CLUSTER_TESTS:-1}" != 0 ]] || skip "FID_CLUSTER_TESTS=0"
  [[ $(id -u) -eq 0 ]] || skip "$1 needs root; run the cluster tests as root (CI does) or skip them"
}

# The fid binary: $FID_BINARY (CTest sets it) or the first argument.
find_fid() {
  FID="${1:-${FID_BINARY:-}}"
  [[ -n "$FID" && -x "$FID" ]] || fail "no fid binary: pass its path or set FID_BINARY (got '$FID')"
  FID="$(realpath "$FID")"  # the tests change directory
}

# A scratch directory /tmp/fid-cluster-<kind>-<pid>; an earlier run killed
# before its clean-up (CTest's timeout sends SIGKILL) left one whose pid is
# dead: the kind's own clean-up function `stale_<kind> DIR` removes it first.
make_workdir() {
  local kind="$1" d pid
  for d in /tmp/fid-cluster-"$kind"-*; do
    [[ -d "$d" ]] || continue
    pid="${d##*-}"
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    kill -0 "$pid" 2>/dev/null && continue
    if declare -F "stale_$kind" >/dev/null; then "stale_$kind" "$d"; fi
    rm -rf "$d"
  done
  WORK="/tmp/fid-cluster-$kind-$$"
  rm -rf "$WORK"
  mkdir -p "$WORK"
  if [[ -z "${FID_CLUSTER_KEEP:-}" ]]; then
    on_exit "rm -rf '$WORK'"
  else
    on_exit "echo 'kept $WORK (FID_CLUSTER_KEEP)'"
  fi
}

# Kills a process we started, by its pid, and waits up to 10 s for it to go.
kill_pid() {
  local pid="$1" i
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

# Runs a command with a time limit, so a hang fails the test (and the
# clean-up runs) before CTest's own timeout kills everything.
run_limited() {
  local secs="$1"
  shift
  timeout --kill-after=10 "$secs" "$@"
}

# Same bytes, or fail naming both files.
same_file() {
  [[ -s "$1" ]] || fail "$1 is missing or empty"
  [[ -s "$2" ]] || fail "$2 is missing or empty"
  cmp -s "$1" "$2" || fail "$1 and $2 differ: $(cmp "$1" "$2" 2>&1 | head -n 1)"
}

# Small inputs in $1: synthetic corpus, tokenizer, a tiny BERT retriever and a
# tiny T5 reader (seconds to build on two cores).
make_tiny_inputs() {
  local d="$1"
  mkdir -p "$d"
  "$FID" synth-data --output_dir "$d/data" --people 40 --seed 3 >"$d/synth.log" 2>&1 ||
    { cat "$d/synth.log"; fail "fid synth-data"; }
  "$FID" train-tokenizer --passages "$d/data/passages.tsv" --output_dir "$d/tokenizer" \
    --vocab_size 300 --model_type unigram >"$d/tokenizer.log" 2>&1 ||
    { cat "$d/tokenizer.log"; fail "fid train-tokenizer"; }
  "$FID" init-model --arch retriever --tokenizer "$d/tokenizer/spiece.model" --hidden_size 32 \
    --num_hidden_layers 1 --num_attention_heads 2 --intermediate_size 64 --indexing_dimension 16 \
    --apply_question_mask --apply_passage_mask --question_maxlength 24 --passage_maxlength 64 \
    --seed 2 --output_dir "$d/retriever" >"$d/init.log" 2>&1 || { cat "$d/init.log"; fail "fid init-model"; }
  "$FID" init-model --arch t5 --tokenizer "$d/tokenizer" --d_model 32 --num_layers 1 --num_heads 2 \
    --d_ff 64 --dropout_rate 0.1 --seed 1 --output_dir "$d/t5" >>"$d/init.log" 2>&1 ||
    { cat "$d/init.log"; fail "fid init-model --arch t5"; }
}
