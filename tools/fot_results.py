#!/usr/bin/env python3
"""FoT passkey results (docs/results/fot/).

    python3 tools/fot_results.py tokenizer-text OUT.txt
        writes the text the results' tokenizer is trained on: the passkey prompt's
        sentences (METHODS.md 4.4), with keys drawn from a fixed seed.

    python3 tools/fot_results.py build --out DIR RUN_DIR...
        the passkey table (results.md, results.csv) and plot (results.svg) from run
        directories: every evaluation of a run's newest step (eval/passkey-<step>.json:
        dense memory attention; eval/passkey_knn<k>-<step>.json: top-k) is one condition.
        The runs' config.cfg, metrics.jsonl and those evaluations are copied into
        DIR/runs/<name>/, so `build --out DIR DIR/runs/*` rebuilds the same files.
"""
import argparse
import json
import pathlib
import random

from ccm_results import copy_run

COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]

TASK = ("There is an important info hidden inside a lot of irrelevant text. Find it and "
        "memorize them. I will quiz you about the important information there.")
GARBAGE = ("The grass is green. The sky is blue. The sun is yellow. Here we go. There and "
           "back again.")
QUESTION = "What is the pass key? The pass key is"


def tokenizer_text(out):
    """400 prompts' worth of lines: the task, garbage, the key line, the question."""
    rng = random.Random(7)
    lines = []
    for _ in range(400):
        key = rng.randint(1, 49999)
        lines += [TASK, " ".join([GARBAGE] * 3),
                  f"The pass key is {key}. Remember it. {key} is the pass key.", QUESTION]
    pathlib.Path(out).write_text("\n".join(lines) + "\n")


def newest_evals(run):
    """The passkey evaluations of the run's largest evaluated step."""
    evals = [(int(p.stem.rsplit("-", 1)[1]), p) for p in run.glob("eval/passkey*-*.json")]
    if not evals:
        raise SystemExit(f"fot_results: {run} has no eval/passkey*-<step>.json")
    step = max(s for s, _ in evals)
    return sorted(p for s, p in evals if s == step)


def condition(run, j):
    """'fot: memory layer 2, dense', 'control: no memory', ..."""
    if not j["memory_layers"]:
        return f"{run}: no memory"
    layers = ",".join(str(l) for l in j["memory_layers"])
    how = "dense" if j["memory_attention"] == "dense" else f"kNN k={j['knn_k']}"
    if j["memory_attention"] != "dense" and j.get("knn_index", "exact") != "exact":
        how += f" ({j['knn_index']})"
    return f"{run}: memory layer {layers}, {how}"


def training_seconds(run):
    """The run's own training time (the last elapsed_s of metrics.jsonl), or None."""
    m = run / "metrics.jsonl"
    if not m.exists():
        return None
    elapsed = [json.loads(l).get("elapsed_s") for l in m.read_text().splitlines() if l.strip()]
    elapsed = [e for e in elapsed if e is not None]
    return elapsed[-1] if elapsed else None


