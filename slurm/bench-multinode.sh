#!/usr/bin/env bash
# The tp2 x dp2 step of docs/PERFORMANCE.md ("Across nodes"): bench_parallel on 4 ranks
# (the "tiny" model of bench train, batch 8 x 256), three ways on this one machine:
#   shm      one node, Open MPI's default transports (shared memory between ranks);
#   tcp-lo   one node, TCP only (--mca btl tcp,self) over loopback;
#   2 nodes  ranks 0-1 on node1 and 2-3 on node2 of `local-cluster.sh start --nodes 2`
#            (network namespaces joined by a bridge), TCP only over their veths.
# Tensor-parallel groups are ranks {0,1} and {2,3} (parallel/process_grid.h), so across
# nodes only the data-parallel all-reduce of gradients crosses between them.
# Usage (root): bash slurm/bench-multinode.sh [build dir] [steps] [repeats]
# About 4 min with the defaults (6 steps, 3 repeats) on 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
steps=${2:-6}
repeats=${3:-3}
bin=$PWD/$build/bench_parallel
[ -x "$bin" ] || { echo "bench-multinode: no $bin (cmake --build $build --target bench_parallel)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
args=(--vocab 8192 --dim 256 --layers 4 --heads 4 --ffn 688 --batch 8 --seq 256 --tp 2
  --steps "$steps" --warmup 2)
field() { sed -E "s|.* $1=([^ ]+).*|\1|"; }

# One configuration, `repeats` times: a table row each.
bench() {
  local name=$1 line
  shift
  for ((r = 1; r <= repeats; r++)); do
    line=$("$@" "$bin" "${args[@]}" 2>&1 | grep '^ranks=')
    printf '| %s | %s | %.0f | %s | %s |\n' "$name" "$r" "$(echo "$line" | field step_ms)" \
      "$(echo "$line" | field tp_bytes)" "$(echo "$line" | field dp_bytes)"
  done
}

echo "== $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| transport | run | step ms (median of $steps) | tp bytes/rank | dp bytes/rank |"
echo "|---|---|---|---|---|"
one=(mpirun -n 4 --oversubscribe --bind-to none)
bench "shm, one node" "${one[@]}"
bench "TCP, one node (loopback)" "${one[@]}" --mca btl tcp,self
started=0
bash slurm/local-cluster.sh status --nodes 2 || started=1
env=$(bash slurm/local-cluster.sh start --nodes 2)
[ $started = 1 ] && trap 'bash slurm/local-cluster.sh stop --nodes 2' EXIT
eval "$env"
bench "TCP, 2 namespace nodes" mpirun -n 4 --host node1:2,node2:2 --bind-to none
echo
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
