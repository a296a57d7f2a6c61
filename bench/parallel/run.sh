#!/usr/bin/env bash
# The parallel engine's numbers for docs/PERFORMANCE.md ("Parallel engine"):
#  1. throughput, 2 ranks x 1 thread at tp=2, dp=2 (and pp=2, dp=2 + ZeRO-1) vs
#     1 rank x 2 threads, on the "tiny" model of bench train (V8192 d256 L4 ff688,
#     batch 8x256);
#  2. the pipeline bubble at pp=2 for m = 1, 2, 4, 8 micro-batches of 2x128 tokens
#     (V512 d256 L4 ff688: a small vocabulary keeps the two stages balanced),
#     next to (p-1)/(m+p-1);
#  3. tensor-parallel bytes per step at tp=2 next to the analytic count;
#  4. the bubble of a recurrent pass graph at pp=2 (AutoCompressor's shape: S = 4
#     segments of 64 tokens per chain, each reading 4 hidden states of the one before)
#     for m = 1, 2, 4 chains of 2 rows, next to the graph schedule's theory.
# Usage: bash bench/parallel/run.sh [build dir] [steps] [sections, default "1 2 3 4"]
# (about 4 min on 2 idle cores)
# Ranks are not bound to cores (--bind-to none), as one process with 2 threads is not.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
steps=${2:-5}
sections=${3:-1 2 3 4}
want() { [[ " $sections " == *" $1 "* ]]; }
bin="$build/bench_parallel"
[ -x "$bin" ] || { echo "no $bin: cmake --build $build --target bench_parallel" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
run() {  # run RANKS THREADS ARGS...
  local ranks=$1 threads=$2
  shift 2
  OMP_NUM_THREADS=$threads mpirun -n "$ranks" --oversubscribe --bind-to none "$bin" "$@" \
    --steps "$steps" --warmup 2 2>&1 | grep '^ranks='
}
field() { sed -E "s|.* $1=([^ ]+).*|\1|"; }

echo "== $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
tiny=(--vocab 8192 --dim 256 --layers 4 --heads 4 --ffn 688 --batch 8 --seq 256)
if want 1; then
echo
echo "| layout | ranks x threads | tok/s | step ms |"
echo "|---|---|---|---|"
for spec in "1 2 1 1" "2 1 2 1" "2 1 1 1" "2 1 1 1 --zero1" "2 1 1 2 --micro-batches 4"; do
  read -r ranks threads tp pp extra <<<"$spec"
  # shellcheck disable=SC2086
  line=$(run "$ranks" "$threads" "${tiny[@]}" --tp "$tp" --pp "$pp" ${extra:-})
  layout="tp=$(echo "$line" | field tp) pp=$(echo "$line" | field pp) dp=$(echo "$line" | field dp)"
  [ "$(echo "$line" | field zero1)" = 1 ] && layout="$layout zero1"
  [ "$(echo "$line" | field m)" != 1 ] && layout="$layout m=$(echo "$line" | field m)"
  printf '| %s | %s x %s | %.0f | %.0f |\n' "$layout" "$ranks" "$threads" \
    "$(echo "$line" | field 'tok/s')" "$(echo "$line" | field step_ms)"
  [ "$tp" = 2 ] && tp_line=$line
done
fi
if want 2; then
echo
echo "| pp=2, m | measured bubble | (p-1)/(m+p-1) | step ms |"
echo "|---|---|---|---|"
for m in 1 2 4 8; do
  line=$(run 2 1 --vocab 512 --dim 256 --layers 4 --heads 4 --ffn 688 --batch $((2 * m)) \
    --seq 128 --pp 2 --micro-batches "$m")
  printf '| %s | %.3f | %.3f | %.0f |\n' "$m" "$(echo "$line" | field bubble)" \
    "$(echo "$line" | field bubble_theory)" "$(echo "$line" | field step_ms)"
done
fi
if want 1 && want 3; then
echo
echo "tp=2 bytes per step and rank: measured $(echo "$tp_line" | field tp_bytes)," \
  "analytic $(echo "$tp_line" | field tp_bytes_analytic)"
fi
if want 4; then
echo
echo "| pp=2, S=4 segments, m chains | measured bubble | graph theory | step ms |"
echo "|---|---|---|---|"
for m in 1 2 4; do
  line=$(run 2 1 --vocab 512 --dim 256 --layers 4 --heads 4 --ffn 688 --batch $((2 * m)) \
    --seq 256 --pp 2 --micro-batches "$m" --segments 4)
  printf '| %s | %.3f | %.3f | %.0f |\n' "$m" "$(echo "$line" | field bubble)" \
    "$(echo "$line" | field bubble_theory)" "$(echo "$line" | field step_ms)"
done
fi
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
