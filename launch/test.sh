#!/usr/bin/env bash
# Set-up (packages, build), then every test through CTest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${FID_BUILD_DIR:-$root/build}"
bash "$root/launch/setup.sh"
source "$root/launch/env.sh"
cd "$build_dir"

# The cluster tests (label `cluster`: two hosts made of network namespaces,
# a single-node SLURM) need root and namespaces; FID_CLUSTER_TESTS=0 skips them.
cluster_skip=""
if [[ "${FID_CLUSTER_TESTS:-1}" == 0 ]]; then
  cluster_skip="FID_CLUSTER_TESTS=0"
elif [[ $(id -u) -ne 0 ]]; then
  cluster_skip="not root (they create network namespaces and start SLURM daemons)"
elif ! command -v ip >/dev/null; then
  cluster_skip="no 'ip' command (iproute2)"
elif ! { ip netns add "fidprobe$$" 2>/dev/null && ip netns delete "fidprobe$$"; }; then
  cluster_skip="network namespaces cannot be created here (ip netns add failed)"
fi
label_args=()
if [[ -n "$cluster_skip" ]]; then
  echo "test: SKIPPING the cluster tests (label cluster): $cluster_skip"
  label_args=(-LE cluster)
else
  echo "test: running the cluster tests (label cluster)"
fi
rc=0
ctest --output-on-failure -j "${FID_TEST_JOBS:-1}" "${label_args[@]}" "$@" || rc=$?
# A cluster test that skips (SLURM missing, ...) says why in its output, which
# CTest shows only for failures.
grep -h "^SKIP: " Testing/Temporary/LastTest.log 2>/dev/null | sort -u | sed 's/^SKIP: /test: skipped: /' || true
exit "$rc"
