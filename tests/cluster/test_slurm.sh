#!/usr/bin/env bash
# A single-node SLURM started here runs every batch script in cluster/slurm/
# on small inputs, through sbatch --wait; each job must end with exit code 0,
# as one world of 2 ranks (not two worlds of one), with the files it promises,
# and where a direct run gives the same output, with that output.
#
#   tests/cluster/test_slurm.sh [path/to/fid]
# Skips (exit 77) when not root, or when SLURM or munge is missing or does not start.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_DIR/slurm_node.sh"

need_root "the SLURM test (it starts munged, slurmctld and slurmd)"
need_slurm
find_fid "${1:-}"
make_workdir slurm
slurm_up
say "SLURM up: $(sinfo -h -o '%P %D %c %t')"
cd "$WORK"

in="$WORK/in"
make_tiny_inputs "$in"
export FID="$FID" FID_ROOT="$REPO_ROOT" FID_LOG_LEVEL=debug FID_THREADS=1
unset EXTRA_ARGS
scripts="$REPO_ROOT/cluster/slurm"

# The log of a job must show one world of two ranks (fid logs it at debug level).
two_ranks() {
  grep -q "world: backend mpi, 2 ranks" "$1" || { cat "$1"; fail "$1: the job did not run as one world of 2 ranks"; }
  ! grep -q "world: .* 1 ranks" "$1" || { cat "$1"; fail "$1: a rank ran as a world of its own"; }
}

# Reference outputs from direct runs, outside SLURM.
say "direct runs for reference"
run_limited 120 "$FID_MPIRUN" -n 2 -- "$FID" bm25 --passages "$in/data/passages.tsv" \
  --data "$in/data/dev.json" --output_path "$WORK/ref-bm25.json" --n-docs 5 \
  --index_dir "$WORK/ref-bm25-index" >"$WORK/ref.log" 2>&1 || { cat "$WORK/ref.log"; fail "direct bm25"; }

# bm25.sbatch, once through srun (PMIx) and once through mpirun in the allocation.
for launcher in srun mpirun; do
  FID_LAUNCHER=$launcher PASSAGES="$in/data/passages.tsv" DATA="$in/data/dev.json" \
    OUTPUT="$WORK/bm25-$launcher.json" N_DOCS=5 INDEX_DIR="$WORK/bm25-index-$launcher" \
    submit "bm25-$launcher" --ntasks=2 "$scripts/bm25.sbatch"
  two_ranks "$WORK/bm25-$launcher.log"
  same_file "$WORK/ref-bm25.json" "$WORK/bm25-$launcher.json"
done
# Which launcher each ran (fid-mpirun prints its command at debug level):
# srun when srun and Open MPI share PMIx, as Debian's do; mpirun when forced.
grep -q "fid-mpirun: .*mpirun -n 2 " "$WORK/bm25-mpirun.log" || fail "FID_LAUNCHER=mpirun did not use mpirun"
if srun --mpi=list 2>&1 | grep -qw pmix && ompi_info --parsable 2>/dev/null | grep -q '^mca:pmix:ext'; then
  grep -q "fid-mpirun: .*srun --mpi=pmix -n 2 " "$WORK/bm25-srun.log" ||
    fail "srun and Open MPI both offer PMIx, but fid-mpirun did not use srun --mpi=pmix"
else
  say "note: srun and this Open MPI share no PMIx; fid-mpirun used $(grep -o 'fid-mpirun: [^ ]* [^ ]*' "$WORK/bm25-srun.log")"
fi

# train_reader.sbatch on the BM25 passages.
reader_opts="--n_context 3 --text_maxlength 64 --answer_maxlength 8 --per_gpu_batch_size 2 --seed 1"
TRAIN_DATA="$WORK/bm25-srun.json" EVAL_DATA="$WORK/bm25-srun.json" MODEL_PATH="$in/t5" \
  NAME=reader CHECKPOINT_DIR="$WORK/ck" \
  EXTRA_ARGS="$reader_opts --total_steps 2 --save_freq 2 --eval_freq 2" \
  submit train_reader --ntasks=2 "$scripts/train_reader.sbatch"
two_ranks "$WORK/train_reader.log"
[[ -s "$WORK/ck/reader/checkpoint/step-2/model.safetensors" ]] ||
  fail "train_reader.sbatch wrote no ck/reader/checkpoint/step-2/model.safetensors"
[[ -e "$WORK/ck/reader/checkpoint/latest" ]] || fail "train_reader.sbatch wrote no checkpoint/latest"

