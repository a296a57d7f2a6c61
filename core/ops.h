// Differentiable ops over Vars: each runs its backend forward and records its
// backward on the tape. Shape letters as in core/backend.h.
#pragma once
#include <vector>

#include "core/autograd.h"

namespace condense::ops {

// table [V,D], ids [...] i32 -> [..., D]
Var embedding(Tape& tape, const Var& table, const Tensor& ids);
// x [..., In], w [Out, In] (Hugging Face layout) -> x @ w^T [..., Out]
Var linear(Tape& tape, const Var& x, const Var& w);
// x [..., D], w [D] -> x / rms(x) * w
Var rmsnorm(Tape& tape, const Var& x, const Var& w, float eps);
// x [B,T,H,Dh], pos [B,T] i32: rotary embedding at explicit positions.
Var rope(Tape& tape, const Var& x, const Tensor& pos, float theta);
// q [B,T,H,Dh], k/v [B,S,Hkv,Dh], mask [B,T,S] u8 or undefined (causal, keys'
// last T aligned with the queries) -> [B,T,H,Dh]
Var attention(Tape& tape, const Var& q, const Var& k, const Var& v, const Tensor& mask,
              float scale);
// silu(gate) * up, same shapes
Var swiglu(Tape& tape, const Var& gate, const Var& up);
// logits [..., V], targets [...] i32 -> mean cross-entropy over targets != ignore_index, shape
// [1]. With no target left the loss is 0 (and so are its gradients).
Var cross_entropy(Tape& tape, const Var& logits, const Tensor& targets, int ignore_index = -100);
// Per-row losses [...] (no reduction), for perplexity and scoring.
Tensor cross_entropy_rows(const Tensor& logits, const Tensor& targets, int ignore_index = -100);

Var add(Tape& tape, const Var& a, const Var& b);
Var scale(Tape& tape, const Var& x, float alpha);
Var reshape(Tape& tape, const Var& x, const Shape& shape);
// Concatenation along `dim` (all other dims equal).
Var concat(Tape& tape, const std::vector<Var>& xs, int dim);
// x[..., begin:end, ...] along `dim`.
Var slice(Tape& tape, const Var& x, int dim, int64_t begin, int64_t end);
// Rows of x viewed as [N, D] (D = last dim): idx [P] i32 -> [P, D]. Gathers hidden
// states at chosen positions (summary vectors, last tokens).
Var gather_rows(Tape& tape, const Var& x, const Tensor& idx);
// x viewed as [N, D] with rows idx [P] replaced by values [P, D]: input embeddings in
// place of token embeddings at chosen positions (soft prompts).
Var replace_rows(Tape& tape, const Var& x, const Tensor& idx, const Var& values);
// x viewed as [N, D] with rows[p] replaced by sum_j weights[p, j] * x[j, :], all
// computed from the input x (a replaced row may mix rows that are replaced too).
// rows [P] i32, weights [P, N] f32 constants. Merged key/value slots (CCM-merge's
// running mean of <COMP> keys/values).
Var mix_rows(Tape& tape, const Var& x, const Tensor& rows, const Tensor& weights);
// Same value, no gradient flows back through it.
Var detach(const Var& x);

}  // namespace condense::ops
