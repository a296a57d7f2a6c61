#!/usr/bin/env python3
"""The books perplexity table of books.md from the runs' eval/books_ppl-STEP.json.

python3 tools/fot_books_table.py docs/results/fot/books-runs/fot docs/results/fot/books-runs/control
prints a markdown table: one row per run (its newest evaluation), one column per memory size.
"""
import glob
import json
import os
import re
import sys


def newest(run):
    files = glob.glob(os.path.join(run, "eval", "books_ppl-*.json"))
    if not files:
        sys.exit(f"books_table: {run} has no eval/books_ppl-STEP.json")
    return max(files, key=lambda f: int(re.search(r"-(\d+)\.json$", f).group(1)))


def main(runs):
    rows = [json.load(open(newest(r))) for r in runs]
    mems = [m["memory"] for m in rows[0]["memories"]]
    c = rows[0]["local_context"]
    head = "| run | memory layers | step | " + " | ".join(
        f"M = {m // c}C ({m})" for m in mems) + " |"
    print(head)
    print("|" + "---|" * (3 + len(mems)))
    for run, j in zip(runs, rows):
        if [m["memory"] for m in j["memories"]] != mems:
            sys.exit(f"books_table: {run} has other memory sizes")
        layers = ",".join(map(str, j["memory_layers"])) or "none"
        cells = " | ".join(f"{m['ppl']:.3f}" for m in j["memories"])
        print(f"| {os.path.basename(run.rstrip('/'))} | {layers} | {j['step']} | {cells} |")
    print(f"\n{rows[0]['windows']} windows, {rows[0]['predictions']} predictions per cell, C = {c}.")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: books_table.py RUN_DIR...")
    main(sys.argv[1:])