# Preemption: the scheduler's notice (SIGUSR1 to every task, as the script's
# --signal=USR1@600 sends it before the time limit) stops train_reader.sbatch
# at the next step with a checkpoint and exit status 75; the script requeues
# the job, and the requeued run resumes and ends with the weights of an
# uninterrupted direct run.
long="$reader_opts --total_steps 300 --save_freq 1000 --eval_freq 1000"
# shellcheck disable=SC2086  # $long is a list of options
run_limited 300 "$FID_MPIRUN" -n 2 -- "$FID" train-reader --train_data "$WORK/bm25-srun.json" \
  --model_path "$in/t5" --name whole --checkpoint_dir "$WORK/ck-direct" $long >"$WORK/whole.log" 2>&1 ||
  { cat "$WORK/whole.log"; fail "direct train-reader for the preemption reference"; }
id=$(TRAIN_DATA="$WORK/bm25-srun.json" EVAL_DATA="$WORK/bm25-srun.json" MODEL_PATH="$in/t5" \
  NAME=preempt CHECKPOINT_DIR="$WORK/ck" EXTRA_ARGS="$long" \
  sbatch --parsable --chdir="$WORK" --job-name=fid-preempt --output="$WORK/preempt.log" \
  --open-mode=append --ntasks=2 "$scripts/train_reader.sbatch") || fail "sbatch refused the preemption job"
t0=$SECONDS
until [[ -f "$WORK/ck/preempt/metrics.jsonl" ]] && (($(wc -l <"$WORK/ck/preempt/metrics.jsonl") >= 3)); do
  ((SECONDS - t0 < 120)) || { cat "$WORK/preempt.log"; fail "the preemption job logged no steps in 120 s"; }
  sleep 0.1
