// Small models and batches shared by the engine tests (frozen parameters, LoRA,
// layer hooks, soft prompts).
#pragma once
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "core/ops.h"

namespace condense::testing {

// The message of the condense::Error that `fn` throws ("(no error)" when it throws none).
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

inline LlamaConfig small_config(int64_t n_layers = 2) {
  LlamaConfig c;
  c.vocab_size = 48;
  c.dim = 16;
  c.n_layers = n_layers;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 24;
  return c;
}

inline Tensor random_ids(int64_t B, int64_t T, int64_t vocab, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> v(static_cast<size_t>(B * T));
  for (int32_t& x : v) x = d(g);
  return Tensor::from_i32(v, {B, T});
}

inline Tensor randn(const Shape& s, uint32_t seed, float std = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, std);
  std::vector<float> v(static_cast<size_t>(numel_of(s)));
  for (float& x : v) x = d(g);
  return Tensor::from_f32(v, s);
}

// Next-token cross-entropy of `args` (targets: the ids shifted left, last one ignored).
inline Var lm_loss(Tape& tape, const Llama& model, const ForwardArgs& args) {
  std::vector<int32_t> ids = args.ids.to_i32_vector(), targets(ids.size(), -100);
  const int64_t T = args.ids.dim(1);
  for (size_t i = 0; i < ids.size(); ++i)
    if ((static_cast<int64_t>(i) + 1) % T) targets[i] = ids[i + 1];
  return ops::cross_entropy(tape, model.forward(tape, args),
                            Tensor::from_i32(targets, args.ids.shape()));
}

}  // namespace condense::testing
