// Shared by the multi-rank tests: the layout under test and small helpers.
#pragma once
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/ops.h"
#include "core/optim.h"
#include "core/tensor.h"
#include "datasets/batch.h"
#include "parallel/process_grid.h"

namespace condense::testing {

// Set from the test binary's arguments (tests/mpi/CMakeLists.txt).
struct Layout {
  int tp = 1, pp = 1, micro_batches = 1;
  bool zero1 = false, tied = false;
};
Layout& layout();

inline int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

inline int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

// ||a - b|| / ||b|| over all elements (0 when both are zero).
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    ref += static_cast<double>(b[i]) * b[i];
  }
  if (a.size() != b.size()) return INFINITY;
  return ref == 0 ? std::sqrt(diff) : std::sqrt(diff / ref);
}

// A global batch of random tokens, the same on every rank for the same seed.
inline data::TokenBatch random_batch(int64_t rows, int64_t T, int64_t vocab, uint64_t seed) {
  std::mt19937 gen(static_cast<uint32_t>(seed));
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(vocab - 1));
  data::TokenBatch b;
  b.rows = rows;
  b.T = T;
  for (int64_t i = 0; i < rows * T; ++i) b.inputs.push_back(tok(gen));
  for (int64_t i = 0; i < rows * T; ++i) b.targets.push_back(tok(gen));
  return b;
}

using data::rows_of;

// The methods' tests' model: 2 layers of width 32, 4 query and 2 key/value heads.
inline LlamaConfig small_model_config() {
  LlamaConfig c;
  c.vocab_size = 64;
  c.dim = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 64;
  return c;
}

// A learning rate small enough that Adam does not magnify float rounding past the
// tests' tolerances over a few steps; each test picks the clip (a small one makes the
// global norm matter).
inline AdamWConfig adamw_config(float grad_clip, float lr = 1e-3f) {
  AdamWConfig o;
  o.lr = lr;
  o.weight_decay = 0.1f;
  o.grad_clip = grad_clip;
  return o;
}

// Tensors by parameter name.
using Values = std::map<std::string, std::vector<float>>;

inline Values as_map(const std::vector<std::pair<std::string, Tensor>>& gathered) {
  Values out;
  for (const auto& [name, t] : gathered) out[name] = t.to_vector();
  return out;
}

// The gradients of `m`'s trainable parameters (zeros where none reached one).
inline Values grads_of(const Llama& m) {
  Values out;
  for (const Param& p : m.params())
    if (p.trainable)
      out[p.name] = p.var.grad().defined() ? p.var.grad().to_vector()
                                           : std::vector<float>(p.var.value().numel(), 0.0f);
  return out;
}

// Every tensor of `want` within `tolerance` (relative) of `got`'s tensor of the same name.
inline void expect_close(const Values& got, const Values& want, double tolerance,
                         const std::string& what) {
  for (const auto& [name, v] : want) {
    ASSERT_TRUE(got.count(name)) << what << ": " << name;
    EXPECT_LT(relative_error(got.at(name), v), tolerance) << what << ": " << name;
  }
}

// This data-parallel rank's rows of a global batch.
inline data::TokenBatch share(const parallel::ProcessGrid& grid, const data::TokenBatch& global) {
  return rows_of(global, data::shard_begin(global.rows, grid.dp_rank(), grid.dp_size()),
                 data::shard_end(global.rows, grid.dp_rank(), grid.dp_size()));
}

// The single-rank forward and backward of `b` (the engine's plain step); returns the loss.
inline double single_forward_backward(Llama& m, const data::TokenBatch& b) {
  data::BatchTensors t = data::to_tensors(b, Device::cpu);
  t.args.training = true;
  Tape tape;
  Var loss = ops::cross_entropy(tape, m.forward(tape, t.args), t.targets);
  tape.backward(loss);
  return loss.value().to_vector()[0];
}

}  // namespace condense::testing
