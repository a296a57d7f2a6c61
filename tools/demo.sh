#!/usr/bin/env bash
# The main job on shipped data: installs what condense needs, builds it, then
#  1. imports a real pretrained tiny LLaMA (llama2.c stories260K) and samples from it,
#  2. tokenizes shipped text into HDF5 datasets,
#  3. trains a small LLaMA from scratch (the loss falls),
#  4. reports its perplexity on held-out text and a sample generation.
# Everything lands in out/demo/. Usage: bash tools/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh
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
echo "== done: run directory $d/run (config.cfg, metrics.jsonl, checkpoints/)"
