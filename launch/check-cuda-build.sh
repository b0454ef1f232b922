#!/usr/bin/env bash
# The CUDA/NCCL build check: builds FiD-MPI against Debian 13's CUDA LibTorch
# (libtorch-cuda-dev 2.6), CUDA 12.4 (nvidia-cuda-toolkit) and NCCL 2.22
# (libnccl-dev) inside a debootstrap'd Debian 13 root, with FID_WITH_NCCL=ON,
# then runs the test suite with that build on the CPU: CUDA is optional at run
# time, so the same binary must pass where no GPU is present. The host's own
# apt sources are left alone; everything Debian 13 lives in the root.
#
# Usage (as root):  launch/check-cuda-build.sh [ctest arguments...]
#   FID_CUDA_ROOT     where the Debian 13 root is kept between runs
#                     (default /var/cache/fid-mpi/trixie-cuda)
#   FID_DEBIAN_MIRROR Debian mirror (default http://deb.debian.org/debian)
#   FID_JOBS          build jobs (default: every core)
#   FID_CUDA_STAGE    stop after: bootstrap | packages | build (default: test)
#   FID_KEEP_GOING=1  build on past errors, to see all of them at once
# Not part of .ci/run: the first run downloads ~6 GB and builds from scratch.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chroot_dir="${FID_CUDA_ROOT:-/var/cache/fid-mpi/trixie-cuda}"
mirror="${FID_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
jobs="${FID_JOBS:-$(nproc)}"
stop_after="${FID_CUDA_STAGE:-test}"
say() { echo "check-cuda-build: $*"; }
die() { echo "check-cuda-build: error: $*" >&2; exit 1; }
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started )) s"; }

[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap and chroot); run it as root or through sudo"

# 1. The Debian 13 root, made once and kept.
if [[ ! -f "$chroot_dir/.fid-bootstrapped" ]]; then
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap on the host"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
  fi
  say "debootstrap trixie into $chroot_dir from $mirror"
  mkdir -p "$chroot_dir"
  debootstrap --variant=minbase --components=main,contrib,non-free \
    trixie "$chroot_dir" "$mirror"
  touch "$chroot_dir/.fid-bootstrapped"
fi
[[ "$stop_after" == bootstrap ]] && { say "root ready ($(elapsed))"; exit 0; }

# /proc, /sys and /dev for the package scripts, MPI and the tests; undone on
# any exit so a failed run leaves no mounts behind.
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() {
  mountpoint -q "$chroot_dir$1" && return 0
  mkdir -p "$chroot_dir$1"
  mount --bind "$1" "$chroot_dir$1"
  mounted+=("$chroot_dir$1")
}
# The root a mount point of its own: `unshare --mount` (the full-disk tests'
# private tmpfs) cannot change the propagation of a / that is not one.
if ! mountpoint -q "$chroot_dir"; then
  mount --bind "$chroot_dir" "$chroot_dir"
  mounted+=("$chroot_dir")
fi
bind /proc; bind /sys; bind /dev; bind /dev/pts
mkdir -p "$chroot_dir/dev/shm"
if ! mountpoint -q "$chroot_dir/dev/shm"; then
  mount -t tmpfs shm "$chroot_dir/dev/shm"; mounted+=("$chroot_dir/dev/shm")
fi
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
in_root() { chroot "$chroot_dir" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# 2. Packages: the CUDA stack from contrib and non-free, the rest as on Debian 12.
cat >"$chroot_dir/etc/apt/sources.list" <<EOF
deb $mirror trixie main contrib non-free
EOF
source "$src/launch/packages.sh"
packages=("${fid_packages[@]}" libtorch-cuda-dev nvidia-cuda-toolkit libnccl-dev)
installed() { in_root dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q " ok installed"; }  # "hold ok installed" too

# libtorch-cuda links cuDNN, which Debian ships only as a downloader
# (contrib's nvidia-cudnn fetches NVIDIA's archive when it is configured).
# Where developer.download.nvidia.com cannot be reached, a stand-in package
# of that name provides a libcudnn.so.9 whose every function returns
# CUDNN_STATUS_NOT_INITIALIZED: the build links and runs on the CPU, and
# cuDNN is never called (FiD-MPI runs no convolutions or cuDNN RNNs), but a
# real GPU machine should install the real package.
cudnn_url=https://developer.download.nvidia.com/compute/cudnn/redist/cudnn/
use_cudnn_stub() {
  local stub=/fid-mpi/cudnn-stub
  say "cuDNN: $cudnn_url cannot be reached; installing a stand-in nvidia-cudnn (stub libcudnn.so.9)"
  # A downloader that failed half way is removed first.
  in_root dpkg-query -W -f='${Version}' nvidia-cudnn 2>/dev/null | grep -q fid.stub ||
    in_root dpkg --remove --force-depends nvidia-cudnn 2>/dev/null || true
  installed gcc && installed libc6-dev || in_root apt-get install -y -qq --no-install-recommends gcc libc6-dev
  rm -rf "$chroot_dir$stub" && mkdir -p "$chroot_dir$stub/pkg/DEBIAN" "$chroot_dir$stub/pkg/usr/lib/x86_64-linux-gnu"
  # The symbols libtorch_cuda.so takes from libcudnn.so.9, with that version tag.
  in_root sh -c "nm -D --undefined-only /usr/lib/x86_64-linux-gnu/libtorch_cuda.so" |
    sed -n 's/.* U \(cudnn[A-Za-z0-9_]*\)@libcudnn.so.9$/\1/p' | sort -u >"$chroot_dir$stub/symbols"
  [[ -s "$chroot_dir$stub/symbols" ]] || die "found no cuDNN symbols in libtorch_cuda.so to stand in for"
  {
    echo '/* Stand-in for cuDNN: every call fails (1001: CUDNN_STATUS_NOT_INITIALIZED). */'
    echo '#include <stddef.h>'
    while read -r f; do
      case "$f" in
        cudnnGetErrorString) echo 'const char* cudnnGetErrorString(int s) { (void)s; return "cuDNN is not installed (stand-in library)"; }' ;;
        cudnnGetLastErrorString) echo 'void cudnnGetLastErrorString(char* m, size_t n) { if (n) m[0] = 0; }' ;;
        cudnnGetVersion | cudnnGetCudartVersion | cudnnGetMaxDeviceVersion) echo "size_t $f(void) { return 0; }" ;;
        *) echo "int $f(void) { return 1001; }" ;;
      esac
    done <"$chroot_dir$stub/symbols"
  } >"$chroot_dir$stub/cudnn_stub.c"
  echo 'libcudnn.so.9 { global: cudnn*; local: *; };' >"$chroot_dir$stub/version.map"
  in_root gcc -shared -fPIC -O1 -Wl,-soname,libcudnn.so.9 -Wl,--version-script=$stub/version.map \
    -o $stub/pkg/usr/lib/x86_64-linux-gnu/libcudnn.so.9 $stub/cudnn_stub.c
  cat >"$chroot_dir$stub/pkg/DEBIAN/control" <<CONTROL
