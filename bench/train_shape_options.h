// The options the training benchmarks share (bench_lora_train, bench_parallel): the
// model and batch shape, and how many steps to warm up and to time.
#pragma once
#include <cstdint>
#include <string>

#include "core/model.h"

namespace condense::bench {

struct TrainShape {
  LlamaConfig model{8192, 256, 4, 4, 4, 688};  // the `tiny` preset of `condense bench train`
  int64_t batch = 8, seq = 256;
  int steps = 5, warmup = 2;
};

// Sets the option `key` (--vocab, --dim, --layers, --heads, --ffn, --batch, --seq,
// --steps, --warmup) of `s` to `value`; false when `key` is none of them.
inline bool set_train_shape_option(TrainShape& s, const std::string& key, int64_t value) {
  if (key == "--vocab")
    s.model.vocab_size = value;
  else if (key == "--dim")
    s.model.dim = value;
  else if (key == "--layers")
    s.model.n_layers = value;
  else if (key == "--heads")
    s.model.n_heads = s.model.n_kv_heads = value;
  else if (key == "--ffn")
    s.model.ffn_dim = value;
  else if (key == "--batch")
    s.batch = value;
  else if (key == "--seq")
    s.seq = value;
  else if (key == "--steps")
    s.steps = static_cast<int>(value);
  else if (key == "--warmup")
    s.warmup = static_cast<int>(value);
  else
    return false;
  return true;
}

}  // namespace condense::bench
