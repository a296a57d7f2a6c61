#!/usr/bin/env python3
"""Builds the AutoCompressor / RMT facts results (docs/results/autocompressor/facts.*)
from run directories: answer exact match and answer NLL of the facts task (documents
of `condense data facts`: facts in the first segment, questions in the last; the
context budget is the fact segment plus the filler right before the questions, so
the facts lie budget / segment segments back) for full attention, AutoCompressor, RMT
and no context; facts.md / facts.csv, an SVG plot of exact match by budget.

    python3 tools/ac_facts_results.py --out DIR [--name N] [--title T] SWEEP_OR_RUN_DIR...

Every argument is a run directory (with eval/facts-<step>.json, written by the facts
task of `condense train|eval --method autocompressor|rmt`) or a directory of them.
Each run's newest evaluation is used; its config.cfg, metrics.jsonl, results.jsonl
and that evaluation are copied into DIR/runs-N/<run>/, so the command also rebuilds
the table from DIR/runs-N alone. N (default facts) names the outputs: DIR/N.md, .csv, .svg.
"""
import argparse
import json
import math
import pathlib
import shutil

from ac_results import config, svg_plot, training
from ccm_results import copy_run, find_runs, newest_eval


def name_of(j, cfg):
    m = j["method"]
    if not j["compressed"]:
        return "full attention"
    kappa = cfg.get(f"{m}.kappa", "?")
    if m == "rmt":
        return f"RMT κ={kappa}"
    substeps = cfg.get(f"{m}.substeps", "2")
    return f"AutoCompressor κ={kappa}" + (f", {substeps} substep" if substeps == "1" else "")


def cell(c):
    return f"{100 * c['exact_match']:.1f} ± {100 * c['exact_match_std_error']:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--name", default="facts", help="outputs N.md, N.csv, N.svg, runs-N/")
    ap.add_argument("--title", default="AutoCompressor and RMT: facts exact match")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    rows, taken = [], set()
    for run in find_runs(a.dirs, "facts"):
        ev = newest_eval(run, "facts")
        j = json.loads(ev.read_text())
        cfg = config(run)
        by = {c["condition"]: c for c in j["conditions"]}
        own = "compressed" if j["compressed"] else "full"
        budgets = sorted(c["context"] for c in j["conditions"] if c["condition"].startswith("full@"))
        name = run.name if run.name not in taken else f"{run.parent.name}-{run.name}"
        taken.add(name)
        rows.append({"run": name, "j": j, "name": name_of(j, cfg), "by": by, "own": own,
                     "budgets": budgets, "training": training(run),
                     "em": {b: by[f"{own}@{b}"]["exact_match"] for b in budgets}})
        dest = a.out / f"runs-{a.name}" / name
        copy_run(run, ev, dest)
        if (run / "results.jsonl").exists() and dest.resolve() != run.resolve():
            shutil.copy(run / "results.jsonl", dest / "results.jsonl")
    if not rows:
        raise SystemExit("ac_facts_results: no run with a facts evaluation")
    rows.sort(key=lambda r: (r["j"]["compressed"], r["j"]["method"] == "rmt", r["name"]))
    budgets = sorted(set.intersection(*(set(r["budgets"]) for r in rows)))
    if not budgets:
        raise SystemExit("ac_facts_results: the runs share no context budget")
    seg = rows[0]["j"]["segment"]
    full = next((r for r in rows if not r["j"]["compressed"]), None)

    head = " | ".join(f"EM, facts {b // seg} seg. back ({b} tok.)" for b in budgets)
    md = (f"| condition | step | {head} | answer NLL at {budgets[-1]} | σ vectors at "
          f"{budgets[-1]} | another document's σ, EM at {budgets[-1]} | own no-context EM | "
          "training: tokens, wall |\n|---|---:|" + "---:|" * (len(budgets) + 5) + "\n")
    csv = ("run,condition,step,context,exact_match,exact_match_se,answer_nll,answer_nll_se,"
           "softprompt_vectors,control_exact_match,control_answer_nll,questions\n")
    for r in rows:
        secs, tokens = r["training"]
        last = r["by"][f"{r['own']}@{budgets[-1]}"]
        ctl = r["by"].get(f"control@{budgets[-1]}")
        md += (f"| {r['name']} | {r['j']['step']} | "
               + " | ".join(cell(r["by"][f"{r['own']}@{b}"]) for b in budgets)
               + f" | {last['answer_nll']:.2f} | "
               + (str(last["softprompt_vectors"]) if r["j"]["compressed"] else f"({budgets[-1]} tokens)")
               + " | " + (cell(ctl) if ctl else "") + " | " + cell(r["by"]["none"]) + " | "
               + (f"{tokens / 1e6:.2f} M, {secs / 60:.1f} min" if secs is not None else "")
               + " |\n")
        for b in budgets:
            c, k = r["by"][f"{r['own']}@{b}"], r["by"].get(f"control@{b}")
            csv += (f"{r['run']},{r['name']},{r['j']['step']},{b},{c['exact_match']:.5f},"
                    f"{c['exact_match_std_error']:.5f},{c['answer_nll']:.5f},"
                    f"{c['answer_nll_std_error']:.5f},{c['softprompt_vectors']},"
                    + (f"{k['exact_match']:.5f},{k['answer_nll']:.5f}" if k else ",")
                    + f",{c['questions']}\n")
    none = None
    if full:
        n = full["by"]["none"]
        none = {"em": 100 * n["exact_match"]}
        md += (f"| no context | {full['j']['step']} | " + " | ".join(cell(n) for _ in budgets)
               + f" | {n['answer_nll']:.2f} | 0 | | | |\n")
        csv += (f"none,no context,{full['j']['step']},0,{n['exact_match']:.5f},"
                f"{n['exact_match_std_error']:.5f},{n['answer_nll']:.5f},"
                f"{n['answer_nll_std_error']:.5f},0,,,{n['questions']}\n")
    j0 = rows[0]["j"]
    q = j0["conditions"][0]["questions"]
    md += (f"\nExact match in % ± its standard error over {q} questions ({j0['documents']} "
           f"test documents of {j0['data']}); a question is an exact match when every answer "
           "token is the model's argmax under teacher forcing. Answer NLL: nats per answer (its "
           "tokens summed). The context is the fact segment plus the filler right before the "
           f"question segment, read in segments of {seg} tokens. \"Another document's σ\": "
           "the control, the questions after the σ of the next document's context.\n\n"
           "Order at each budget (highest exact match first):\n\n")
    for b in budgets:
        ranked = sorted([(r["em"][b], r["name"]) for r in rows]
                        + ([(full["by"]["none"]["exact_match"], "no context")] if full else []),
                        reverse=True)
        md += f"- {b}: " + " > ".join(f"{n} ({100 * p:.1f})" for p, n in ranked) + "\n"
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{a.name}.md").write_text(md)
    (a.out / f"{a.name}.csv").write_text(csv)
    for r in rows:
        r["em%"] = {b: 100 * v for b, v in r["em"].items()}
    (a.out / f"{a.name}.svg").write_text(svg_plot(rows, {"em%": none["em"]} if none else None,
                                              budgets, a.title, value="em%",
                                              ylabel="answer exact match (%)"))
    print(md, end="")


if __name__ == "__main__":
    main()
