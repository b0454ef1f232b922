#!/usr/bin/env bash
# The GPU tests on a machine with GPUs, from a CUDA build of fid (one made
# with a CUDA LibTorch and -DFID_WITH_NCCL=ON; launch/check-cuda-build.sh
# shows how on Debian 13):
#   tests/gpu/run.sh [build_dir]
# Runs the reader suite on one GPU (training steps and evaluation against the
# CPU, a GPU checkpoint resumed on the CPU, fp16 loss scaling through an
# overflow) and the NCCL suite with one rank per GPU (NCCL all-reduce and
# gradient buckets against MPI). Without a GPU for each of them the tests fail
# saying so (tests/gpu/gpu_required.h).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-${FID_BUILD_DIR:-$root/build}}"
source "$root/launch/env.sh"
fail() { echo "tests/gpu/run.sh: $*" >&2; exit 1; }

version="$("$build/bin/fid" --version)" || fail "no fid in $build/bin (give the build directory)"
grep -q "CUDA: yes" <<<"$version" ||
  fail "$build is not a CUDA build ($(tail -1 <<<"$version")); build one with a CUDA LibTorch and -DFID_WITH_NCCL=ON"
command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: is this a GPU machine with its driver?"
gpus=$(nvidia-smi -L | grep -c '^GPU ') || true
((gpus > 0)) || fail "nvidia-smi lists no GPU"
echo "tests/gpu/run.sh: $(tail -1 <<<"$version"), $gpus GPU(s)"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
"$build/tests/gpu/test_gpu_training" 2>&1 | tee "$log" || rc=1
# shellcheck disable=SC2086  # one rank per GPU
mpiexec -n "$gpus" "$build/tests/gpu/test_gpu_nccl" 2>&1 | tee -a "$log" || rc=1
((rc == 0)) || fail "GPU tests failed"
echo "tests/gpu/run.sh: all GPU tests passed"
