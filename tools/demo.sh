#!/usr/bin/env bash
# The main job on shipped data: installs what condense needs, builds it, then
#  1. imports a real pretrained tiny LLaMA (llama2.c stories260K) and samples from it,
#  2. tokenizes shipped text into HDF5 datasets,
#  3. trains a small LLaMA from scratch (the loss falls),
#  4. reports its perplexity on held-out text and a sample generation,
#  5. compresses: fine-tunes gist and CCM (with their full- and no-context controls)
#     from that LLaMA on synthetic instructions whose answer the instruction decides,
#     and prints `condense report`'s table: exact match, perplexity, the memory each
#     keeps of the instruction, time per answer (experiments/configs/unified/demo.cfg).
# Everything lands in out/demo/. Usage: bash tools/demo.sh
# Cost on the 2-core VM once the binary is built: 6 minutes (2026-12-08; step 5 is 4 of them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
BUILD_TARGET=condense bash tools/build.sh
c=./build/condense
d=out/demo
rm -rf "$d" && mkdir -p "$d"

echo "== 1. import llama2.c stories260K and generate (greedy)"
$c import llama2c --model tests/data/tinyllamas/stories260K.bin \
  --tokenizer tests/data/tinyllamas/tok512.bin --out "$d/stories260K"
$c generate --model "$d/stories260K" --prompt "Once upon a time" --max-new-tokens 60 --temperature 0

echo "== 2. tokenize shipped text (its 512-token tokenizer) into HDF5"
tok="$d/stories260K/tokenizer.model"
$c data text --input tests/data/train_sample.txt --tokenizer "$tok" --out "$d/train.h5"
$c data text --input tests/data/valid_sample.txt --tokenizer "$tok" --out "$d/valid.h5" \
  --split validation

echo "== 3. train a small LLaMA from scratch"
$c train --config experiments/configs/demo.cfg --data.train "$d/train.h5" \
  --data.valid "$d/valid.h5" --data.tokenizer "$tok" --run.dir "$d/run"

echo "== 4. perplexity on held-out text, and a sample"
$c eval ppl --model "$d/run" --data "$d/valid.h5" --seq-len 128
$c generate --model "$d/run" --prompt "Elizabeth" --max-new-tokens 60 --temperature 0.8 --seed 1

echo "== 5. compression: gist and CCM fine-tuned from that LLaMA on synthetic instructions"
s="$d/synth"
$c data synth-instruct --out "$s/json" --train 4000 --valid 100 --seed 1
$c data instruct --prepare.train_json "$s/json/alpaca_plus_train.json" \
  --prepare.valid_dir "$s/json" --prepare.tokenizer "$tok" --data.dir "$s/instruct"
for split in train validation_seen; do
  $c data instruct-dialogue --json "$s/json/alpaca_plus_$split.json" --tokenizer "$tok" \
    --split "$split" --out "$s/dialogue-$split.h5"
done
$c sweep --config experiments/configs/unified/demo.cfg --quiet >/dev/null
$c report "$d/compare" --out "$d/report" >/dev/null
echo "gist and CCM on the seen instructions (smoke scale: 1 M parameters, 250 steps a run;"
echo "exact_match: answers right to the token; memory: KV entries per layer kept of the"
echo "instruction; neg_control: the instruction is never seen):"
cat "$d/report/instruct_seen.md"
echo "== done: base run $d/run; comparison runs $d/compare; tables and plots $d/report"
echo "   (plot: $d/report/instruct_seen.svg)"
