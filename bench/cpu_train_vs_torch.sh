#!/usr/bin/env bash
# CPU training throughput: condense vs PyTorch 1.13 (Debian python3-torch) on the
# same LLaMA, batch, optimizer (AdamW) and cores, fp32, the two sides alternating.
# Usage: bash bench/cpu_train_vs_torch.sh [tiny|small] [steps] [runs]
#   tiny  = V8192 d256 L4 heads4 ff688, batch 8x256   (10 steps x 5 runs: ~1.5 min on 2 cores)
#   small = V32000 d512 L8 heads8 ff1376, batch 4x256 (4 steps x 3 runs: ~2 min)
# Each side uses its best threading on this 2-core machine: condense one OpenMP
# pool of 2 threads (OpenBLAS OpenMP build inside it); PyTorch OMP_NUM_THREADS=1,
# torch 1 thread, OPENBLAS_NUM_THREADS=2 (measured best; see bench/torch_train.py).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-tiny}
steps=${2:-10}
runs=${3:-5}
case "$preset" in
  tiny) args="--vocab 8192 --dim 256 --layers 4 --heads 4 --kv-heads 4 --ffn 688 --batch 8 --seq 256" ;;
  small) args="--vocab 32000 --dim 512 --layers 8 --heads 8 --kv-heads 8 --ffn 1376 --batch 4 --seq 256" ;;
  *) echo "usage: $0 [tiny|small] [steps] [runs]" >&2; exit 2 ;;
esac
[ -x build/condense ] || bash tools/build.sh
# Both sides: OpenMP threads spin between parallel regions instead of sleeping. On
# this VM a sleeping vCPU is descheduled, and waking it costs condense 10-20% of a
# step, varying from run to run; PyTorch (one OpenMP thread) is unaffected.
export OMP_WAIT_POLICY=active
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== pytorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
tok_s() { sed -E -n 's/.*tok\/s=([0-9.e+]+).*/\1/p' | tail -1; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# The VM's speed drifts by +-10% within minutes, so the two sides alternate, `runs`
# times each, and the medians are compared.
cs=() ts=()
for i in $(seq "$runs"); do
  c=$(OMP_NUM_THREADS=2 ./build/condense bench train --preset "$preset" --steps "$steps" --warmup 2 2>/dev/null | tok_s)
  # shellcheck disable=SC2086
  t=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/torch_train.py --threads 1 $args \
        --steps "$steps" --warmup-steps 2 | tok_s)
  echo "run $i: condense tok/s=$c pytorch tok/s=$t"
  cs+=("$c") ts+=("$t")
done
ct=$(printf '%s\n' "${cs[@]}" | median)
tt=$(printf '%s\n' "${ts[@]}" | median)
echo "median: condense tok/s=$ct pytorch tok/s=$tt"
echo "speedup=$(awk -v a="$ct" -v b="$tt" 'BEGIN { printf "%.2f", a / b }')"
