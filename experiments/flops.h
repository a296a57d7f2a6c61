// Model FLOPs of one training step, counted from shapes (as PaLM/llm.c do):
// 6 * N * tokens for the matrix products (forward 2, backward 4 per weight per
// token) with N = all parameters except the input embedding table (lm_head is a
// matmul, the lookup is not), plus the attention score/value products, counted
// as the full T x T square (2 products * 2 FLOPs * T * D per token per layer, x3
// for forward + backward) — the same formula bench/torch_train.py uses.
#pragma once
#include "core/model.h"

namespace condense::exp {

// `params_without_embedding`: the whole model's parameters except the input
// embedding table (a sharded model counts them across its ranks).
inline double train_flops_per_step(const LlamaConfig& c, int64_t params_without_embedding,
                                   int64_t batch, int64_t seq) {
  const double tokens = static_cast<double>(batch) * seq;
  const double n = static_cast<double>(params_without_embedding) +
                   (c.tie_embeddings ? static_cast<double>(c.vocab_size) * c.dim : 0.0);
  return 6.0 * n * tokens + 6.0 * 2.0 * batch * double(seq) * seq * c.dim * c.n_layers;
}

inline double train_flops_per_step(const Llama& m, int64_t batch, int64_t seq) {
  return train_flops_per_step(m.config(), m.num_params(false), batch, seq);
}

}  // namespace condense::exp
