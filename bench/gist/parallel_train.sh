#!/usr/bin/env bash
# `condense train --method gist` on the CPU-reproduction model (experiments/configs/gist/cpu.cfg,
# vocabulary padded to 2050 so that tp=2 splits it), 100 steps per layout, on 2 cores:
# one rank x 2 threads against 2 ranks x 1 thread at dp=2, tp=2 and pp=2 (m=4).
# Prints, per run, the tok/s (real, non-pad tokens) of steps 51-100 and the step-100 loss.
# Needs the sweep's prepared data (out/gist-cpu/data: `condense data instruct --config
# experiments/configs/gist/cpu.cfg`). Usage: bash bench/gist/parallel_train.sh [repeats]
# Cost: about 1 minute per repeat.
set -euo pipefail
repeats=${1:-3}
out=${OUT:-out/bench-gist-parallel}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=active
common=(train --method gist --config experiments/configs/gist/cpu.cfg --model.vocab_size 2050
  --train.steps 100 --train.log_every 50 --train.save_every 0 --train.eval_every 0
  --eval.max_examples 1 --eval.max_new_tokens 1)
mpi=(mpirun -n 2 --bind-to none -x OMP_NUM_THREADS -x OMP_WAIT_POLICY)

run() {
  local name=$1 threads=$2
  shift 2
  rm -rf "${out:?}/$name"
  OMP_NUM_THREADS=$threads "$@" --run.dir "$out/$name" >"$out/$name.log" 2>&1
  python3 - "$out/$name/metrics.jsonl" "$name" <<'PY'
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l][-1]
print(f"{sys.argv[2]:10s} tok/s {last['tok_per_s']:8.0f}  loss@{last['step']} {last['loss']:.5f}")
PY
}

mkdir -p "$out"
for r in $(seq 1 "$repeats"); do
  run "one_$r" 2 ./build/condense "${common[@]}"
  run "dp2_$r" 1 "${mpi[@]}" ./build/condense "${common[@]}"
  run "tp2_$r" 1 "${mpi[@]}" ./build/condense "${common[@]}" --tp 2
  run "pp2m4_$r" 1 "${mpi[@]}" ./build/condense "${common[@]}" --pp 2 --micro-batches 4
done
