#!/usr/bin/env bash
# Makes the base model of the unified comparison (issue #15): the synthetic tasks'
# training splits, the corpus (tools/base_corpus.py), a SentencePiece tokenizer, the
# token datasets, the training run (experiments/configs/unified/base.cfg) and its
# perplexity on held-out text in OUT/perplexity.md. The checkpoint is built, never
# committed. An interrupted run resumes from its last checkpoint when run again.
# Usage: bash tools/base_model.sh [OUT]   (default out/unified/base)
# Environment: SHARED (default ../shared/data), STEPS (overrides train.steps, e.g. 20
# for a smoke run), THREADS (OMP threads, default all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/unified/base}
shared=${SHARED:-../shared/data}
c=./build/condense
[ -x "$c" ] || { echo "base_model.sh: $c is missing: run bash tools/build.sh first" >&2; exit 1; }
[ -d "$shared/books" ] || { echo "base_model.sh: $shared/books is missing: set SHARED to the shared data folder" >&2; exit 1; }
export OMP_NUM_THREADS=${THREADS:-$(nproc)}
mkdir -p "$out"

echo "== 1. the synthetic tasks' training splits"
[ -f "$out/synth/alpaca_plus_train.json" ] ||
  $c data synth-instruct --out "$out/synth" --train 20000 --valid 300 --seed 1
[ -f "$out/recall.txt" ] ||
  $c data recall --seed 11 --dialogues 4000 --text_out "$out/recall.txt"

echo "== 2. the corpus, the tokenizer, the token datasets"
if [ ! -f "$out/train.h5" ]; then
  rm -rf "$out/corpus"
  python3 tools/base_corpus.py --shared "$shared" --out "$out/corpus" \
    --synthetic "$out/synth/alpaca_plus_train.json" "$out/recall.txt"
  # A tokenizer from every fourth chunk (shuffled, so every source is in it).
  $c data tokenizer --input $(ls "$out"/corpus/train/*.txt | awk 'NR % 4 == 0') \
    --vocab-size 4096 --out "$out/tok"
  $c data text --input "$out"/corpus/train/*.txt --tokenizer "$out/tok.model" \
    --source "tools/base_corpus.py: books, WikiText-2, DailyDialog, Alpaca+, synthetic" \
    --out "$out/train.h5"
  for v in great_expectations wikitext2_test dailydialog_test; do
    $c data text --input "$out/corpus/valid/$v.txt" --tokenizer "$out/tok.model" \
      --split validation --out "$out/valid-$v.h5"
  done
fi

echo "== 3. training"
resume=()
[ -z "$(ls "$out"/run/checkpoints/*.h5 2>/dev/null)" ] || resume=(--resume)
$c train --config experiments/configs/unified/base.cfg --data.train "$out/train.h5" \
  --data.valid "$out/valid-great_expectations.h5" --data.tokenizer "$out/tok.model" \
  --run.dir "$out/run" ${STEPS:+--train.steps "$STEPS"} "${resume[@]}"

echo "== 4. perplexity on held-out text"
{
  echo "| held-out text | tokens | perplexity (windows of 256 tokens) |"
  echo "|---|---:|---:|"
  for v in great_expectations wikitext2_test dailydialog_test; do
    r=$($c eval ppl --model "$out/run" --data "$out/valid-$v.h5" --seq-len 256 | tail -1)
    echo "| $v | $(echo "$r" | sed 's/.*tokens=\([0-9]*\).*/\1/') | $(echo "$r" | sed 's/.*ppl=//') |"
  done
} > "$out/perplexity.md.tmp"
mv "$out/perplexity.md.tmp" "$out/perplexity.md"
cat "$out/perplexity.md"
