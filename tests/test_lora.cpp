// LoRA with a per-token mask: y = W x + m ⊙ (B A x) · alpha / rank.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/linear_layer.h"
#include "gradcheck.h"
#include "model_test_util.h"

namespace condense {
namespace {

using testing::error_of;
using testing::gradcheck;
using testing::random_ids;
using testing::small_config;

const std::vector<std::string> kAllTargets = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                              "gate_proj", "up_proj", "down_proj"};

Tensor randn(const Shape& s, uint32_t seed, float std = 1.0f) {
  return testing::randn(s, seed, std);
}

// The adapter on chosen rows, and its gradients into x, W, A and B, on both splits
// (without tensor parallelism they differ only in where the output is reduced).
TEST(Lora, GradcheckMaskedAdapter) {
  const Tensor mask = Tensor::from_u8({0, 1, 1, 0, 0, 1}, {2, 3});
  for (TpSplit split : {TpSplit::column, TpSplit::row}) {
    gradcheck(
        [&](Tape& t, const std::vector<Var>& v) {
          LinearLayer lin(v[1], split, nullptr);
          lin.set_lora(v[2], v[3], 0.75f);
          const LoraGate gate = LoraGate::from_mask(mask, 2, 3, Device::cpu);
          return split == TpSplit::column ? lin.column(t, v[0], v[0], gate)
                                          : lin.row(t, v[0], gate);
        },
        {randn({2, 3, 5}, 1), randn({4, 5}, 2), randn({3, 5}, 3), randn({4, 3}, 4)},
        {true, true, true, true});
  }
}

// A model with LoRA on every target and B set to random values (a trained adapter).
void add_trained_lora(Llama& model, float alpha = 16) {
  LoraSpec spec;
  spec.targets = kAllTargets;
  spec.rank = 4;
  spec.alpha = alpha;
  model.add_lora(spec);
  uint32_t seed = 100;
  for (Param& p : model.params())
    if (p.name.find("lora_B") != std::string::npos)
      p.var.set_value(randn(p.var.shape(), seed++, 0.3f));
}

// The model's gradients into the LoRA pairs under a token mask, against finite
// differences of the loss (a few elements of each).
TEST(Lora, GradcheckThroughTheModel) {
  Llama model(small_config(), 2);
  add_trained_lora(model);
  ForwardArgs a = ForwardArgs::tokens(random_ids(2, 5, 48, 1));
  a.lora_mask = Tensor::from_u8({1, 0, 0, 1, 0, 0, 1, 1, 0, 1}, {2, 5});
  auto loss = [&] {
    Tape tape(false);
    return static_cast<double>(testing::lm_loss(tape, model, a).value().to_vector()[0]);
  };
  Tape tape;
  tape.backward(testing::lm_loss(tape, model, a));
  std::vector<std::pair<std::string, Var>> lora;
  for (const Param& p : model.params())
    if (p.name.find("lora_") != std::string::npos) lora.emplace_back(p.name, p.var);
  const int checked = testing::check_against_differences(loss, lora, 13);
  EXPECT_GT(checked, 100);
}

bool bit_equal_rows(const Tensor& a, const Tensor& b, int64_t row) {
  const int64_t n = a.dim(-1);
  return std::memcmp(a.f32() + row * n, b.f32() + row * n, n * sizeof(float)) == 0;
}

// Tokens with m = 0 get exactly the base model's logits when they cannot see a token
// with m = 1 (causally later, or masked out of their attention).
TEST(Lora, MaskedOffTokensAreBitIdenticalToTheBase) {
  Llama base(small_config(), 2), lora(small_config(), 2);
  add_trained_lora(lora);
  const int64_t B = 2, T = 6;
  ForwardArgs a = ForwardArgs::tokens(random_ids(B, T, 48, 3));
  // Row 0: LoRA on its last two tokens. Row 1: on token 2, which no other token sees.
  a.lora_mask = Tensor::from_u8({0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0}, {B, T});
  std::vector<uint8_t> mask(B * T * T, 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j <= i; ++j) mask[(b * T + i) * T + j] = !(b == 1 && j == 2 && i != 2);
  a.mask = Tensor::from_u8(mask, {B, T, T});
  Tape tape(false);
  const Tensor want = base.forward(tape, a).value(), got = lora.forward(tape, a).value();
  const Tensor flat_w = want.reshape({B * T, 48}), flat_g = got.reshape({B * T, 48});
  const std::vector<float> m = a.lora_mask.to_vector();
  for (int64_t r = 0; r < B * T; ++r)
    EXPECT_EQ(bit_equal_rows(flat_g, flat_w, r), m[r] == 0) << "row " << r;
  // m = 0 everywhere: the whole output is the base's.
  a.lora_mask = Tensor::zeros({B, T}, DType::u8);
  const Tensor none = lora.forward(tape, a).value();
  EXPECT_EQ(std::memcmp(none.raw(), want.raw(), want.nbytes()), 0);
}

// A new adapter (B = 0) leaves the model unchanged; m = 1 everywhere (given or by
// default) equals the model with W + (alpha / rank) B A in place of W.
TEST(Lora, EverywhereEqualsTheMergedDenseWeight) {
  Llama fresh(small_config(), 2), base(small_config(), 2), merged(small_config(), 2);
  LoraSpec spec;
  spec.targets = kAllTargets;
  fresh.add_lora(spec);
  ForwardArgs a = ForwardArgs::tokens(random_ids(2, 6, 48, 4));
  Tape tape(false);
  const Tensor want0 = base.forward(tape, a).value(), got0 = fresh.forward(tape, a).value();
  EXPECT_EQ(std::memcmp(got0.raw(), want0.raw(), want0.nbytes()), 0);

  Llama lora(small_config(), 2);
  add_trained_lora(lora, 6.0f);
  const double s = 6.0 / 4;
  for (Param& p : merged.params()) {
    const std::string stem = p.name.substr(0, p.name.size() - std::string("weight").size());
    const Param* A = lora.find_param(stem + "lora_A.weight");
    if (!A) continue;
    const Param& Bp = lora.param(stem + "lora_B.weight");
    std::vector<float> w = p.var.value().to_vector();
    const std::vector<float> av = A->var.value().to_vector(), bv = Bp.var.value().to_vector();
    const int64_t out = p.var.dim(0), in = p.var.dim(1), r = A->var.dim(0);
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        double d = 0;
        for (int64_t k = 0; k < r; ++k) d += static_cast<double>(bv[o * r + k]) * av[k * in + i];
        w[o * in + i] = static_cast<float>(w[o * in + i] + s * d);
      }
    p.var.set_value(Tensor::from_f32(w, p.var.shape()));
  }
  const std::vector<float> want = merged.forward(tape, a).value().to_vector();
  double scale = 0;
  for (float v : want) scale = std::max(scale, static_cast<double>(std::abs(v)));
  for (bool given : {false, true}) {
    a.lora_mask = given ? Tensor::from_u8(std::vector<uint8_t>(12, 1), {2, 6}) : Tensor();
    const std::vector<float> got = lora.forward(tape, a).value().to_vector();
    ASSERT_EQ(got.size(), want.size());
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i)
      worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
    EXPECT_LE(worst, 1e-5 * scale) << "mask given: " << given;
  }
  // The adapter changes the output at all (the comparison above can fail).
  const std::vector<float> plain = base.forward(tape, a).value().to_vector();
  double diff = 0;
  for (size_t i = 0; i < plain.size(); ++i)
    diff = std::max(diff, double(std::abs(plain[i] - want[i])));
  EXPECT_GT(diff, 1e-3 * scale);
}

