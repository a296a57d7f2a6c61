#!/usr/bin/env python3
"""Builds the AutoCompressor / RMT ICL results (docs/results/autocompressor/icl.{md,csv})
from run directories: accuracy on each classification set (METHODS.md §3.4, the authors'
evaluate_icl.py: the option of the lowest mean NLL minus its calibration NLL) with the
k demonstrations compressed into σ, in plain text before the query, or absent, with its
standard error, the uncalibrated accuracy, what the answer reads, and the majority-class
rate.

    python3 tools/ac_icl_results.py --out DIR [--title T] SWEEP_OR_RUN_DIR...

Every argument is a run directory (with eval/icl-<step>.json, written by the icl task of
`condense eval --method autocompressor|rmt`) or a directory of them. Each run's newest
evaluation is used; its config.cfg, metrics.jsonl, results.jsonl and that evaluation are
copied into DIR/runs-icl/<name>/, so the command also rebuilds the table from
DIR/runs-icl alone.
"""
import argparse
import pathlib
import shutil

from ac_results import condition, evaluated_runs, order_key

READS = {"compressed": "σ", "plain": "plain text", "none": "none"}


def most_given(task, c):
    """(label, share of the queries) of the calibrated prediction made most often."""
    counts = c["predicted"]
    top = max(range(len(counts)), key=lambda o: counts[o])
    return task["options"][top], counts[top] / task["queries"]


def answer_mix_chance(task, c):
    """What the condition's mix of answers scores if it ignores the query: the sum over
    labels of the share predicted times the share of gold labels (None when the
    evaluation did not record the gold counts)."""
    if "gold" not in task:
        return None
    n = task["queries"]
    return sum(p * g for p, g in zip(c["predicted"], task["gold"])) / (n * n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--title", default="AutoCompressor and RMT: ICL accuracy")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    rows = []
    for run, name, j, cfg in evaluated_runs(a.dirs, "icl", a.out / "runs-icl"):
        records = run / "results.jsonl"  # the result records, for `condense report`
        dest = a.out / "runs-icl" / name / records.name
        if records.exists() and records.resolve() != dest.resolve():
            shutil.copy(records, dest)
        rows.append({"run": name, "j": j, "step": j["step"], "name": condition(j, cfg),
                     "scratch": not cfg.get("train.init_from"),
                     "tasks": {t["task"]: t for t in j["tasks"]}})
    rows.sort(key=order_key)
    tasks = list(rows[0]["tasks"])
    for r in rows:
        if list(r["tasks"]) != tasks:
            raise SystemExit(f"ac_icl_results: run {r['run']} was scored on other sets")
        for t in tasks:
            ours, first = r["tasks"][t], rows[0]["tasks"][t]
            if ours["demonstrations"] != first["demonstrations"] or ours["queries"] != first["queries"]:
                raise SystemExit(f"ac_icl_results: run {r['run']} drew other {t} demonstrations "
                                 "or queries than the first run")

    # The answer-mix column where every evaluation recorded its gold counts.
    with_mix = all("gold" in r["tasks"][t] for r in rows for t in tasks)
    mix_head = ["answer-mix chance"] if with_mix else []
    md = ("| model | step | demonstrations | "
          + " | ".join(" | ".join(f"{t} {h}" for h in ["acc", "uncal.", "most given answer"]
                                  + mix_head + ["reads"]) for t in tasks)
          + " |\n|---|---:|---|" + ("---:|---:|---|" + "---:|" * len(mix_head) + "---:|")
          * len(tasks) + "\n")
    csv = ("run,model,step,demonstrations,task,k,accuracy,std_error,accuracy_uncalibrated,n,"
           "top_answer,top_answer_share,answer_mix_chance,memory_vectors,context_tokens,seconds_per_query\n")
    for r in rows:
        conds = [c["condition"] for c in r["tasks"][tasks[0]]["conditions"]]
        for cond in conds:
            cells = []
            for t in tasks:
                task = r["tasks"][t]
                c = next(x for x in task["conditions"] if x["condition"] == cond)
                reads = {"compressed": f"{c['memory_vectors']} vectors",
                         "plain": f"{c['memory_vectors']} tokens", "none": "0"}[cond]
                top, share = most_given(task, c)
                mix = answer_mix_chance(task, c)
                mix = "" if mix is None else f"{mix:.3f}"
                cells.append(f"{c['accuracy']:.3f} ± {c['std_error']:.3f} | "
                             f"{c['accuracy_uncalibrated']:.3f} | {top} {share:.2f} | "
                             + (f"{mix} | " if with_mix else "") + reads)
                csv += (f"{r['run']},{r['name']},{r['step']},{cond},{t},{task['k']},"
                        f"{c['accuracy']:.5f},{c['std_error']:.5f},"
                        f"{c['accuracy_uncalibrated']:.5f},{task['queries']},{top},{share:.4f},{mix},"
                        f"{c['memory_vectors']},{c['context_tokens']:.0f},"
                        f"{c['seconds_per_query']:.5f}\n")
            md += f"| {r['name']} | {r['step']} | {READS[cond]} | " + " | ".join(cells) + " |\n"
    first = rows[0]["tasks"]
    md += ("| majority class | | | "
           + " | ".join(f"{first[t]['majority']:.3f} | | | " + ("| " if with_mix else "")
                        for t in tasks) + " |\n")
    j0 = rows[0]["j"]
    md += ("\n" + "; ".join(
        f"{t}: k = {first[t]['k']} demonstrations ({first[t]['demo_tokens']} tokens in plain "
        f"text, compressed in {len(first[t]['segment_tokens'])} segments of "
        f"{', '.join(map(str, first[t]['segment_tokens']))} tokens), {first[t]['queries']} "
        f"queries ({first[t]['skipped']} left out for length)" for t in tasks)
        + f". Every run reads the same demonstrations and queries (seed {j0['seed']}). "
        "acc: the option of the lowest mean NLL of its tokens minus its calibration NLL (the "
        "same option after the same context with the query's input replaced by \"N/A\"), "
        "± one standard error; uncal.: the lowest mean NLL alone. Most given answer: the "
        "label the calibrated prediction picks most, and the share of queries it gets (a "
        "model that gives one answer whatever the query scores that label's share). "
        + ("Answer-mix chance: what that mix of answers scores if it ignores the query (Σ "
           "over labels of the share predicted × the share of gold labels); accuracy above "
           "it is what the model reads in the query. " if with_mix else "")
        + "Reads: the σ vectors or "
        "plain-text tokens the answer attends to, per layer.\n")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "icl.md").write_text(f"# {a.title}\n\n" + md)
    (a.out / "icl.csv").write_text(csv)
    print(md, end="")


if __name__ == "__main__":
    main()
