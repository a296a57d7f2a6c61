#include "eval/forward_cost.h"

namespace condense::eval {

double forward_flops(const LlamaConfig& c, int64_t batch, int64_t tokens, int64_t keys) {
  const double rows = static_cast<double>(batch) * static_cast<double>(tokens);
  const double D = double(c.dim), Dh = double(c.head_dim()), H = double(c.n_heads);
  const double Hkv = double(c.n_kv_heads), F = double(c.ffn_dim), V = double(c.vocab_size);
  const double per_layer_linear = D * H * Dh + 2 * D * Hkv * Dh + H * Dh * D + 3 * D * F;
  const double attention = 2.0 * 2.0 * H * Dh * static_cast<double>(keys);
  return rows * (static_cast<double>(c.n_layers) * (2 * per_layer_linear + attention) + 2 * D * V);
}

}  // namespace condense::eval
