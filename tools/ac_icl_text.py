#!/usr/bin/env python3
"""Writes ICL-shaped training text for the AutoCompressor (docs/results/autocompressor/
icl.md, the fine-tuning check): documents that are long runs of labelled examples of one
classification set in the authors' template (the icl task's, experiments/methods/
autocompressor/icl.cpp: "Sentence: {x}\\nSentiment: {label}" for SST-2, "Article: {x}\\n
Topic: {label}" for AG News), joined by "\\n\\n" as the task joins demonstrations. A model
trained on them reads demonstrations and queries of that shape; `condense data books
--format plain` makes the documents a dataset.

    python3 tools/ac_icl_text.py --out DIR [--docs 4] [--examples 1500] [--seed 1] \\
        --sst2 SST2_TRAIN.tsv --agnews AGNEWS_DEV.tsv

Writes DIR/<task>-<i>.txt; each document draws its examples at random (seeded) from the
task's file, never a test split.
"""
import argparse
import pathlib
import random

TEMPLATES = {"sst2": ("Sentence: ", "\nSentiment: ", ["negative", "positive"], True),
             "agnews": ("Article: ", "\nTopic: ", None, False)}


def examples(task, path):
    """(input, label name) of every line of a `condense data icl` input TSV."""
    _, _, names, header = TEMPLATES[task]
    lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()[1 if header else 0:]
    out = []
    for line in lines:
        text, label = line.rsplit("\t", 1)
        out.append((text, names[int(label)] if names else label))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--docs", type=int, default=4)
    ap.add_argument("--examples", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sst2")
    ap.add_argument("--agnews")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(a.seed)
    for task in TEMPLATES:
        path = getattr(a, task)
        if not path:
            continue
        pool = examples(task, path)
        first, second, _, _ = TEMPLATES[task]
        for i in range(a.docs):
            doc = "\n\n".join(f"{first}{x}{second}{y}"
                              for x, y in rng.sample(pool, min(a.examples, len(pool))))
            (a.out / f"{task}-{i}.txt").write_text(doc + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