done
scancel --signal=USR1 "$id"
while :; do
  state=$(scontrol -o show job "$id" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
  [[ $state == COMPLETED ]] && break
  [[ $state =~ ^(PENDING|RUNNING|COMPLETING|CONFIGURING|REQUEUED|REQUEUE_HOLD|REQUEUE_FED)$ ]] ||
    { cat "$WORK/preempt.log"; fail "the preempted job ended $state"; }
  ((SECONDS - t0 < 400)) || { scancel "$id"; cat "$WORK/preempt.log"; fail "the preempted job did not finish"; }
  sleep 0.3
done
restarts=$(scontrol -o show job "$id" | grep -o 'Restarts=[0-9]*' | cut -d= -f2)
((restarts >= 1)) || { cat "$WORK/preempt.log"; fail "the preempted job was not requeued (Restarts=$restarts)"; }
grep -q "stopped at step [0-9]* of 300 on request (SIGUSR1)" "$WORK/preempt.log" ||
  { cat "$WORK/preempt.log"; fail "no rank said it stopped on SIGUSR1"; }
grep -q "requeueing job $id" "$WORK/preempt.log" || { cat "$WORK/preempt.log"; fail "the script did not requeue"; }
grep -q "resuming" "$WORK/preempt.log" || { cat "$WORK/preempt.log"; fail "the requeued run did not resume"; }
cmp "$WORK/ck/preempt/checkpoint/step-300/model.safetensors" \
  "$WORK/ck-direct/whole/checkpoint/step-300/model.safetensors" ||
  fail "the preempted and requeued run's weights differ from an uninterrupted run's"
say "preemption: stopped, requeued (Restarts=$restarts), resumed to the uninterrupted weights"

# test_reader.sbatch: the reader's scores, which the retriever distils from.
MODEL_PATH="$WORK/ck/reader/checkpoint/latest" EVAL_DATA="$WORK/bm25-srun.json" NAME=scores \
  CHECKPOINT_DIR="$WORK/ck" EXTRA_ARGS="--n_context 3 --text_maxlength 64 --per_gpu_batch_size 4 \
  --write_results --write_crossattention_scores" \
  submit test_reader --ntasks=2 "$scripts/test_reader.sbatch"
two_ranks "$WORK/test_reader.log"
[[ -s "$WORK/ck/scores/dataset_wscores.json" ]] || fail "test_reader.sbatch wrote no ck/scores/dataset_wscores.json"
grep -q '"score"' "$WORK/ck/scores/dataset_wscores.json" || fail "dataset_wscores.json has no scores"

# train_retriever.sbatch on those scores.
TRAIN_DATA="$WORK/ck/scores/dataset_wscores.json" MODEL_PATH="$in/retriever" NAME=retriever \
  CHECKPOINT_DIR="$WORK/ck" EXTRA_ARGS="--n_context 3 --per_gpu_batch_size 2 --total_steps 2 \
  --save_freq 2 --eval_freq 1000 --seed 1" \
  submit train_retriever --ntasks=2 "$scripts/train_retriever.sbatch"
two_ranks "$WORK/train_retriever.log"
[[ -s "$WORK/ck/retriever/checkpoint/step-2/model.safetensors" ]] ||
  fail "train_retriever.sbatch wrote no ck/retriever/checkpoint/step-2/model.safetensors"
retriever="$WORK/ck/retriever/checkpoint/step-2"

# embed_passages.sbatch (one job, 2 ranks) and embed_passages_array.sbatch
# (2 elements of 1 rank) cut the passages into the same 2 shards.
MODEL_PATH="$retriever" PASSAGES="$in/data/passages.tsv" OUTPUT="$WORK/emb/" \
  submit embed_passages --ntasks=2 "$scripts/embed_passages.sbatch"
two_ranks "$WORK/embed_passages.log"
MODEL_PATH="$retriever" PASSAGES="$in/data/passages.tsv" OUTPUT="$WORK/emb-array/" \
  submit embed_passages_array --array=0-1 --ntasks=1 "$scripts/embed_passages_array.sbatch"
for d in emb emb-array; do
  [[ -s "$WORK/$d/manifest.json" ]] || fail "$d/manifest.json missing"
  grep -q '"total_rows": 40' "$WORK/$d/manifest.json" || fail "$d/manifest.json does not list the 40 passages"
  grep -q '"shard_count": 2' "$WORK/$d/manifest.json" || fail "$d/manifest.json does not list 2 shards"
done
for shard in passages_00000.h5 passages_00001.h5; do
  h5diff "$WORK/emb/$shard" "$WORK/emb-array/$shard" /ids >"$WORK/h5diff.txt" 2>&1 ||
    { cat "$WORK/h5diff.txt"; fail "$shard: ids differ between the multi-rank job and the array job"; }
  h5diff -d 1e-3 "$WORK/emb/$shard" "$WORK/emb-array/$shard" /embeddings >"$WORK/h5diff.txt" 2>&1 ||
    { cat "$WORK/h5diff.txt"; fail "$shard: vectors differ between the multi-rank job and the array job"; }
done

# retrieve.sbatch over the job's shards equals a direct run over the array's.
MODEL_PATH="$retriever" PASSAGES="$in/data/passages.tsv" EMBEDDINGS="$WORK/emb/manifest.json" \
  DATA="$in/data/dev.json" OUTPUT="$WORK/retrieved.json" N_DOCS=5 \
  submit retrieve --ntasks=2 "$scripts/retrieve.sbatch"
two_ranks "$WORK/retrieve.log"
run_limited 120 "$FID_MPIRUN" -n 2 -- "$FID" retrieve --model_path "$retriever" \
  --passages "$in/data/passages.tsv" --passages_embeddings "$WORK/emb-array/manifest.json" \
  --data "$in/data/dev.json" --output_path "$WORK/ref-retrieved.json" --n-docs 5 \
  >"$WORK/ref.log" 2>&1 || { cat "$WORK/ref.log"; fail "direct retrieve"; }
same_file "$WORK/ref-retrieved.json" "$WORK/retrieved.json"

# The GPU variants on this node without GPUs (the sbatch options on the
# command line override the scripts' GPU requests): each must reach fid with
# NCCL and --device cuda, which a CPU build refuses saying so (a CUDA build
# without a GPU says that none is visible).
refusal="NCCL backend is not compiled|has no CUDA|no GPU is visible"
gpu_opts=(--ntasks=1 --ntasks-per-node=1 --cpus-per-task=1 --gpus-per-node=0)
TRAIN_DATA="$in/data/train.json" EVAL_DATA="$in/data/dev.json" MODEL_PATH="$in/reader" \
  submit_refused train_reader_gpu "$refusal" "${gpu_opts[@]}" "$scripts/train_reader_gpu.sbatch"
EVAL_DATA="$in/data/dev.json" MODEL_PATH="$in/reader" \
  submit_refused test_reader_gpu "$refusal" "${gpu_opts[@]}" "$scripts/test_reader_gpu.sbatch"
TRAIN_DATA="$in/data/train.json" MODEL_PATH="$in/retriever" \
  submit_refused train_retriever_gpu "$refusal" "${gpu_opts[@]}" "$scripts/train_retriever_gpu.sbatch"
MODEL_PATH="$in/retriever" PASSAGES="$in/data/passages.tsv" OUTPUT="$WORK/emb-gpu/" \
  submit_refused embed_passages_gpu "$refusal" "${gpu_opts[@]}" "$scripts/embed_passages_gpu.sbatch"
say "GPU scripts: each reached fid and was refused for want of CUDA/NCCL here"

# Every batch script in cluster/slurm/ ran above.
for s in "$scripts"/*.sbatch; do
  name="$(basename "$s" .sbatch)"
  ls "$WORK/$name"*.sbatch.out >/dev/null 2>&1 || fail "cluster/slurm/$name.sbatch is not run by this test"
done
say "PASS"
