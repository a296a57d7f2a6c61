#!/usr/bin/env python3
"""Compares two sweep directories run for run: every logged loss and validation loss
(metrics.jsonl, by step) within a tolerance, every eval/outputs-*.csv byte for byte,
and the results table (rouge.csv) byte for byte.

    python3 tools/compare_sweeps.py BEFORE_DIR AFTER_DIR [--tol 1e-6]

Used to check that moving gist onto the method interface (issue 11) left the smoke
sweep's numbers unchanged. Exit status 0 when everything matches, 1 otherwise."""
import argparse
import json
import pathlib
import sys


def logged(run, key):
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        j = json.loads(line)
        if key in j and j[key] is not None:
            out[j["step"]] = j[key]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=pathlib.Path)
    ap.add_argument("after", type=pathlib.Path)
    ap.add_argument("--tol", type=float, default=1e-6)
    a = ap.parse_args()
    bad = []
    runs = sorted(p.name for p in a.before.iterdir() if (p / "metrics.jsonl").exists())
    if not runs:
        bad.append(f"{a.before}: no runs")
    checked = 0
    for run in runs:
        b, n = a.before / run, a.after / run
        if not (n / "metrics.jsonl").exists():
            bad.append(f"{run}: missing in {a.after}")
            continue
        for key in ("loss", "val_loss"):
            want, got = logged(b, key), logged(n, key)
            if sorted(want) != sorted(got):
                bad.append(f"{run} {key}: steps {sorted(want)} vs {sorted(got)}")
                continue
            for step, v in want.items():
                checked += 1
                if abs(got[step] - v) > a.tol:
                    bad.append(f"{run} {key} step {step}: {v} vs {got[step]}")
        for csv in sorted((b / "eval").glob("outputs-*.csv")):
            checked += 1
            other = n / "eval" / csv.name
            if not other.exists() or other.read_bytes() != csv.read_bytes():
                bad.append(f"{run}: {csv.name} differs")
    for table in ("rouge.csv",):
        if (a.before / table).exists():
            checked += 1
            if (a.after / table).read_bytes() != (a.before / table).read_bytes():
                bad.append(f"{table} differs")
    for line in bad:
        print("DIFF", line)
    print(f"{len(runs)} runs, {checked} values/files compared, {len(bad)} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
