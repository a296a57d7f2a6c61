#!/usr/bin/env python3
"""Builds the CCM results (docs/results/ccm/<set>/) from run directories: the table of
perplexity and exact match by number of context turns t for each condition (full
context, no context, gist, CCM-concat, CCM-merge at each n_tok), the memory each reads
(KV entries and bytes), and an SVG plot of both against t.

    python3 tools/ccm_results.py --out DIR [--turns 1,2,4,8,16] [--label t] SWEEP_OR_RUN_DIR...

Every argument is a run directory (it has eval/dialogue-<step>.json, written by the
dialogue task of `condense train|eval --method ccm`) or a directory of them (a sweep).
Each run's newest evaluation is used. The runs' config.cfg, metrics.jsonl and that
evaluation are copied into DIR/runs/<name>/, so the command also rebuilds the table
from DIR/runs alone. --label names t in the table: "t" (context turns, the recall
set's facts) or "turns" (t + 2: the dialogue cut to n turns, DailyDialog's convention).
"""
import argparse
import json
import math
import pathlib
import shutil

# The paper's order: full context first, the compressions, no context last.
ORDER = {"no": 0, "pos_control": 0, "concat_recur": 1, "concat": 2, "merge_recur": 3,
         "merge": 4, "gist": 5, "neg_control": 9}
NAMES = {"no": "full context", "pos_control": "full context", "neg_control": "no context",
         "concat_recur": "CCM-concat", "merge_recur": "CCM-merge", "gist": "gist (fixed)",
         "concat": "CCM-concat (non-recurrent)", "merge": "CCM-merge (non-recurrent)"}
COLORS = ["#2ca02c", "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
          "#bcbd22", "#7f7f7f", "#d62728", "#aec7e8", "#98df8a"]


def newest_eval(run, task="dialogue"):
    evals = sorted(run.glob(f"eval/{task}-*.json"),
                   key=lambda p: int(p.stem.split("-")[1]))
    return evals[-1] if evals else None


def find_runs(paths, task="dialogue"):
    """The run directories among `paths` and their children with an eval/<task>-*.json."""
    runs = []
    for p in map(pathlib.Path, paths):
        if newest_eval(p, task):
            runs.append(p)
        elif p.is_dir():
            runs += sorted(r for r in p.iterdir() if r.is_dir() and newest_eval(r, task))
    if not runs:
        raise SystemExit(f"ccm_results: no run with an eval/{task}-*.json under "
                         + " ".join(paths))
    return runs


def copy_run(run, ev, dest):
    """Copies the run's config, metrics and evaluation `ev` into dest (unless it is dest)."""
    if dest.resolve() == run.resolve():
        return
    (dest / "eval").mkdir(parents=True, exist_ok=True)
    for f in ("config.cfg", "metrics.jsonl"):
        if (run / f).exists():
            shutil.copy(run / f, dest / f)
    shutil.copy(ev, dest / "eval" / ev.name)


def every_weight_trained(run):
    """The run's config.cfg says --ccm.train_base true (no LoRA, the base fine-tuned)."""
    cfg = run / "config.cfg"
    return cfg.exists() and any(line.replace(" ", "") == "train_base=true"
                                for line in cfg.read_text().splitlines())


def condition(j, full_fine_tune):
    a = j["attn"]
    if a in ("no", "pos_control", "neg_control"):
        return NAMES[a]
    return (f"{NAMES.get(a, a)} n={j['n_tok']}" + (" +sink" if j.get("sink") else "")
            + (" (every weight)" if full_fine_tune else ""))


