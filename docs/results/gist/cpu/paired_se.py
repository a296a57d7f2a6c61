"""Per-row ROUGE-L of every sweep run and its paired difference to neg_control-1,
with standard errors of the means, from the runs' outputs CSVs (columns x, y_pred,
y_true). ROUGE-L here is rouge_score's F-measure without the Porter stemmer (so
means come out slightly below condense's stemmed ones); it serves to size the noise.
Usage: python3 paired_se.py SWEEP_DIR [STEP]   (e.g. out/gist-cpu 3000)
"""
import csv
import math
import re
import sys

def toks(s): return re.findall(r"[a-z0-9]+", s.lower())
def lcs(a,b):
    if not a or not b: return 0
    prev=[0]*(len(b)+1)
    for x in a:
        cur=[0]
        for j,y in enumerate(b):
            cur.append(prev[j]+1 if x==y else max(prev[j+1],cur[j]))
        prev=cur
    return prev[-1]
def rl(p,t):
    a,b=toks(p),toks(t); l=lcs(a,b)
    if l==0: return 0.0
    P,R=l/len(a),l/len(b); return 2*P*R/(P+R)
def scores(run,split):
    with open(f"{sweep}/{run}/eval/outputs-{step}-validation_{split}.csv") as f:
        return [100*rl(r["y_pred"],r["y_true"]) for r in csv.DictReader(f)]
sweep = sys.argv[1]
step = sys.argv[2] if len(sys.argv) > 2 else "3000"
runs=["pos_control-1","gist-1","gist-2","gist-5","gist-10","neg_control-1"]
for split in ["seen","unseen","human"]:
    S={r:scores(r,split) for r in runs}
    n=len(S["gist-1"])
    line=[]
    for r in runs:
        v=S[r]; m=sum(v)/n; se=math.sqrt(sum((x-m)**2 for x in v)/(n-1)/n)
        d=[a-b for a,b in zip(v,S["neg_control-1"])]; dm=sum(d)/n; dse=math.sqrt(sum((x-dm)**2 for x in d)/(n-1)/n)
        line.append(f"{r} {m:.2f}±{se:.2f} (vs neg {dm:+.2f}±{dse:.2f})")
    print(split, n, "; ".join(line))
