# Sourced by the launch scripts: lets Open MPI run as root (CI runs as root)
# and oversubscribe the two cores of a small machine.
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1
# OpenMP workers sleep at once instead of spinning: LibTorch's OpenMP pool and
# OpenBLAS's pthread pool share the cores, and one pool's spinning workers slow
# the other (tests/bench/bench_reader, 2 cores: a t5-small FiD training step
# took 19.7 s with libgomp's default spinning, 10.7 s passive).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# OpenBLAS's workers likewise wait in sched_yield for 2^28 cycles after each
# product; 2^4 puts them to sleep at once. Measured with bench_reader on 2
# cores: system time of a training step 0.6-1.1 s -> 0.1-0.2 s, and the step's
# ratio to the matmul rate 0.53-0.70 (erratic) -> 0.69-0.70.
export OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-4}