def fmt(v, digits):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def svg_plot(rows, turns, label, title, with_em):
    """Perplexity (log axis) and, with_em, exact match against t at even spacing."""
    pw, ph, left, top, gap = 330, 230, 60, 70, 70
    width, height = left + 2 * pw + gap + 200, top + ph + 50
    legend_x = left + (2 * pw + gap if with_em else pw) + 15
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{(left + 2 * pw + gap) / 2}" y="22" text-anchor="middle" '
           f'font-size="14">{title}</text>']
    ppl = [r["by"][t]["ppl"] for r in rows for t in turns if t in r["by"]]
    lo, hi = math.log10(max(min(ppl), 1.0)), math.log10(max(ppl))
    lo, hi = math.floor(lo * 2) / 2, math.ceil(hi * 2) / 2 + (0.5 if hi == lo else 0)
    panels = [("perplexity of the answer (log)", lambda v: (math.log10(v) - lo) / (hi - lo),
               [10 ** (lo + k * 0.5) for k in range(int(round((hi - lo) * 2)) + 1)], "ppl"),
              ("exact match", lambda v: v, [0, 0.25, 0.5, 0.75, 1.0], "exact_match")]
    panels = panels if with_em else panels[:1]
    for p, (name, scale, ticks, key) in enumerate(panels):
        x0 = left + p * (pw + gap)
        X = lambda i: x0 + 20 + (pw - 40) * i / max(len(turns) - 1, 1)
        Y = lambda v: top + ph - ph * scale(v)
        out.append(f'<rect x="{x0}" y="{top}" width="{pw}" height="{ph}" fill="none" '
                   'stroke="#444"/>')
        out.append(f'<text x="{x0 + pw / 2}" y="{top - 6}" text-anchor="middle">{name}</text>')
        for v in ticks:
            out.append(f'<line x1="{x0}" y1="{Y(v):.1f}" x2="{x0 + pw}" y2="{Y(v):.1f}" '
                       f'stroke="#ddd"/><text x="{x0 - 4}" y="{Y(v) + 4:.1f}" '
                       f'text-anchor="end">{v:g}</text>')
        for i, t in enumerate(turns):
            out.append(f'<text x="{X(i):.1f}" y="{top + ph + 16}" text-anchor="middle">{t}</text>')
        out.append(f'<text x="{x0 + pw / 2}" y="{top + ph + 34}" text-anchor="middle">'
                   f'{label}</text>')
        for k, r in enumerate(rows):
            pts = [(X(i), Y(r["by"][t][key])) for i, t in enumerate(turns)
                   if t in r["by"] and not math.isnan(r["by"][t][key])]
            color = COLORS[k % len(COLORS)]
            dash = "6,4" if r["attn"] in ("no", "pos_control", "neg_control") else ""
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                       f'stroke-dasharray="{dash}" points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
            out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in pts]
    for k, r in enumerate(rows):  # legend, right of the panels
        x, y = legend_x, top + 10 + 18 * k
        color = COLORS[k % len(COLORS)]
        out.append(f'<line x1="{x}" y1="{y}" x2="{x + 24}" y2="{y}" stroke="{color}" '
                   f'stroke-width="2"/><text x="{x + 30}" y="{y + 4}">{r["name"]}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--turns", default="1,2,4,8,16")
    ap.add_argument("--label", choices=["t", "turns"], default="t")
    ap.add_argument("--title", default="CCM")
    ap.add_argument("--no_em", action="store_true",
                    help="leave exact match out (runs scored with --ccm.eval_generate false)")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    shift = 2 if a.label == "turns" else 0  # turns = context turns + query + target
    turns = [int(t) for t in a.turns.split(",")]
    rows, taken = [], set()
    for run in find_runs(a.dirs):
        ev = newest_eval(run)
        j = json.loads(ev.read_text())
        by = {int(t) + shift: v for t, v in j["by_context_turns"].items()}
        # Two sweeps may hold runs of one name (a longer schedule, say): the second
        # is kept as <sweep>-<run>.
        name = run.name if run.name not in taken else f"{run.parent.name}-{run.name}"
        taken.add(name)
        rows.append({"run": name, "attn": j["attn"], "n_tok": j["n_tok"],
                     "name": condition(j, every_weight_trained(run)), "step": j["step"],
                     "j": j, "by": by, "bytes": j["kv_bytes_per_entry"]})
        copy_run(run, ev, a.out / "runs" / name)
    rows.sort(key=lambda r: (ORDER.get(r["attn"], 5), r["attn"], r["n_tok"], r["name"],
                             r["step"]))
    full = next((r for r in rows if r["attn"] in ("no", "pos_control")), None)

    name, sym = ("t (context turns)", "t") if a.label == "t" else ("turns", "n")
    em_cols = [] if a.no_em else turns
    head = "| condition | step | " + " | ".join(f"ppl {sym}={t}" for t in turns) + " | " + \
        "".join(f"EM {sym}={t} | " for t in em_cols) + "all: ppl | " + \
        ("" if a.no_em else "all: EM | ") + \
        f"KV entries at {sym}={turns[-1]} | KV bytes | memory vs full |\n"
    md = head + "|---|---:|" + "---:|" * (len(turns) + len(em_cols) + 5 - a.no_em) + "\n"
    csv = "run,condition,attn,n_tok,step," + ",".join(
        f"ppl_{t},em_{t},kv_entries_{t},dialogues_{t}" for t in turns) + ",ppl_all,em_all\n"
    for r in rows:
        last = r["by"].get(turns[-1], {})
        entries = last.get("memory_entries")
        ratio = ""
        if r is full:
            ratio = "reference"
        elif full and entries and turns[-1] in full["by"]:
            ratio = f"{full['by'][turns[-1]]['memory_entries'] / entries:.1f}x less"
        elif full and entries == 0:
            ratio = "none"
        md += (f"| {r['name']} | {r['step']} | "
               + " | ".join(fmt(r["by"].get(t, {}).get("ppl"), 2) for t in turns) + " | "
               + "".join(fmt(r["by"].get(t, {}).get("exact_match"), 3) + " | " for t in em_cols)
               + f"{fmt(r['j']['ppl'], 2)} | "
               + ("" if a.no_em else f"{fmt(r['j']['exact_match'], 3)} | ")
               + f"{fmt(entries, 1)} | {fmt(entries * r['bytes'] if entries is not None else None, 0)}"
               f" | {ratio} |\n")
        csv += f"{r['run']},{r['name']},{r['attn']},{r['n_tok']},{r['step']}," + ",".join(
            ",".join(fmt(r["by"].get(t, {}).get(k), 5) for k in
                     ("ppl", "exact_match", "memory_entries", "dialogues")) for t in turns) + \
            f",{fmt(r['j']['ppl'], 5)},{fmt(r['j']['exact_match'], 5)}\n"
    counts = sorted({r["by"][t]["dialogues"] for r in rows for t in turns if t in r["by"]})
    md += (f"\nDialogues per column: {counts[0]}–{counts[-1]}. ppl: exp(mean NLL) over the "
           "answer's tokens, EOS excluded (METHODS.md §2.8)"
           + ("" if a.no_em else "; EM: the greedy answer is the target then EOS")
           + ". KV entries: the keys/values per layer the answer reads besides "
           f"its own tokens; bytes = entries × {rows[0]['bytes']} (all layers, K and V, fp32).\n")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "results.md").write_text(md)
    (a.out / "results.csv").write_text(csv)
    (a.out / "results.svg").write_text(svg_plot(rows, turns, name, a.title, not a.no_em))
    print(md, end="")


if __name__ == "__main__":
    main()
