#include "eval/kv_prefix.h"

#include "core/ops.h"

namespace condense::eval {

std::vector<LayerKV> cache_last_columns(const Llama& model, const PromptBatch& prompt,
                                        int64_t keep) {
  const int64_t T = prompt.ids.dim(1);
  if (keep < 0 || keep > T) fail("cache_last_columns: cannot keep ", keep, " of ", T, " columns");
  Tape no_grad(false);
  std::vector<LayerKV> kv;
  ForwardArgs args;
  args.ids = prompt.ids;
  args.pos = prompt.pos;
  args.mask = prompt.mask;
  args.kv_out = &kv;
  // Only the keys/values are wanted; the final norm is the one step past them.
  model.hidden(no_grad, args);
  for (LayerKV& l : kv) {
    l.k = ops::slice(no_grad, l.k, 1, T - keep, T);
    l.v = ops::slice(no_grad, l.v, 1, T - keep, T);
  }
  return kv;
}

int64_t kv_bytes_per_token(const LlamaConfig& c, int64_t bytes_per_element) {
  return 2 * c.n_layers * c.n_kv_heads * c.head_dim() * bytes_per_element;
}

}  // namespace condense::eval
