#!/usr/bin/env python3
"""Builds the AutoCompressor / RMT results (docs/results/autocompressor/) from run
directories: last-segment perplexity (METHODS.md §3.4: the NLL of the target segment
only) by context budget for full attention, AutoCompressor at each κ, RMT and no
context; results.md / results.csv, an SVG plot, and the order of the conditions at
every budget (the paper's: full attention < AutoCompressor < RMT <= no context).

    python3 tools/ac_results.py --out DIR [--title T] SWEEP_OR_RUN_DIR...

Every argument is a run directory (with eval/last_segment-<step>.json, written by the
last_segment task of `condense train|eval --method autocompressor|rmt`) or a directory
of them (a sweep). Each run's newest evaluation is used. The runs' config.cfg,
metrics.jsonl and that evaluation are copied into DIR/runs/<name>/, so the command
also rebuilds the table from DIR/runs alone.

"no context" is the full-attention run's model reading the target alone; every other
run's own no-context perplexity is in the last column (fine-tuning with summaries may
change what the model does without them).
"""
import argparse
import json
import math
import pathlib

from ccm_results import copy_run, find_runs, newest_eval

COLORS = ["#2ca02c", "#1f77b4", "#17becf", "#9467bd", "#ff7f0e", "#d62728", "#8c564b",
          "#e377c2", "#bcbd22", "#7f7f7f"]


def training(run):
    """(wall seconds, tokens) of the run's training, from its last logged step; (None, None)
    without metrics."""
    path = run / "metrics.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] \
        if path.exists() else []
    steps = [x for x in lines if "elapsed_s" in x]
    return (steps[-1]["elapsed_s"], steps[-1]["tokens"]) if steps else (None, None)


def config(run):
    """The run's config.cfg as {"section.key": value} ({} without one)."""
    path, out, section = run / "config.cfg", {}, ""
    for line in path.read_text().splitlines() if path.exists() else []:
        line = line.split("#")[0].strip()
        if line.startswith("["):
            section = line.strip("[]") + "."
        elif "=" in line:
            key, value = (x.strip() for x in line.split("=", 1))
            out[section + key] = value
    return out


def condition(j, cfg):
    """The row's name; the base (no train.init_from) and an AutoCompressor trained on
    fixed segments (RMT's) are told apart from the plain conditions."""
    if j["mode"] != "compress":
        return "full attention" + ("" if cfg.get("train.init_from") else " (the base, from scratch)")
    if not j["accumulate"]:
        return f"RMT κ={j['kappa']}"
    fixed = cfg.get(f"{j['method']}.randomize") == "false" or \
        cfg.get(f"{j['method']}.segment_lengths")
    return f"AutoCompressor κ={j['kappa']}" + (", RMT's fixed segments" if fixed else "")


def fmt(v, digits=3):
    return "" if v is None else f"{v:.{digits}f}"


def order_key(r):
    j = r["j"]
    if j["mode"] != "compress":
        return (0, int(r["scratch"]), r["step"])
    return (1 if j["accumulate"] else 2, -j["kappa"], r["name"], r["step"])


