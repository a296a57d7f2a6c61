#!/usr/bin/env bash
# The gisting sweep as SLURM jobs: `condense sweep`'s grid with one array task per
# grid point, so the points train side by side on the cluster.
#   bash slurm/gist_sweep.sh --config experiments/configs/gist/cpu.cfg [more sweep options]
# Three jobs, each waiting for the one before: data preparation (`data instruct`),
# the array (slurm/gist_point.sbatch), and `condense sweep` again, which finds every
# run finished and writes rouge.{csv,md,svg} in sweep.dir. Resubmitting resumes:
# finished points are skipped and interrupted ones continue from their checkpoints.
# Prints the three job ids, the table job's last. SBATCH_* variables (SBATCH_PARTITION,
# SBATCH_TIMELIMIT, ...) and $CONDENSE reach every job.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
condense=${CONDENSE:-$PWD/build/condense}
[ -x "$condense" ] || { echo "gist_sweep: $condense not found (build first, or set CONDENSE)" >&2; exit 1; }
export CONDENSE=$condense

points=$("$condense" sweep "$@" --sweep.list)
n=$(wc -l <<<"$points")
prepare=$(sbatch --parsable --job-name=gist-prepare "$here/condense.sbatch" data instruct "$@")
array=$(sbatch --parsable --dependency="afterok:$prepare" --array="0-$((n - 1))" \
  "$here/gist_point.sbatch" "$@")
table=$(sbatch --parsable --dependency="afterok:$array" --job-name=gist-table \
  "$here/condense.sbatch" sweep "$@")
echo "gist_sweep: prepare $prepare, $n grid points in array $array, table $table" >&2
printf '%s\n%s\n%s\n' "$prepare" "$array" "$table"
