#!/usr/bin/env bash
# launch/fid-mpirun's decisions, through --dry-run: threads per rank from the
# ranks per node, binding, forwarded variables, root flags only for root, and
# inside SLURM srun with the PMI that both srun and Open MPI speak, else
# mpirun. srun and ompi_info are stand-ins on PATH, so no SLURM is needed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_workdir launch
cores=$(nproc)

# expect NAME PATTERN COMMAND...: the dry-run line must match the extended regex.
checks=0
expect() {
  local name="$1" pattern="$2"
  shift 2
  local line
  line=$("$@" 2>&1) || fail "$name: exit $? from: $* -> $line"
  [[ "$line" =~ $pattern ]] || fail "$name: '$line' does not match /$pattern/"
  checks=$((checks + 1))
}
# reject NAME PATTERN COMMAND...: the dry-run line must not match.
reject() {
  local name="$1" pattern="$2"
  shift 2
  local line
  line=$("$@" 2>&1) || fail "$name: exit $? from: $* -> $line"
  [[ ! "$line" =~ $pattern ]] || fail "$name: '$line' should not match /$pattern/"
  checks=$((checks + 1))
}
# No SLURM, thread or launcher variables from the caller.
unset SLURM_JOB_ID SLURM_NTASKS SLURM_JOB_NUM_NODES SLURM_NNODES SLURM_CPUS_ON_NODE \
  SLURM_NTASKS_PER_NODE SLURM_CPUS_PER_TASK FID_THREADS FID_LAUNCHER
wrap=("$FID_MPIRUN" --dry-run)

# Outside SLURM: mpirun, threads = cores / ranks, bound when they fit.
t=$((cores / 2)); ((t >= 1)) || t=1
expect "two ranks" "^FID_THREADS=$t OMP_NUM_THREADS=$t .*mpirun -n 2 " "${wrap[@]}" -n 2 -- fid x
if ((2 * t <= cores)); then
  expect "binding" "--bind-to core --map-by slot:PE=$t " "${wrap[@]}" -n 2 -- fid x
fi
expect "oversubscribed" "--oversubscribe --bind-to none" "${wrap[@]}" -n $((cores + 1)) -- fid x
expect "forwarded" "-x FID_LOG_LEVEL .*-x NCCL_DEBUG .*-x OMP_NUM_THREADS" \
  env FID_LOG_LEVEL=debug NCCL_DEBUG=INFO "${wrap[@]}" -n 2 -- fid x
expect "FID_THREADS wins" "^FID_THREADS=3 OMP_NUM_THREADS=3 " env FID_THREADS=3 "${wrap[@]}" -n 2 -- fid x
expect "workers sleep" "OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 .*-x OPENBLAS_THREAD_TIMEOUT " \
  env -u OMP_WAIT_POLICY -u OPENBLAS_THREAD_TIMEOUT "${wrap[@]}" -n 2 -- fid x
expect "caller's waits kept" "OMP_WAIT_POLICY=ACTIVE OPENBLAS_THREAD_TIMEOUT=20 " \
  env OMP_WAIT_POLICY=ACTIVE OPENBLAS_THREAD_TIMEOUT=20 "${wrap[@]}" -n 2 -- fid x
expect "command last" "-x PATH --mca btl tcp\\\\,self fid bm25 --n-docs 5 $" \
  "${wrap[@]}" -n 2 --mca btl tcp,self -- fid bm25 --n-docs 5

# Hostfile: ranks = the slots, ranks per node = ranks / hosts.
printf '# comment\n\nnodeA slots=4\nnodeB slots=4\n' >"$WORK/hosts"
t=$((cores / 4)); ((t >= 1)) || t=1
expect "hostfile" "^FID_THREADS=$t .*mpirun -n 8 .*--hostfile $WORK/hosts " \
  "${wrap[@]}" --hostfile "$WORK/hosts" -- fid x

# Root flags only for root.
if [[ $(id -u) -eq 0 ]]; then
  expect "root" "--allow-run-as-root" "${wrap[@]}" -n 2 -- fid x
  if command -v setpriv >/dev/null; then
    reject "not root" "allow-run-as-root" setpriv --reuid=65534 --regid=65534 --clear-groups \
      "${wrap[@]}" -n 2 -- fid x
  fi
else
  reject "not root" "allow-run-as-root" "${wrap[@]}" -n 2 -- fid x
fi

# Inside SLURM: stand-ins for srun --mpi=list and ompi_info --parsable.
fake() {  # fake DIR SRUN_TYPES OMPI_PMIX_COMPONENTS
  mkdir -p "$1"
  cat >"$1/srun" <<EOF
#!/bin/sh
[ "\$1" = "--mpi=list" ] || exit 0
echo "MPI plugin types are..."
for t in $2; do printf '\t%s\n' "\$t"; done
EOF
  cat >"$1/ompi_info" <<EOF
#!/bin/sh
for c in $3; do echo "mca:pmix:\$c:version:mca:2.1.0"; done
EOF
  chmod +x "$1/srun" "$1/ompi_info"
}
fake "$WORK/pmix" "pmix none pmi2" "ext3x isolated flux"
fake "$WORK/pmi2" "none pmi2" "s1 s2 isolated"
fake "$WORK/none" "none" "ext3x isolated"
slurm=(SLURM_JOB_ID=7 SLURM_NTASKS=4 SLURM_JOB_NUM_NODES=2 SLURM_CPUS_ON_NODE=8)
expect "srun pmix" "^FID_THREADS=4 .*srun --mpi=pmix -n 4 --cpus-per-task=4 --export=ALL fid x" \
  env PATH="$WORK/pmix:$PATH" "${slurm[@]}" "${wrap[@]}" -- fid x
expect "srun pmi2" "srun --mpi=pmi2 -n 4 " env PATH="$WORK/pmi2:$PATH" "${slurm[@]}" "${wrap[@]}" -- fid x
expect "no shared PMI" "^FID_THREADS=4 .*mpirun -n 4 --.*fid x" \
  env PATH="$WORK/none:$PATH" "${slurm[@]}" "${wrap[@]}" -- fid x
expect "forced mpirun" "mpirun -n 4 " \
  env PATH="$WORK/pmix:$PATH" "${slurm[@]}" FID_LAUNCHER=mpirun "${wrap[@]}" -- fid x
expect "cpus per task" "^FID_THREADS=2 .*--cpus-per-task=2 " \
  env PATH="$WORK/pmix:$PATH" "${slurm[@]}" SLURM_CPUS_PER_TASK=2 "${wrap[@]}" -- fid x
expect "tasks per node" "^FID_THREADS=2 .*srun --mpi=pmix -n 8 " \
  env PATH="$WORK/pmix:$PATH" "${slurm[@]}" SLURM_NTASKS=8 SLURM_NTASKS_PER_NODE=4 "${wrap[@]}" -- fid x

# Mistakes get a message and exit 2, not a launch.
for bad in "-n 0 -- fid" "-n two -- fid" "--hostfile $WORK/absent -- fid" "-n 2"; do
  # shellcheck disable=SC2086
  if out=$("${wrap[@]}" $bad 2>&1); then fail "accepted '$bad': $out"; fi
  [[ "$out" == *fid-mpirun* ]] || fail "'$bad' gave no message naming fid-mpirun: $out"
  checks=$((checks + 1))
done
echo "PASS: $checks checks"
