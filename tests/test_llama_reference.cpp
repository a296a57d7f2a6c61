// A full LLaMA forward + backward (GQA, untied head, explicit positions, an
// arbitrary mask, a per-layer memory prefix) against values from an independent
// float64 PyTorch implementation (tests/reference/make_llama_reference.py; its
// output tests/data/llama_reference.h5 is committed, so no Python is needed).
#include <gtest/gtest.h>

#include <cmath>

#include "core/h5.h"
#include "core/model.h"
#include "core/ops.h"

namespace condense {
namespace {

const std::string kFile = std::string(CONDENSE_SOURCE_DIR) + "/tests/data/llama_reference.h5";
constexpr double kRtol = 1e-4;

// |a - b| <= rtol * max|b| over the tensor (relative to the tensor's scale, so
// entries that are exactly 0 in the reference are judged fairly).
void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0;
  for (float w : want) scale = std::max(scale, static_cast<double>(std::abs(w)));
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
  EXPECT_LE(worst, kRtol * std::max(scale, 1e-12))
      << what << ": max abs error " << worst << " at scale " << scale;
}

void run_case(const std::string& root) {
  h5::File f(kFile, h5::File::Mode::read);
  const std::string cfg = root + "/config";
  LlamaConfig c;
  c.vocab_size = f.attr_int(cfg, "vocab_size");
  c.dim = f.attr_int(cfg, "dim");
  c.n_layers = f.attr_int(cfg, "n_layers");
  c.n_heads = f.attr_int(cfg, "n_heads");
  c.n_kv_heads = f.attr_int(cfg, "n_kv_heads");
  c.ffn_dim = f.attr_int(cfg, "ffn_dim");
  c.norm_eps = static_cast<float>(f.attr_double(cfg, "norm_eps"));
  c.rope_theta = static_cast<float>(f.attr_double(cfg, "rope_theta"));
  c.tie_embeddings = f.attr_int(cfg, "tie_embeddings") != 0;
  const int64_t B = f.attr_int(cfg, "batch"), T = f.attr_int(cfg, "seq_len");
  const int64_t M = f.attr_int(cfg, "memory_len");
  Llama model(c, 0);
  for (Param& p : model.params())
    p.var.set_value(
        Tensor::from_f32(f.read_f32(root + "/params/" + p.name, p.var.shape()), p.var.shape()));
  ForwardArgs args;
  args.ids = Tensor::from_i32(f.read_i32(root + "/inputs/ids", {B, T}), {B, T});
  args.pos = Tensor::from_i32(f.read_i32(root + "/inputs/pos", {B, T}), {B, T});
  if (f.exists(root + "/inputs/mask") && M > 0) {
    args.mask = Tensor::from_u8(f.read_u8(root + "/inputs/mask", {B, T, M + T}), {B, T, M + T});
  }
  std::vector<LayerKV> memory;
  const Shape mshape{B, M, c.n_kv_heads, c.head_dim()};
  if (M > 0) {
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const std::string p = root + "/inputs/memory/" + std::to_string(l);
      memory.push_back({Var(Tensor::from_f32(f.read_f32(p + "/k", mshape), mshape), true),
                        Var(Tensor::from_f32(f.read_f32(p + "/v", mshape), mshape), true)});
    }
    args.prefix = &memory;
  }
  Tensor targets = Tensor::from_i32(f.read_i32(root + "/inputs/targets", {B, T}), {B, T});
  Tape tape;
  Var logits = model.forward(tape, args);
  Var loss = ops::cross_entropy(tape, logits, targets);
  tape.backward(loss);
  expect_close(logits.value().to_vector(), f.read_f32(root + "/outputs/logits"), "logits");
  expect_close(loss.value().to_vector(), f.read_f32(root + "/outputs/loss"), "loss");
  for (const Param& p : model.params())
    expect_close(p.var.grad().to_vector(), f.read_f32(root + "/grads/" + p.name), p.name);
  for (int64_t l = 0; l < static_cast<int64_t>(memory.size()); ++l) {
    const std::string p = root + "/grads/memory/" + std::to_string(l);
    expect_close(memory[l].k.grad().to_vector(), f.read_f32(p + "/k"), p + "/k");
    expect_close(memory[l].v.grad().to_vector(), f.read_f32(p + "/v"), p + "/v");
  }
}

TEST(LlamaReference, MaskedGqaWithMemoryPrefixMatchesTorch) {
  run_case("");
}

TEST(LlamaReference, PlainCausalMatchesTorch) {
  run_case("/plain");
}

}  // namespace
}  // namespace condense
