#!/usr/bin/env bash
# CPU training throughput: condense vs PyTorch 1.13 (Debian python3-torch) on the
# same LLaMA, batch, optimizer (AdamW) and cores, fp32, in one run.
# Usage: bash bench/cpu_train_vs_torch.sh [tiny|small] [steps]
#   tiny  = V8192 d256 L4 heads4 ff688, batch 8x256   (~1 min on 2 cores)
#   small = V32000 d512 L8 heads8 ff1376, batch 4x256 (~3 min on 2 cores)
# Each side uses its best threading on this 2-core machine: condense one OpenMP
# pool of 2 threads (OpenBLAS OpenMP build inside it); PyTorch OMP_NUM_THREADS=1,
# torch 1 thread, OPENBLAS_NUM_THREADS=2 (measured best; see bench/torch_train.py).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-tiny}
steps=${2:-10}
case "$preset" in
  tiny) args="--vocab 8192 --dim 256 --layers 4 --heads 4 --kv-heads 4 --ffn 688 --batch 8 --seq 256" ;;
  small) args="--vocab 32000 --dim 512 --layers 8 --heads 8 --kv-heads 8 --ffn 1376 --batch 4 --seq 256" ;;
  *) echo "usage: $0 [tiny|small] [steps]" >&2; exit 2 ;;
esac
[ -x build/condense ] || bash tools/build.sh
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== condense"
c=$(OMP_NUM_THREADS=2 ./build/condense bench train --preset "$preset" --steps "$steps" --warmup 2 2>/dev/null | tail -1)
echo "$c"
echo "== pytorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
# shellcheck disable=SC2086
t=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/torch_train.py --threads 1 $args \
      --steps "$steps" --warmup-steps 2 | tail -1)
echo "$t"
ct=$(echo "$c" | sed -E 's/.*tok\/s=([0-9.e+]+).*/\1/')
tt=$(echo "$t" | sed -E 's/.*tok\/s=([0-9.e+]+).*/\1/')
echo "speedup=$(awk -v a="$ct" -v b="$tt" 'BEGIN { printf "%.2f", a / b }')"