Package: nvidia-cudnn
Version: 9.0.0.312~cuda12+fid.stub1
Architecture: amd64
Maintainer: FiD-MPI check-cuda-build <root@localhost>
Description: stand-in for NVIDIA cuDNN (every call fails), for build checks without network
CONTROL
  in_root dpkg-deb --build $stub/pkg $stub/nvidia-cudnn-stub.deb >/dev/null
  in_root dpkg -i $stub/nvidia-cudnn-stub.deb
  in_root apt-mark hold nvidia-cudnn >/dev/null
  say "cuDNN stand-in: $(wc -l <"$chroot_dir$stub/symbols") functions"
}

missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
  say "installing in the root: ${missing[*]}"
  in_root apt-get update -qq
  if ! installed nvidia-cudnn && ! curl -sfI --max-time 20 "$cudnn_url" >/dev/null 2>&1; then
    use_cudnn_stub
  fi
  in_root dpkg --configure -a || true
  in_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
in_root dpkg-query -W -f='${Version}' nvidia-cudnn | grep -q fid.stub &&
  say "NOTE: cuDNN here is the stand-in (no network to NVIDIA): fine for this CPU check, not for GPU runs"
say "packages: $(in_root dpkg-query -W -f='${Package} ${Version}\n' libtorch-cuda-dev nvidia-cuda-toolkit libnccl-dev libfaiss-dev | tr '\n' ';')"
[[ "$stop_after" == packages ]] && { say "packages ready ($(elapsed))"; exit 0; }

# 3. The working tree (tracked and untracked, not ignored) into the root; the
# build directory and ccache stay there between runs. Only files whose
# content changed are replaced, and they get the time of the copy: the host's
# times could be older than objects an earlier run built from older contents.
incoming="$chroot_dir/fid-mpi/incoming"
rm -rf "$incoming"
mkdir -p "$incoming" "$chroot_dir/fid-mpi/src" "$chroot_dir/fid-mpi/ccache"
(cd "$src" && git ls-files -z --cached --others --exclude-standard |
  tar --null -T - -cf -) | tar -xf - -C "$incoming"
(cd "$incoming" && find . -type f -print0) | while IFS= read -r -d '' f; do
  cmp -s "$incoming/$f" "$chroot_dir/fid-mpi/src/$f" && continue
  mkdir -p "$(dirname "$chroot_dir/fid-mpi/src/$f")"
  cp "$incoming/$f" "$chroot_dir/fid-mpi/src/$f"
done
(cd "$chroot_dir/fid-mpi/src" && find . -type f -print0) | while IFS= read -r -d '' f; do
  [[ -e "$incoming/$f" ]] || rm -f "$chroot_dir/fid-mpi/src/$f"
done
rm -rf "$incoming"
say "building with -DFID_WITH_NCCL=ON ($jobs jobs)"
build_started=$(date +%s)
in_root CCACHE_DIR=/fid-mpi/ccache cmake -S /fid-mpi/src -B /fid-mpi/build \
  -DCMAKE_BUILD_TYPE=Release -DFID_WITH_NCCL=ON
keep_going=()
[[ "${FID_KEEP_GOING:-0}" == 1 ]] && keep_going=(-- -k)  # every compile error in one run
in_root CCACHE_DIR=/fid-mpi/ccache cmake --build /fid-mpi/build -j "$jobs" "${keep_going[@]}"
say "built in $(( $(date +%s) - build_started )) s"
in_root /fid-mpi/build/bin/fid --version || true
[[ "$stop_after" == build ]] && { say "build ready ($(elapsed))"; exit 0; }

# 4. The tests on the CPU. The cluster tests need network namespaces and SLURM
# daemons of the host; they run in the Debian 12 suite, not here. The GPU
# suites (label gpu) need a GPU: tests/gpu/run.sh runs them on a GPU machine.
say "running the tests on the CPU (no GPU needed; the gpu-labelled suites are for tests/gpu/run.sh)"
test_started=$(date +%s)
rc=0
in_root OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  OMPI_MCA_rmaps_base_oversubscribe=1 OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 \
  FID_CLUSTER_TESTS=0 \
  /bin/sh -c 'cd /fid-mpi/build && ctest --output-on-failure -LE "cluster|gpu" "$@"' ctest "$@" || rc=$?
say "tests took $(( $(date +%s) - test_started )) s, whole check $(elapsed); exit $rc"
exit "$rc"