def svg_plot(rows, none, budgets, title, value="ppl", ylabel="last-segment perplexity"):
    """rows' `value` (perplexity) against the context budget; no context as a dashed level."""
    pw, ph, left, top = 420, 260, 60, 50
    width, height = left + pw + 230, top + ph + 50
    vals = [r[value][b] for r in rows for b in budgets] + ([none[value]] if none else [])
    lo, hi = min(vals), max(vals)
    pad = (hi - lo) * 0.08 or 0.5
    lo, hi = lo - pad, hi + pad
    X = lambda i: left + 30 + (pw - 60) * i / max(len(budgets) - 1, 1)
    Y = lambda v: top + ph - ph * (v - lo) / (hi - lo)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>']
    step = 10 ** math.floor(math.log10((hi - lo) / 4 or 1))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= 6:
            step *= m
            break
    v = math.ceil(lo / step) * step
    while v <= hi:
        out.append(f'<line x1="{left}" y1="{Y(v):.1f}" x2="{left + pw}" y2="{Y(v):.1f}" '
                   f'stroke="#ddd"/><text x="{left - 4}" y="{Y(v) + 4:.1f}" '
                   f'text-anchor="end">{v:g}</text>')
        v += step
    for i, b in enumerate(budgets):
        out.append(f'<text x="{X(i):.1f}" y="{top + ph + 16}" text-anchor="middle">{b}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{top + ph + 34}" text-anchor="middle">'
               'context tokens before the 128-token target</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" transform="rotate(-90 14 {top + ph / 2})" '
               f'text-anchor="middle">{ylabel}</text>')
    legend = []
    for k, r in enumerate(rows):
        color = COLORS[k % len(COLORS)]
        pts = [(X(i), Y(r[value][b])) for i, b in enumerate(budgets)]
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in pts]
        legend.append((r["name"], color, ""))
    if none:
        out.append(f'<line x1="{left}" y1="{Y(none[value]):.1f}" x2="{left + pw}" '
                   f'y2="{Y(none[value]):.1f}" stroke="#7f7f7f" stroke-width="2" '
                   'stroke-dasharray="6,4"/>')
        legend.append(("no context", "#7f7f7f", "6,4"))
    for k, (name, color, dash) in enumerate(legend):
        x, y = left + pw + 15, top + 10 + 18 * k
        out.append(f'<line x1="{x}" y1="{y}" x2="{x + 24}" y2="{y}" stroke="{color}" '
                   f'stroke-width="2" stroke-dasharray="{dash}"/>'
                   f'<text x="{x + 30}" y="{y + 4}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def evaluated_runs(dirs, task, dest):
    """(run, its name, its newest eval/<task>-*.json parsed, its config) for every run
    under `dirs`, each copied into dest/<name> (config, metrics, that evaluation); a name
    taken twice gets its parent's in front."""
    out, taken = [], set()
    for run in find_runs(dirs, task):
        ev = newest_eval(run, task)
        name = run.name if run.name not in taken else f"{run.parent.name}-{run.name}"
        taken.add(name)
        copy_run(run, ev, dest / name)
        out.append((run, name, json.loads(ev.read_text()), config(run)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--title", default="AutoCompressor and RMT: last-segment perplexity")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    rows = []
    for run, name, j, cfg in evaluated_runs(a.dirs, "last_segment", a.out / "runs"):
        by = {c["context"]: c for c in j["contexts"]}
        compressed = j["mode"] == "compress"
        rows.append({"run": name, "j": j, "step": j["step"], "name": condition(j, cfg),
                     "scratch": not cfg.get("train.init_from"),
                     "ppl": {b: c["ppl_compressed" if compressed else "ppl_full"]
                             for b, c in by.items()},
                     "vectors": {b: c.get("softprompt_vectors", b) for b, c in by.items()},
                     "other": {b: c.get("ppl_other_context") for b, c in by.items()},
                     "training": training(run)})
    rows.sort(key=order_key)
    budgets = sorted(set.intersection(*(set(r["ppl"]) for r in rows)))
    if not budgets:
        raise SystemExit("ac_results: the runs share no context budget")
    # No context: the full-attention model trained like the others (else the base) reading
    # the target alone.
    full = next((r for r in rows if r["j"]["mode"] != "compress"), None)
    none = {"ppl": full["j"]["ppl_none"], "name": "no context"} if full else None
    names = {r["name"] for r in rows}
    if len(names) < len(rows):  # two runs of one condition: name them by their runs
        for r in rows:
            r["name"] += f" ({r['run']})"

    md = ("| condition | step | " + " | ".join(f"ppl, {b} context" for b in budgets)
          + f" | vectors or tokens read at {budgets[-1]} | the run's own no-context ppl | "
          f"another window's σ, {budgets[-1]} | training: tokens, wall |\n"
          + "|---|---:|" + "---:|" * (len(budgets) + 4) + "\n")
    csv = "run,condition,mode,kappa,accumulate,step," + ",".join(
        f"ppl_{b},vectors_{b},ppl_other_{b}" for b in budgets) + \
        ",ppl_none_own,train_tokens,train_seconds\n"
    for r in rows:
        secs, tokens = r["training"]
        md += (f"| {r['name']} | {r['step']} | "
               + " | ".join(f"{r['ppl'][b]:.3f}" for b in budgets)
               + f" | {r['vectors'][budgets[-1]]} | {r['j']['ppl_none']:.3f} | "
               + fmt(r["other"][budgets[-1]]) + " | "
               + (f"{tokens / 1e6:.2f} M, {secs / 60:.1f} min" if secs is not None else "")
               + " |\n")
        csv += (f"{r['run']},{r['name']},{r['j']['mode']},{r['j']['kappa']},"
                f"{int(r['j']['accumulate'])},{r['step']},"
                + ",".join(f"{r['ppl'][b]:.5f},{r['vectors'][b]},{fmt(r['other'][b], 5)}"
                           for b in budgets)
                + f",{r['j']['ppl_none']:.5f},{'' if secs is None else tokens},"
                f"{'' if secs is None else f'{secs:.0f}'}\n")
    if none:
        md += (f"| no context | {full['step']} | "
               + " | ".join(f"{none['ppl']:.3f}" for _ in budgets) + " | 0 | | | |\n")
        csv += f"none,no context,none,0,0,{full['step']}," + ",".join(
            f"{none['ppl']:.5f},0," for _ in budgets) + ",,,\n"
    j0 = rows[0]["j"]
    md += (f"\n{j0['windows']} windows of the held-out data, {j0['predictions']} predictions "
           f"per cell: the target's {j0['target']} tokens after the first, each predicted "
           f"inside the target segment; a compressed context is read in segments of "
           f"{j0['segment']} tokens. ppl = exp(mean NLL). \"Another window's σ\": the control, "
           "the target after the σ of the next window's context (as many vectors, none of "
           "this window's context); the compressed ppl's distance below it is what σ carries "
           "of the context itself.\n\nOrder at each budget (lowest "
           "perplexity first):\n\n")
    md += "(the base, trained less, left out)\n\n" if any(r["scratch"] for r in rows) else ""
    for b in budgets:
        ranked = sorted([(r["ppl"][b], r["name"]) for r in rows if not r["scratch"]]
                        + ([(none["ppl"], "no context")] if none else []))
        md += f"- {b}: " + " < ".join(f"{n} ({p:.3f})" for p, n in ranked) + "\n"
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "results.md").write_text(md)
    (a.out / "results.csv").write_text(csv)
    # The base, trained less, would stretch the scale away from the conditions compared.
    plotted = [r for r in rows if not r["scratch"]]
    (a.out / "results.svg").write_text(svg_plot(plotted, none, budgets, a.title))
    print(md, end="")


if __name__ == "__main__":
    main()
