#!/usr/bin/env python3
"""Builds the CCM ICL results (docs/results/ccm/icl/) from run directories: accuracy on
each task's episodes (METHODS.md §2.8: the option of the highest summed log-likelihood,
EOS excluded; acc_norm: of the highest mean log-likelihood per token) for each condition,
with its standard error, the majority-class rate, and the keys/values the answer reads;
and an SVG bar chart of the accuracies.

    python3 tools/ccm_icl_results.py --out DIR SWEEP_OR_RUN_DIR...

Every argument is a run directory (it has eval/icl-<step>.json, written by the icl task
of `condense train|eval --method ccm` on an ICL-episode set) or a directory of them.
Each run's newest evaluation is used; its config.cfg, metrics.jsonl and that evaluation
are copied into DIR/runs/<name>/, so the command also rebuilds the table from DIR/runs.
"""
import argparse
import json
import math
import pathlib

from ccm_results import NAMES, copy_run, find_runs, newest_eval

ORDER = {"no": 0, "pos_control": 0, "concat": 1, "concat_recur": 2, "merge": 3,
         "merge_recur": 4, "gist": 5, "neg_control": 9}
COLORS = ["#2ca02c", "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#d62728"]


def name_of(j):
    a = j["attn"]
    return NAMES[a] if a in ("no", "pos_control", "neg_control") else f"{NAMES.get(a, a)} n={j['n_tok']}"


def se(p, n):
    return math.sqrt(p * (1 - p) / n) if n else float("nan")


def svg(rows, tasks, title):
    w, h, left, top, bottom = 640, 300, 50, 30, 50
    group = (w - left - 20) / len(tasks)
    bar = group * 0.8 / len(rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<text x="{w / 2}" y="16" text-anchor="middle" font-size="13">{title}</text>']
    y = lambda v: top + (h - top - bottom) * (1 - v)
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{left}" x2="{w - 20}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 5}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    for ti, t in enumerate(tasks):
        x0 = left + ti * group + group * 0.1
        for ri, r in enumerate(rows):
            acc = r["j"]["by_task"][t]["accuracy"]
            x = x0 + ri * bar
            out.append(f'<rect x="{x:.1f}" y="{y(acc):.1f}" width="{bar * 0.9:.1f}" '
                       f'height="{y(0) - y(acc):.1f}" fill="{COLORS[ri % len(COLORS)]}"/>')
        maj = rows[0]["j"]["by_task"][t].get("majority")
        if maj is not None:
            out.append(f'<line x1="{x0:.1f}" x2="{x0 + group * 0.8:.1f}" y1="{y(maj):.1f}" '
                       f'y2="{y(maj):.1f}" stroke="black" stroke-dasharray="4,3"/>')
        out.append(f'<text x="{x0 + group * 0.4:.1f}" y="{h - bottom + 15}" text-anchor="middle">{t}</text>')
    for ri, r in enumerate(rows):
        x = left + ri * 150
        out.append(f'<rect x="{x}" y="{h - 22}" width="10" height="10" fill="{COLORS[ri % len(COLORS)]}"/>')
        out.append(f'<text x="{x + 14}" y="{h - 13}">{r["name"]}</text>')
    out.append(f'<text x="{w - 20}" y="{top - 4}" text-anchor="end">dashed: majority class</text>')
    return "\n".join(out + ["</svg>"]) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--title", default="CCM, ICL accuracy")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    rows = []
    for run in find_runs(a.dirs, "icl"):
        ev = newest_eval(run, "icl")
        j = json.loads(ev.read_text())
        rows.append({"run": run.name, "name": name_of(j), "attn": j["attn"], "j": j})
        copy_run(run, ev, a.out / "runs" / run.name)
    rows.sort(key=lambda r: (ORDER.get(r["attn"], 5), r["name"]))
    tasks = [t for t in rows[0]["j"]["by_task"] if t != "all"] + ["all"]
    for r in rows:
        if [t for t in r["j"]["by_task"] if t != "all"] + ["all"] != tasks:
            raise SystemExit(f"ccm_icl_results: run {r['run']} was scored on other tasks")
    full = next((r for r in rows if r["attn"] in ("no", "pos_control")), None)
    md = ("| condition | step | " + " | ".join(f"{t} acc | {t} acc_norm" for t in tasks)
          + " | KV entries | memory vs full |\n|---|---:|" + "---:|---:|" * len(tasks) + "---:|---:|\n")
    csv = "run,condition,attn,n_tok,step," + ",".join(
        f"{t}_acc,{t}_acc_norm,{t}_episodes" for t in tasks) + ",kv_entries\n"
    for r in rows:
        j, cells = r["j"], []
        for t in tasks:
            b = j["by_task"][t]
            cells.append(f"{b['accuracy']:.3f} ± {se(b['accuracy'], b['episodes']):.3f} | "
                         f"{b['accuracy_norm']:.3f}")
        entries = j["by_task"]["all"]["memory_entries"]
        ratio = "reference" if r is full else (
            "none" if entries == 0 else
            f"{full['j']['by_task']['all']['memory_entries'] / entries:.1f}x less" if full else "")
        md += f"| {r['name']} | {j['step']} | " + " | ".join(cells) + f" | {entries:.1f} | {ratio} |\n"
        csv += f"{r['run']},{r['name']},{j['attn']},{j['n_tok']},{j['step']}," + ",".join(
            f"{j['by_task'][t]['accuracy']:.5f},{j['by_task'][t]['accuracy_norm']:.5f},"
            f"{j['by_task'][t]['episodes']}" for t in tasks) + f",{entries:.2f}\n"
    maj = rows[0]["j"]["by_task"]
    if all("majority" in maj[t] for t in tasks):
        cells = ["majority class", ""] + [c for t in tasks for c in (f"{maj[t]['majority']:.3f}", "")]
        md += "| " + " | ".join(cells + ["", ""]) + " |\n"
    n = {t: rows[0]["j"]["by_task"][t]["episodes"] for t in tasks}
    md += ("\nEpisodes per task: " + ", ".join(f"{t} {n[t]}" for t in tasks)
           + ". acc: the option (label name) of the highest summed log-likelihood after the "
           "demonstrations and the query, EOS excluded; acc_norm: of the highest mean "
           "log-likelihood per token (METHODS.md §2.8); ± one standard error. KV entries: "
           "the keys/values per layer the answer reads besides its own tokens (mean).\n")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "results.md").write_text(md)
    (a.out / "results.csv").write_text(csv)
    (a.out / "results.svg").write_text(svg(rows, tasks, a.title))
    print(md, end="")


if __name__ == "__main__":
    main()