TEST(Lora, PeftNamesShapesAndInit) {
  Llama model(small_config(), 2);
  LoraSpec spec;
  spec.targets = {"q_proj", "down_proj"};
  spec.rank = 3;
  model.add_lora(spec);
  const Param& a = model.param("model.layers.1.self_attn.q_proj.lora_A.weight");
  const Param& b = model.param("model.layers.1.self_attn.q_proj.lora_B.weight");
  EXPECT_EQ(a.var.shape(), (Shape{3, 16}));
  EXPECT_EQ(b.var.shape(), (Shape{16, 3}));
  EXPECT_EQ(model.param("model.layers.0.mlp.down_proj.lora_A.weight").var.shape(), (Shape{3, 24}));
  EXPECT_EQ(model.param("model.layers.0.mlp.down_proj.lora_B.weight").var.shape(), (Shape{16, 3}));
  EXPECT_EQ(model.find_param("model.layers.0.self_attn.k_proj.lora_A.weight"), nullptr);
  for (float v : b.var.value().to_vector()) EXPECT_EQ(v, 0.0f);
  double sq = 0;
  for (float v : a.var.value().to_vector()) {
    EXPECT_LE(std::abs(v), 0.25f);  // Kaiming-uniform bound 1/sqrt(In) = 1/4
    sq += v * v;
  }
  EXPECT_NEAR(sq / 48, 1.0 / 48, 0.3 / 48);  // variance of U(-1/4, 1/4) is 1/48
  // Seeded per name: a second model gets the same A.
  Llama again(small_config(), 7);
  again.add_lora(spec);
  EXPECT_EQ(again.param(a.name).var.value().to_vector(), a.var.value().to_vector());
  EXPECT_NE(model.param("model.layers.0.self_attn.q_proj.lora_A.weight").var.value().to_vector(),
            a.var.value().to_vector());
}