def svg_plot(rows, multiples, context, title):
    """Accuracy against the prompt length (multiples of C, even spacing), one line per row."""
    pw, ph, left, top = 420, 250, 60, 50
    width, height = left + pw + 330, top + ph + 60
    X = lambda i: left + 20 + (pw - 40) * i / max(len(multiples) - 1, 1)
    Y = lambda v: top + ph - ph * v
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>']
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{left}" y1="{Y(v):.1f}" x2="{left + pw}" y2="{Y(v):.1f}" '
                   f'stroke="#ddd"/><text x="{left - 4}" y="{Y(v) + 4:.1f}" '
                   f'text-anchor="end">{v:g}</text>')
    for i, m in enumerate(multiples):
        out.append(f'<text x="{X(i):.1f}" y="{top + ph + 16}" text-anchor="middle">{m}×</text>')
    out.append(f'<text x="{left + pw / 2}" y="{top + ph + 36}" text-anchor="middle">'
               f'prompt length, multiples of the local context C = {context} tokens</text>')
    out.append(f'<text x="{left - 40}" y="{top + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 {left - 40} {top + ph / 2})">passkey accuracy</text>')
    for k, r in enumerate(rows):
        color = COLORS[k % len(COLORS)]
        pts = [(X(i), Y(r["by"][m]["accuracy"])) for i, m in enumerate(multiples) if m in r["by"]]
        dash = "6,4" if not r["memory"] else ""
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                   f'stroke-dasharray="{dash}" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in pts]
        x, y = left + pw + 15, top + 10 + 18 * k
        out.append(f'<line x1="{x}" y1="{y}" x2="{x + 24}" y2="{y}" stroke="{color}" '
                   f'stroke-width="2" stroke-dasharray="{dash}"/>'
                   f'<text x="{x + 30}" y="{y + 4}">{r["name"]}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def build(out, paths, title):
    rows, context = [], None
    for run in map(pathlib.Path, paths):
        evals = newest_evals(run)
        for ev in evals:  # config, metrics and the evaluation, into DIR/runs/<name>/
            copy_run(run, ev, out / "runs" / run.name)
        for ev in evals:
            j = json.loads(ev.read_text())
            if context not in (None, j["local_context"]):
                raise SystemExit(f"fot_results: {ev} has C = {j['local_context']}, not {context}")
            context = j["local_context"]
            rows.append({"name": condition(run.name, j), "run": run.name, "step": j["step"],
                         "train_s": training_seconds(run),
                         "memory": bool(j["memory_layers"]), "eval": j,
                         "by": {l["multiple_of_context"]: l for l in j["lengths"]}})
    multiples = sorted({m for r in rows for m in r["by"]})
    csv = ["condition,run,step,memory_attention,knn_k,multiple,length,correct,prompts,accuracy"]
    md = ["| condition | step | training s | " + " | ".join(f"{m}× C" for m in multiples) + " |",
          "|---|---:|---:|" + "---:|" * len(multiples)]
    for r in rows:
        j = r["eval"]
        k = j["knn_k"] if j["memory_attention"] == "knn" else 0
        cells = []
        for m in multiples:
            l = r["by"].get(m)
            if l is None:
                cells.append("")
                continue
            csv.append(f'"{r["name"]}",{r["run"]},{r["step"]},{j["memory_attention"]},{k},{m},'
                       f'{l["length"]},{l["correct"]},{l["prompts"]},{l["accuracy"]:.4f}')
            cells.append(f'{l["accuracy"]:.2f} ({l["correct"]}/{l["prompts"]})')
        train_s = "" if r["train_s"] is None else f'{r["train_s"]:.0f}'
        md.append(f'| {r["name"]} | {r["step"]} | {train_s} | ' + " | ".join(cells) + " |")
    lengths = ", ".join(f"{m}× = {m * context}" for m in multiples)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.csv").write_text("\n".join(csv) + "\n")
    (out / "results.md").write_text(
        f"# {title}\n\nPasskey accuracy (correct/prompts) per prompt length in multiples of the "
        f"local context C = {context} tokens ({lengths} tokens), exact match of the greedy "
        "answer, through the memory cache; training s = the run's own training time (its "
        "metrics.jsonl) on the shared 2-core VM. Built by tools/fot_results.py from runs/.\n\n"
        + "\n".join(md) + "\n")
    (out / "results.svg").write_text(svg_plot(rows, multiples, context, title))
    print("\n".join(md))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tokenizer-text", help="the tokenizer's training text")
    t.add_argument("out")
    b = sub.add_parser("build", help="the table and plot from run directories")
    b.add_argument("--out", required=True, type=pathlib.Path)
    b.add_argument("--title", default="FoT passkey retrieval beyond the local context")
    b.add_argument("runs", nargs="+")
    args = ap.parse_args()
    if args.command == "tokenizer-text":
        tokenizer_text(args.out)
    else:
        build(args.out, args.runs, args.title)


if __name__ == "__main__":
    main()
