#!/usr/bin/python3
# PyTorch side of the CPU training benchmark: the same LLaMA architecture as
# core/ (RMSNorm, RoPE rotate_half, GQA, SwiGLU, untied lm_head), fp32, trained
# with AdamW on random token batches. The C++ side (`condense bench train`) must
# reach at least this tok/s on the same model, batch and cores (DESIGN.md).
#
# Presets:
#   tiny  = --vocab 8192  --dim 256 --layers 4 --heads 4 --kv-heads 4 --ffn 688  --batch 8 --seq 256
#   small = --vocab 32000 --dim 512 --layers 8 --heads 8 --kv-heads 8 --ffn 1376 --batch 4 --seq 256
#
# Run (Debian python: torch 1.13 built against Debian's OpenBLAS, pthread variant,
# whose threads OPENBLAS_NUM_THREADS sets apart from torch's own OpenMP threads):
#   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/torch_train.py --threads 1 \
#     --vocab 8192 --dim 256 --layers 4 --heads 4 --kv-heads 4 --ffn 688 --batch 8 --seq 256 \
#     --steps 10 --warmup-steps 2
# Cost on the 2-core AMD EPYC dev VM (AVX2, load ~1 from other work): tiny preset,
# 2 + 10 steps, 14 s wall, 1.0 GB peak RSS, tok/s=2248 gflops=78.1 (best of 3).
# This threading (torch ops on 1 OpenMP thread, GEMMs on 2 OpenBLAS threads) was
# the best there; --threads 2 with OMP_NUM_THREADS=2 gave 1023-1428 tok/s with
# OPENBLAS_NUM_THREADS=2 (4 busy threads on 2 cores) and 832-1932 with =1.
#
# Last stdout line: `tok/s=<number> gflops=<number>` over the timed steps
# (warm-up steps excluded), where
#   tokens          = B * T per step
#   N               = all parameters except the input embedding table (lm_head included)
#   flops_per_step  = 6 * tokens * N  +  6 * 2 * B * T^2 * D * L
# The second term is attention: forward per layer 2*B*T*T*D for QK^T plus the
# same for PV (the full T x T square: NOT halved for causal, since neither
# side skips the masked half), times 3 for forward + backward. It is the same
# formula the C++ side uses, so the two gflops figures compare directly.
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):  # [B,T,D]
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(T, Dh, theta=10000.0):
    # cos/sin [T,Dh] for the rotate_half convention (first half pairs with second half)
    inv_freq = theta ** (-torch.arange(0, Dh, 2, dtype=torch.float64) / Dh)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq  # [T,Dh/2]
    ang = torch.cat([ang, ang], -1)
    return ang.cos().float(), ang.sin().float()


def apply_rope(x, cos, sin):  # x [B,H,T,Dh], cos/sin [T,Dh]
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rot * sin


class Block(nn.Module):
    def __init__(self, D, H, Hkv, Fd):
        super().__init__()
        self.H, self.Hkv, self.Dh = H, Hkv, D // H
        self.attn_norm = RMSNorm(D)
        self.wq = nn.Linear(D, H * self.Dh, bias=False)
        self.wk = nn.Linear(D, Hkv * self.Dh, bias=False)
        self.wv = nn.Linear(D, Hkv * self.Dh, bias=False)
        self.wo = nn.Linear(H * self.Dh, D, bias=False)
        self.mlp_norm = RMSNorm(D)
        self.w_gate = nn.Linear(D, Fd, bias=False)
        self.w_up = nn.Linear(D, Fd, bias=False)
        self.w_down = nn.Linear(Fd, D, bias=False)

    def forward(self, h, cos, sin, mask_add):
        # h [B,T,D]; mask_add [T,T] additive causal mask (0 or -inf)
        B, T, _ = h.shape
        x = self.attn_norm(h)
        q = self.wq(x).view(B, T, self.H, self.Dh).transpose(1, 2)  # [B,H,T,Dh]
        k = self.wk(x).view(B, T, self.Hkv, self.Dh).transpose(1, 2)  # [B,Hkv,T,Dh]
        v = self.wv(x).view(B, T, self.Hkv, self.Dh).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.Hkv != self.H:  # GQA: head h reads kv-head h // (H/Hkv)
            k = k.repeat_interleave(self.H // self.Hkv, dim=1)
            v = v.repeat_interleave(self.H // self.Hkv, dim=1)
        # torch 1.13 has no F.scaled_dot_product_attention: explicit matmul+mask+softmax
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.Dh)) + mask_add  # [B,H,T,T]
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, self.H * self.Dh)
        h = h + self.wo(a)
        x = self.mlp_norm(h)
        return h + self.w_down(F.silu(self.w_gate(x)) * self.w_up(x))


class Llama(nn.Module):
    def __init__(self, V, D, L, H, Hkv, Fd, T):
        super().__init__()
        self.embed = nn.Embedding(V, D)
        self.blocks = nn.ModuleList([Block(D, H, Hkv, Fd) for _ in range(L)])
        self.norm = RMSNorm(D)
        self.lm_head = nn.Linear(D, V, bias=False)  # untied
        cos, sin = rope_tables(T, D // H)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.full((T, T), float("-inf")).triu(1)
        self.register_buffer("mask_add", mask, persistent=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids, targets):  # ids/targets [B,T] -> scalar loss
        T = ids.shape[1]
        h = self.embed(ids)
        cos, sin, mask = self.cos[:T], self.sin[:T], self.mask_add[:T, :T]
        for blk in self.blocks:
            h = blk(h, cos, sin, mask)
        logits = self.lm_head(self.norm(h))  # [B,T,V]
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=688)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup-steps", type=int, default=2, help="untimed steps before")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = Llama(a.vocab, a.dim, a.layers, a.heads, a.kv_heads, a.ffn, a.seq)
    # decoupled weight decay on matrices only (norm gains are not decayed)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95))

    n_all = sum(p.numel() for p in model.parameters())
    N = n_all - model.embed.weight.numel()
    tokens = a.batch * a.seq
    flops_per_step = 6 * tokens * N + 6 * 2 * a.batch * a.seq ** 2 * a.dim * a.layers
    print(f"params={n_all} N(non-embedding, incl. lm_head)={N} tokens/step={tokens} "
          f"flops/step={flops_per_step:.4e} threads={torch.get_num_threads()}", flush=True)

    def step():
        ids = torch.randint(0, a.vocab, (a.batch, a.seq))
        targets = torch.randint(0, a.vocab, (a.batch, a.seq))
        loss = model(ids, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(a.warmup_steps):
        t0 = time.perf_counter()
        loss = step()
        print(f"warmup {i}: loss={loss:.4f} {time.perf_counter() - t0:.3f}s", flush=True)
    t_start = time.perf_counter()
    for i in range(a.steps):
        t0 = time.perf_counter()
        loss = step()
        print(f"step {i}: loss={loss:.4f} {time.perf_counter() - t0:.3f}s", flush=True)
    secs = time.perf_counter() - t_start
    print(f"tok/s={tokens * a.steps / secs:.1f} gflops={flops_per_step * a.steps / secs / 1e9:.2f}")


if __name__ == "__main__":
    main()
