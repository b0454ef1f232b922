# shellcheck shell=bash
# Sourced by the SLURM test (after lib.sh): a single-node SLURM of its own —
# munged with its own key and socket, slurmctld and slurmd with a slurm.conf
# written into the scratch directory, ports of their own — so it neither
# needs nor disturbs a SLURM or munge already on the machine. Every daemon is
# stopped by its pid when the test exits.

# The daemons' pid files live in $WORK; a run killed before its clean-up
# leaves them, and the next run stops those daemons (lib.sh make_workdir).
stale_slurm() {
  local f pid
  for f in "$1/slurmd.pid" "$1/slurmctld.pid" "$1/munge/munged.pid"; do
    [[ -r "$f" ]] || continue
    pid="$(cat "$f")"
    # Only the daemon the file names, not a process that reused its pid.
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$(basename "$f" .pid)" ]] && kill_pid "$pid"
  done
  return 0
}

# Skips unless slurmctld, slurmd, sbatch and munged are installed.
need_slurm() {
  local c missing=()
  for c in slurmctld slurmd sbatch squeue munged; do
    command -v "$c" >/dev/null || missing+=("$c")
  done
  ((${#missing[@]} == 0)) || skip "SLURM is not installed (missing ${missing[*]}); launch/setup.sh" \
    "installs slurmctld, slurmd, slurm-client and munge when run as root, or: apt-get install" \
    "slurmctld slurmd slurm-client munge"
}

# Waits up to $2 seconds for the command in $1 to succeed.
_wait_for() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    eval "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# slurm_up: starts munged, slurmctld and slurmd; exports SLURM_CONF so that
# sbatch, srun and squeue talk to this SLURM. The node has this machine's
# cores and half its memory; the test skips when a daemon does not come up.
slurm_up() {
  local s="$WORK" cpus mem port
  cpus=$(nproc)
  ((cpus >= 2)) || skip "the SLURM test runs 2-rank jobs and this machine has $cpus core"
  mem=$(awk '/^MemTotal:/ { print int($2 / 1024 / 2) }' /proc/meminfo)
  # Ports from the pid, so that two runs on one machine do not collide.
  port=$((20000 + ($$ % 20000) * 2))
  mkdir -p "$s/munge" "$s/state" "$s/spool"
  chmod 700 "$s/munge"
  head -c 1024 /dev/urandom >"$s/munge/munge.key"
  chmod 400 "$s/munge/munge.key"
  # munged refuses to run as root without --force.
  munged --force --socket="$s/munge/socket" --key-file="$s/munge/munge.key" \
    --pid-file="$s/munge/munged.pid" --log-file="$s/munge/munged.log" \
    --seed-file="$s/munge/munged.seed" >"$s/munge/start.log" 2>&1 ||
    skip "munged did not start: $(tail -n 2 "$s/munge/start.log" "$s/munge/munged.log" 2>/dev/null | tr '\n' ' ')"
  on_exit "kill_pid \$(cat '$s/munge/munged.pid' 2>/dev/null)"

  cat >"$s/slurm.conf" <<EOF
ClusterName=fidtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$s/munge/socket
StateSaveLocation=$s/state
SlurmdSpoolDir=$s/spool
SlurmctldPidFile=$s/slurmctld.pid
SlurmdPidFile=$s/slurmd.pid
SlurmctldLogFile=$s/slurmctld.log
SlurmdLogFile=$s/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SchedulerType=sched/backfill
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
InactiveLimit=0
KillWait=5
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$s/slurm.conf"
  # -D: stay in the foreground, so that $! is the daemon.
  slurmctld -D -i -f "$SLURM_CONF" >"$s/slurmctld.out" 2>&1 &
  local ctld=$!
  on_exit "kill_pid $ctld"
  slurmd -D -N localhost -f "$SLURM_CONF" >"$s/slurmd.out" 2>&1 &
  local d=$!
  on_exit "kill_pid $d"
  _wait_for "sinfo -h -o %t -n localhost | grep -qx idle" 30 ||
    skip "SLURM did not come up: $(sinfo 2>&1 | tail -n 1); $(tail -n 3 "$s/slurmctld.log" "$s/slurmd.log" 2>/dev/null | tr '\n' ' ')"
}

# _run_job NAME LOG [sbatch options] SCRIPT: submits in $WORK with the job's
# log in LOG, waits for every element to end and prints their states
# ("JobState=X ExitCode=a:b ...", also kept in $WORK/NAME.sbatch.out). The
# wait polls scontrol every 0.3 s: sbatch --wait polls every 10 s, which
# would triple this test's time.
_run_job() {
  local name="$1" log="$2" id states t0
  shift 2
  id=$(sbatch --parsable --chdir="$WORK" --job-name="fid-$name" --output="$log" "$@" \
       2>"$WORK/$name.sbatch.out") || { cat "$WORK/$name.sbatch.out" >&2; fail "sbatch $name refused the job"; }
  echo "job $id" >>"$WORK/$name.sbatch.out"
  t0=$SECONDS
  while :; do
    # One line per element: "JobState=X ... ExitCode=a:b".
    states=$(scontrol -o show job "$id" 2>&1 | grep -o 'JobState=[A-Z_]*\|ExitCode=[0-9:]*' | paste -sd' ')
    [[ "$states" =~ JobState=(PENDING|RUNNING|COMPLETING|CONFIGURING) || -z "$states" ]] || break
    ((SECONDS - t0 < 180)) || { scancel "$id"; fail "job $name ($id) still not done after 180 s"; }
    sleep 0.3
  done
  echo "$states" >>"$WORK/$name.sbatch.out"
  echo "$states"
}

# submit NAME [sbatch options] SCRIPT: runs the job with its log in
# $WORK/NAME.log (an array element's in $WORK/NAME-<index>.log); fails the
# test, printing the logs, unless every element ends COMPLETED with exit
# code 0.
submit() {
  local name="$1" log states
  shift
  log="$WORK/$name.log"
  [[ " $* " == *" --array="* ]] && log="$WORK/$name-%a.log"
  say "sbatch $name: $*"
  states=$(_run_job "$name" "$log" "$@") || exit 1
  if [[ "$states" =~ JobState=[A-Z_]* ]] && ! grep -qvE '^(JobState=COMPLETED|ExitCode=0:0)$' <(tr ' ' '\n' <<<"$states"); then
    return 0
  fi
  echo "job $name: $states"
  tail -n 40 "$WORK/$name.log" "$WORK/$name"-*.log 2>/dev/null || true
  tail -n 20 "$WORK/slurmctld.log" "$WORK/slurmd.log" 2>/dev/null || true
  fail "job $name did not complete with exit code 0"
}

# submit_refused NAME PATTERN [sbatch options] SCRIPT: as submit, but the job
# must fail, with a line matching the extended regex PATTERN in its log (a
# script that cannot run here must reach fid and be refused for that reason).
submit_refused() {
  local name="$1" pattern="$2" states
  shift 2
  say "sbatch $name (to be refused): $*"
  states=$(_run_job "$name" "$WORK/$name.log" "$@") || exit 1
  [[ "$states" != *"ExitCode=0:0"* ]] || { cat "$WORK/$name.log"; fail "job $name succeeded where it must be refused"; }
  grep -qE "$pattern" "$WORK/$name.log" || { cat "$WORK/$name.log"; fail "job $name failed, but not with /$pattern/"; }
}
