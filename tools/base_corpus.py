#!/usr/bin/env python3
"""The text of the unified comparison's base model (docs/results/unified, issue #15).

Training text: six Project Gutenberg books, WikiText-2 valid, DailyDialog validation,
the Alpaca+ training part, and the synthetic tasks' training splits (given as files:
Alpaca+-style JSON, or plain text), each cut into chunks of about --chunk characters at
paragraph ends, shuffled with --seed and written one file per chunk under OUT/train/
(`condense data text` packs them in that order, so a batch mixes every source).
Held-out text for the base's perplexity, one file per source under OUT/valid/: the first
--valid-chars characters of Great Expectations, the raw WikiText-2 test split and the
DailyDialog test split. Prints the per-source character counts.

usage: base_corpus.py --shared DIR --out DIR [--synthetic FILE ...] [--chunk N] [--seed S]
"""
import argparse
import json
import os
import random
import sys

TRAIN_BOOKS = ["pg2701_moby_dick.txt", "pg1342_pride_and_prejudice.txt",
               "pg2600_war_and_peace.txt", "pg145_middlemarch.txt", "pg345_dracula.txt",
               "pg98_a_tale_of_two_cities.txt"]
VALID_BOOK = "pg1400_great_expectations.txt"


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as e:
        sys.exit(f"base_corpus: {path}: cannot read ({e.strerror})")


def gutenberg_body(text, path):
    start = text.find("*** START OF")
    end = text.find("*** END OF")
    if start < 0 or end < 0:
        sys.exit(f"base_corpus: {path}: no Project Gutenberg START/END markers")
    return text[text.index("\n", start) + 1:end]


def dailydialog(text):
    # One dialogue per line, turns ended by __eou__: a turn per line, a blank line after.
    out = []
    for line in text.splitlines():
        turns = [t.strip() for t in line.split("__eou__") if t.strip()]
        out.append("\n".join(turns))
    return "\n\n".join(out)


def instructions(path):
    # Alpaca+ records worded as the instruction methods' prompt (experiments/tasks/instruct.h).
    try:
        records = json.loads(read(path))
    except json.JSONDecodeError as e:
        sys.exit(f"base_corpus: {path}:{e.lineno}: bad JSON ({e.msg})")
    out = []
    for r in records:
        head = "Instruction: " + r["instruction"] + "\n"
        if r.get("input"):
            head += "\nInput: " + r["input"] + "\n"
        out.append(head + "Output: " + r["output"])
    return "\n\n".join(out)


def chunks(text, size):
    out, cur = [], []
    n = 0
    for para in text.split("\n\n"):
        cur.append(para)
        n += len(para) + 2
        if n >= size:
            out.append("\n\n".join(cur))
            cur, n = [], 0
    if cur:
        out.append("\n\n".join(cur))
    return [c for c in out if c.strip()]


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", required=True, help="the shared data folder (../shared/data)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--synthetic", nargs="*", default=[],
                    help="synthetic training splits: .json (Alpaca+) or text files")
    ap.add_argument("--chunk", type=int, default=4000, help="characters per training chunk")
    ap.add_argument("--valid-chars", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    s = a.shared
    sources = {}
    for b in TRAIN_BOOKS:
        p = os.path.join(s, "books/gutenberg", b)
        sources[b] = gutenberg_body(read(p), p)
    sources["wikitext-2 valid"] = read(os.path.join(s, "wikitext/wikitext-2/valid.txt"))
    sources["dailydialog validation"] = dailydialog(
        read(os.path.join(s, "dialogue/dailydialog/validation/dialogues_validation.txt")))
    sources["alpaca+ train part"] = instructions(
        os.path.join(s, "alpaca_plus/partial/alpaca_part_of_train_APPROX.json"))
    for p in a.synthetic:
        sources[os.path.basename(p)] = instructions(p) if p.endswith(".json") else read(p)

    pieces = []
    for name, text in sources.items():
        pieces += chunks(text, a.chunk)
        print(f"train  {name}: {len(text)} characters")
    random.Random(a.seed).shuffle(pieces)
    os.makedirs(os.path.join(a.out, "train"), exist_ok=True)
    for i, c in enumerate(pieces):
        write(os.path.join(a.out, "train", f"{i:06d}.txt"), c)

    vb = os.path.join(s, "books/gutenberg", VALID_BOOK)
    valid = {
        "great_expectations": gutenberg_body(read(vb), vb),
        "wikitext2_test": read(os.path.join(s, "wikitext/wikitext-2-raw/wiki.test.raw")),
        "dailydialog_test": dailydialog(
            read(os.path.join(s, "dialogue/dailydialog/test/dialogues_test.txt"))),
    }
    os.makedirs(os.path.join(a.out, "valid"), exist_ok=True)
    for name, text in valid.items():
        write(os.path.join(a.out, "valid", name + ".txt"), text[:a.valid_chars])
        print(f"valid  {name}: {min(len(text), a.valid_chars)} characters")
    print(f"{len(pieces)} training chunks in {os.path.join(a.out, 'train')}")


if __name__ == "__main__":
    main()
