#!/usr/bin/env python3
"""Exact match per operation of gist runs on the synthetic instruction set.

    python3 tools/gist_synth_ops.py --json JSON_DIR --out OPS.md RUN_DIR...

JSON_DIR is what `condense data synth-instruct` wrote (its validation records carry
"source": "synthetic:<operation>"); each RUN_DIR a gist run evaluated on all of each
split (eval.max_examples 0), so row i of eval/outputs-<step>-validation_<split>.csv is
record i of alpaca_plus_validation_<split>.json. For the newest evaluated step of every
run, a row's answer is exact when y_pred equals y_true after trimming outer whitespace
(eval::exact_match); each split's mean must equal the run's eval/summary-<step>.json
exact_match, so the breakdown and the sweep's table count the same answers. Writes one
Markdown table per split present: rows condition × k (mean over the runs' seeds),
columns the operations, cells exact match x100.
"""
import argparse
import collections
import csv
import json
import pathlib
import re
import sys

SPLITS = ("seen", "unseen", "human")
ORDER = {"pos_control": 0, "gist": 1, "neg_control": 2}


def fail(msg):
    sys.exit(f"gist_synth_ops: {msg}")


def newest_summary(run):
    steps = [int(m.group(1)) for p in (run / "eval").glob("summary-*.json")
             if (m := re.fullmatch(r"summary-(\d+)\.json", p.name))]
    if not steps:
        fail(f"{run} has no eval/summary-<step>.json")
    step = max(steps)
    return step, json.loads((run / "eval" / f"summary-{step}.json").read_text())


def per_op(run, json_dir):
    """{split: {op: [exact, total]}} for the run's newest step, checked against its summary."""
    step, summary = newest_summary(run)
    out = {}
    for split in SPLITS:
        path = run / "eval" / f"outputs-{step}-validation_{split}.csv"
        if not path.exists():
            continue
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        records = json.loads((json_dir / f"alpaca_plus_validation_{split}.json").read_text())
        if len(rows) != len(records):
            fail(f"{path}: {len(rows)} rows but {len(records)} records in {json_dir} "
                 "(evaluated on a subset? the join needs eval.max_examples 0)")
        counts = collections.defaultdict(lambda: [0, 0])
        for row, rec in zip(rows, records):
            if row["y_true"].strip() != rec["output"].strip():
                fail(f"{path}: a row's y_true is not its record's output ({rec['output']!r})")
            op = rec["source"].split(":", 1)[1]
            counts[op][0] += row["y_pred"].strip() == row["y_true"].strip()
            counts[op][1] += 1
        exact = sum(c[0] for c in counts.values()) / len(rows)
        expected = summary["splits"][split]["exact_match"] / 100
        if abs(exact - expected) > 1e-9:
            fail(f"{path}: exact match {exact} but the summary says {expected}")
        out[split] = counts
    return summary["condition"], summary["num_tokens"], out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", required=True, type=pathlib.Path)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("runs", nargs="+", type=pathlib.Path)
    a = ap.parse_args()
    groups = collections.defaultdict(list)  # (condition, k) -> [per_op of a seed]
    for run in a.runs:
        condition, k, counts = per_op(run, a.json)
        groups[(condition, k)].append(counts)
    keys = sorted(groups, key=lambda g: (ORDER.get(g[0], 3), g[1]))
    md = []
    for split in SPLITS:
        ops = sorted({op for g in groups.values() for c in g if split in c for op in c[split]})
        if not ops:
            continue
        n = {op: next(c[split][op][1] for g in groups.values() for c in g if split in c)
             for op in ops}
        md += [f"validation_{split} (examples per operation in brackets):", "",
               "| condition | k | seeds | " + " | ".join(f"{op} ({n[op]})" for op in ops) + " |",
               "|---|---:|---:|" + "---:|" * len(ops)]
        for key in keys:
            runs = [c[split] for c in groups[key] if split in c]
            cells = [f"{100 * sum(r[op][0] / r[op][1] for r in runs) / len(runs):.1f}"
                     for op in ops]
            md.append(f"| {key[0]} | {key[1]} | {len(runs)} | " + " | ".join(cells) + " |")
        md.append("")
    tmp = a.out.with_name(a.out.name + ".tmp")
    tmp.write_text("\n".join(md))
    tmp.replace(a.out)


if __name__ == "__main__":
    main()
