#!/usr/bin/env bash
# The tp2 x dp2 step of docs/PERFORMANCE.md ("Across nodes"): bench_parallel on 4 ranks
# (the "tiny" model of bench train, batch 8 x 256), three ways on this one machine:
#   shm      one node, Open MPI's default transports (shared memory between ranks);
#   tcp-lo   one node, TCP only (--mca btl tcp,self) over loopback;
#   2 nodes  ranks 0-1 on node1 and 2-3 on node2 of `local-cluster.sh start --nodes 2`
#            (network namespaces joined by a bridge), TCP only over their veths.
# Tensor-parallel groups are ranks {0,1} and {2,3} (parallel/process_grid.h), so across
# nodes only the data-parallel all-reduce of gradients crosses between them. The
# bytes that cross are counted on node2's link (its veth's rx + tx): the difference
# between a run of 2S and one of S timed steps, over S, is what one step sends.
# The configurations take turns (run 1 of each, then run 2, ...), so that a change in
# the machine's load falls on all of them.
# Usage (root): bash slurm/bench-multinode.sh [build dir] [steps S] [repeats]
# 9 min with the defaults (6 steps, 3 repeats) on the 2 cores while other work loaded them.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
steps=${2:-6}
repeats=${3:-3}
bin=$PWD/$build/bench_parallel
[ -x "$bin" ] || { echo "bench-multinode: no $bin (cmake --build $build --target bench_parallel)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
args=(--vocab 8192 --dim 256 --layers 4 --heads 4 --ffn 688 --batch 8 --seq 256 --tp 2 --warmup 2)
field() { sed -E "s|.* $1=([^ ]+).*|\1|"; }
link_bytes() { echo $(($(cat /sys/class/net/cdn-node2/statistics/rx_bytes) + $(cat /sys/class/net/cdn-node2/statistics/tx_bytes))); }

started=0
bash slurm/local-cluster.sh status --nodes 2 || started=1
env=$(bash slurm/local-cluster.sh start --nodes 2)
[ $started = 1 ] && trap 'bash slurm/local-cluster.sh stop --nodes 2' EXIT
one=(mpirun -n 4 --oversubscribe --bind-to none)
two=(bash -c "$env; exec mpirun -n 4 --host node1:2,node2:2 --bind-to none \"\$@\"" two)

echo "== $(date -u +%Y-%m-%dT%H:%MZ), $(nproc --all) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| transport | run | step ms (median of $steps) | tp bytes/rank | dp bytes/rank |"
echo "|---|---|---|---|---|"
# One run of one configuration: a table row.
bench() {
  local name=$1 r=$2 line
  shift 2
  line=$("$@" "$bin" "${args[@]}" --steps "$steps" 2>&1 | grep '^ranks=')
  printf '| %s | %s | %.0f | %s | %s |\n' "$name" "$r" "$(echo "$line" | field step_ms)" \
    "$(echo "$line" | field tp_bytes)" "$(echo "$line" | field dp_bytes)"
}
for ((r = 1; r <= repeats; r++)); do
  bench "shm, one node" "$r" "${one[@]}"
  bench "TCP, one node (loopback)" "$r" "${one[@]}" --mca btl tcp,self
  bench "TCP, 2 namespace nodes" "$r" "${two[@]}"
done
echo
b0=$(link_bytes)
"${two[@]}" "$bin" "${args[@]}" --steps "$steps" >/dev/null 2>&1
b1=$(link_bytes)
"${two[@]}" "$bin" "${args[@]}" --steps $((2 * steps)) >/dev/null 2>&1
b2=$(link_bytes)
echo "node2's link, rx + tx: $((b1 - b0)) bytes in a run of $steps steps, $((b2 - b1)) in one of" \
  "$((2 * steps)); per step: $(((b2 - b1 - (b1 - b0)) / steps))"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
