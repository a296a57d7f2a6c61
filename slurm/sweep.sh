#!/usr/bin/env bash
# Any method's `condense sweep` as SLURM jobs, with one array task per grid point, so
# the points train side by side on the cluster:
#   bash slurm/sweep.sh --config experiments/configs/gist/cpu.cfg [more sweep options]
#   bash slurm/sweep.sh --config experiments/configs/ccm/recall.cfg
# Three jobs, each waiting for the one before: data preparation (`sweep --sweep.prepare`:
# what the method builds from its sources, e.g. gist's instruction data), the array
# (slurm/sweep_point.sbatch), and `condense sweep` again, which finds every run
# finished and writes the method's results table in sweep.dir. Resubmitting resumes:
# finished points are skipped and interrupted ones continue from their checkpoints.
# Prints the three job ids, the table job's last. SBATCH_* variables (SBATCH_PARTITION,
# SBATCH_TIMELIMIT, ...) and $CONDENSE reach every job. The points may run on different
# nodes: sweep.dir, the data and the binary must be on a filesystem every node mounts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
condense=${CONDENSE:-$PWD/build/condense}
[ -x "$condense" ] || { echo "sweep.sh: $condense not found (build first, or set CONDENSE)" >&2; exit 1; }
export CONDENSE=$condense

points=$("$condense" sweep "$@" --sweep.list)
n=$(wc -l <<<"$points")
prepare=$(sbatch --parsable --job-name=sweep-prepare "$here/condense.sbatch" sweep "$@" --sweep.prepare)
array=$(sbatch --parsable --dependency="afterok:$prepare" --array="0-$((n - 1))" \
  "$here/sweep_point.sbatch" "$@")
table=$(sbatch --parsable --dependency="afterok:$array" --job-name=sweep-table \
  "$here/condense.sbatch" sweep "$@")
echo "sweep.sh: prepare $prepare, $n grid points in array $array, table $table" >&2
printf '%s\n%s\n%s\n' "$prepare" "$array" "$table"