class NoComm final : public TensorParallelHooks {
  Var copy_to_tp_region(Tape&, const Var&) const override { fail("unexpected"); }
  Var reduce_from_tp_region(Tape&, const Var&) const override { fail("unexpected"); }
  Var vocab_parallel_embedding(Tape&, const Var&, const Tensor&, int64_t) const override {
    fail("unexpected");
  }
};

// Column-parallel linears split B by rows, row-parallel ones A by columns; the
// slices are the whole model's blocks.
TEST(Lora, TensorParallelSplit) {
  NoComm comm;
  ModelShard shard;
  shard.tp_rank = 1;
  shard.tp_size = 2;
  shard.tp = &comm;
  Llama whole(small_config(), 2), half(small_config(), 2, Device::cpu, shard);
  LoraSpec spec;
  spec.targets = {"v_proj", "o_proj"};
  whole.add_lora(spec);
  half.add_lora(spec);
  const std::string v = "model.layers.0.self_attn.v_proj.", o = "model.layers.0.self_attn.o_proj.";
  EXPECT_EQ(half.param(v + "lora_A.weight").tp_dim, -1);
  EXPECT_EQ(half.param(v + "lora_B.weight").tp_dim, 0);
  EXPECT_EQ(half.param(o + "lora_A.weight").tp_dim, 1);
  EXPECT_EQ(half.param(o + "lora_B.weight").tp_dim, -1);
  EXPECT_EQ(half.param(v + "lora_B.weight").var.shape(), (Shape{4, 8}));
  EXPECT_EQ(half.param(o + "lora_A.weight").var.value().to_vector(),
            shard_tensor(whole.param(o + "lora_A.weight").var.value(), 1, 1, 2).to_vector());
  EXPECT_EQ(half.param(v + "lora_A.weight").var.value().to_vector(),
            whole.param(v + "lora_A.weight").var.value().to_vector());
}

TEST(Lora, BadSpecsAreOneLineErrors) {
  Llama model(small_config(), 2);
  LoraSpec spec;
  spec.targets = {"q_proj", "qkv_proj"};
  EXPECT_EQ(
      error_of([&] { model.add_lora(spec); }).rfind("LoRA target qkv_proj is not a linear", 0), 0u);
  spec.targets = {"q_proj"};
  spec.dropout = 0.1f;
  EXPECT_EQ(error_of([&] { model.add_lora(spec); }), "LoRA dropout is not supported yet");
  spec.dropout = 0;
  model.add_lora(spec);
  EXPECT_NE(error_of([&] {
              model.add_lora(spec);
            }).find("model.layers.0.self_attn.q_proj.lora_A.weight exists already"),
            std::string::npos);
  ForwardArgs a = ForwardArgs::tokens(random_ids(2, 3, 48, 1));
  a.lora_mask = Tensor::zeros({2, 4}, DType::u8);
  Tape tape(false);
  EXPECT_NE(error_of([&] { model.forward(tape, a); }).find("LoRA mask must be [B,T] u8"),
            std::string::npos);
}

}  // namespace
}  // namespace condense
