# Sourced by launch/setup.sh (Debian 12) and launch/check-cuda-build.sh
# (Debian 13): the Debian packages FiD-MPI builds and tests with, LibTorch
# aside (setup.sh adds Debian 12's CPU libtorch-dev, check-cuda-build.sh
# Debian 13's libtorch-cuda-dev with the CUDA toolkit and NCCL).
# shellcheck disable=SC2034  # used by the scripts that source this file
fid_packages=(
  build-essential cmake pkg-config git ccache
  libgtest-dev
  libopenmpi-dev openmpi-bin
  libfaiss-dev
  libhdf5-dev hdf5-tools
  libsentencepiece-dev sentencepiece
  libcli11-dev
  libsimdjson-dev nlohmann-json3-dev
  libutf8proc-dev
  # Without it LibTorch and FAISS run on the reference BLAS, ~15x slower.
  libopenblas0-pthread
  # The main job's plots (launch/demo_report.sh) and its JSON checks.
  gnuplot-nox jq
  # tests/cli/test_import_embeddings writes FiD's embedding pickles as FiD does.
  python3-numpy
)
