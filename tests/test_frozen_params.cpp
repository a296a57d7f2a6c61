// Frozen parameters: no weight-gradient GEMM, no optimizer state, no share of the
// gradient norm, and bit-identical values after training.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/backend.h"
#include "core/optim.h"
#include "model_test_util.h"

namespace condense {
namespace {

using testing::lm_loss;
using testing::random_ids;
using testing::small_config;

const std::vector<std::string> kLayer1Linears = {
    "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
    "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight",
    "model.layers.1.mlp.gate_proj.weight",    "model.layers.1.mlp.up_proj.weight",
    "model.layers.1.mlp.down_proj.weight",    "lm_head.weight"};

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TEST(FrozenParams, BitIdenticalAfterTwentyAdamWSteps) {
  Llama model(small_config(), 3);
  const std::vector<std::string> frozen = {"model.embed_tokens.weight",
                                           "model.layers.0.self_attn.k_proj.weight",
                                           "model.layers.1.post_attention_layernorm.weight"};
  std::map<std::string, Tensor> before;
  for (const Param& p : model.params()) before[p.name] = p.var.value().clone();
  for (const std::string& name : frozen) model.set_trainable(name, false);
  AdamWConfig cfg;
  cfg.lr = 1e-2f;
  AdamW opt(model.params(), cfg);
  for (const std::string& name : frozen) EXPECT_EQ(opt.state().count(name), 0u) << name;
  for (int step = 0; step < 20; ++step) {
    Tape tape;
    tape.backward(lm_loss(tape, model, ForwardArgs::tokens(random_ids(2, 6, 48, step))));
    for (const std::string& name : frozen)
      EXPECT_FALSE(model.param(name).var.grad().defined()) << name;
    opt.step();
    opt.zero_grad();
  }
  for (const Param& p : model.params()) {
    const bool is_frozen = std::find(frozen.begin(), frozen.end(), p.name) != frozen.end();
    EXPECT_EQ(bit_equal(p.var.value(), before[p.name]), is_frozen) << p.name;
  }
}

BackendStats step_gemms(Llama& model) {
  Tape tape;
  Var loss = lm_loss(tape, model, ForwardArgs::tokens(random_ids(2, 5, 48, 9)));
  backend_for(Device::cpu).reset_stats();
  tape.backward(loss);
  return backend_for(Device::cpu).stats();
}

// Freezing weights whose inputs still need gradients removes exactly their
// weight-gradient products: one GEMM of Out*In*N multiply-adds each.
TEST(FrozenParams, NoWeightGradientGemm) {
  Llama model(small_config(), 3);
  const BackendStats all = step_gemms(model);
  int64_t frozen_madds = 0;
  const int64_t N = 2 * 5;
  for (const std::string& name : kLayer1Linears) {
    model.set_trainable(name, false);
    const Tensor& w = model.param(name).var.value();
    frozen_madds += w.dim(0) * w.dim(1) * N;
  }
  const BackendStats frozen = step_gemms(model);
  EXPECT_EQ(all.gemm_calls - frozen.gemm_calls, static_cast<int64_t>(kLayer1Linears.size()));
  EXPECT_EQ(all.gemm_multiply_adds - frozen.gemm_multiply_adds, frozen_madds);
  for (const std::string& name : kLayer1Linears)
    EXPECT_FALSE(model.param(name).var.grad().defined()) << name;
  // Unfreezing brings the products back.
  for (const std::string& name : kLayer1Linears) model.set_trainable(name, true);
  EXPECT_EQ(step_gemms(model).gemm_calls, all.gemm_calls);
}

// A parameter marked not trainable is left out of the norm even when a gradient
// is present (a list built elsewhere, gradients from before the freeze).
TEST(FrozenParams, GradNormCountsTrainableOnly) {
  Llama model(small_config(), 3);
  Tape tape;
  tape.backward(lm_loss(tape, model, ForwardArgs::tokens(random_ids(2, 5, 48, 4))));
  Param& q = model.param("lm_head.weight");
  ASSERT_TRUE(q.var.grad().defined());
  q.trainable = false;
  double ss = 0;
  for (const Param& p : model.params()) {
    if (!p.trainable) continue;
    for (float g : p.var.grad().to_vector()) ss += static_cast<double>(g) * g;
  }
  double q_ss = 0;
  for (float g : q.var.grad().to_vector()) q_ss += static_cast<double>(g) * g;
  ASSERT_GT(q_ss, 1e-3 * ss);  // large enough that counting it would show
  EXPECT_NEAR(grad_norm(model.params()), std::sqrt(ss), 1e-6 * std::sqrt(ss));
}

TEST(FrozenParams, UnknownNameIsAnError) {
  Llama model(small_config(), 3);
  EXPECT_EQ(model.find_param("model.layers.7.self_attn.q_proj.weight"), nullptr);
  EXPECT_NE(model.find_param("lm_head.weight"), nullptr);
  try {
    model.set_trainable("model.nope.weight", false);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.nope.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace condense
