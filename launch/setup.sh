#!/usr/bin/env bash
# Installs what FiD-MPI needs on Debian 12 (only the packages that are
# missing), then configures and builds Release into build/ with every core.
# Safe to run again: an up-to-date tree rebuilds nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${FID_BUILD_DIR:-$root/build}"

source "$root/launch/packages.sh"
packages=("${fid_packages[@]}" libtorch-dev)

# The cluster tests (tests/cluster, label `cluster`) start a single-node SLURM
# with its own munge. Installed where those tests run (as root, as in CI)
# unless FID_CLUSTER_TESTS=0; FID_CLUSTER_TESTS=1 installs them through sudo
# too. (Where systemd runs, Debian starts the munge and slurmd services on
# install; the tests use daemons of their own and leave those alone.)
if [[ "${FID_CLUSTER_TESTS:-}" == 1 || ( $(id -u) -eq 0 && "${FID_CLUSTER_TESTS:-1}" != 0 ) ]]; then
  packages+=(iproute2 slurmctld slurmd slurm-client munge)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install packages" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

jobs="${FID_JOBS:-$(nproc)}"
cmake_args=(-S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release)
[[ -n "${FID_CMAKE_ARGS:-}" ]] && read -r -a extra <<<"$FID_CMAKE_ARGS" && cmake_args+=("${extra[@]}")
cmake "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs"
echo "setup: built $build_dir/bin/fid"
