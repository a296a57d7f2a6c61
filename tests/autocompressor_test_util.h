// Small random AutoCompressor models shared by the inference and ICL tests.
#pragma once
#include <cstdint>

#include "experiments/methods/autocompressor/summary_passes.h"
#include "tests/model_test_util.h"

namespace condense::testing {

// 3 layers, d 32, 4 heads (2 KV), FFN 48, over `vocab` ids.
inline LlamaConfig autocompressor_config(int64_t vocab) {
  LlamaConfig c = small_config(3);
  c.vocab_size = vocab;
  c.dim = 32;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 48;
  return c;
}

// Random weights at a scale where the tokens a model prefers depend on its input, and
// a random κ×D summary table.
inline Llama model_with_table(const LlamaConfig& c, int64_t kappa, uint32_t seed) {
  Llama m(c, seed);
  uint32_t s = seed * 100;
  for (Param& p : m.params())
    if (p.var.value().ndim() == 2) p.var.set_value(randn(p.var.shape(), ++s, 0.3f));
  ParamSpec table;
  table.name = autocompressor::kTableName;
  table.value = randn({kappa, c.dim}, ++s);
  m.add_param(table);
  return m;
}

}  // namespace condense::testing
