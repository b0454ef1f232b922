#!/usr/bin/env bash
# Set-up (packages, build), then every test through CTest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${FID_BUILD_DIR:-$root/build}"
bash "$root/launch/setup.sh"
source "$root/launch/env.sh"
cd "$build_dir"
ctest --output-on-failure -j "${FID_TEST_JOBS:-1}" "$@"
