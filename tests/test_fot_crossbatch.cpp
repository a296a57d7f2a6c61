// FoT crossbatch (experiments/methods/fot/crossbatch.h): the ranges of the README's
// example, the gather and mask it builds, its forward pass against explicit per-entry
// prefixes, and gradients into other entries' keys/values against finite differences.
#include <gtest/gtest.h>

#include "experiments/methods/fot/crossbatch.h"
#include "gradcheck.h"
#include "model_test_util.h"

namespace condense {
namespace {

using fot::CrossbatchShape;
using testing::error_of;
using testing::random_ids;
using testing::small_config;

TEST(FotCrossbatch, ReadmeExampleRanges) {
  // long_llama FoT/README.md: B=8, cross_batch_range 6, dataset_packing 4, stepping.
  EXPECT_EQ(fot::visible_ranges({8, 4, 6, true}), (std::vector<int64_t>{0, 1, 2, 3, 0, 3, 6, 6}));
  // Without stepping every entry sees the whole range, except the first ones.
  EXPECT_EQ(fot::visible_ranges({8, 4, 6, false}), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 6}));
  // Packs of one: no stepping.
  EXPECT_EQ(fot::visible_ranges({4, 1, 2, true}), (std::vector<int64_t>{0, 1, 2, 2}));
  // Packs of two: step ceil(3 / 1) = 3: the first of each pack sees nothing.
  EXPECT_EQ(fot::visible_ranges({6, 2, 2, true}), (std::vector<int64_t>{0, 1, 0, 2, 0, 2}));
}

TEST(FotCrossbatch, RangeScheduleSwitchesFromSmallToLarge) {
  const fot::RangeSchedule s{2, 64, 450};
  EXPECT_EQ(s.at(0), 2);
  EXPECT_EQ(s.at(449), 2);
  EXPECT_EQ(s.at(450), 64);
  EXPECT_EQ((fot::RangeSchedule{3, -1, 0}).at(1000), 3);
}

TEST(FotCrossbatch, BadShapesAreOneLineErrors) {
  EXPECT_NE(error_of([] {
              fot::visible_ranges({4, 2, 4, true});
            }).find("crossbatch range 4"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              fot::visible_ranges({6, 4, 1, true});
            }).find("does not divide"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              fot::crossbatch_hooks({4, 2, 1, true}, 3, {2}, 2, Device::cpu);
            }).find("memory layer 2 is out of range"),
            std::string::npos);
}

TEST(FotCrossbatch, GatherAndMaskSelectEarlierEntries) {
  // B=3, T=2, range 2, no stepping: slot j of entry i is entry i-j (wrapped, then masked).
  const fot::CrossbatchHooks h = fot::crossbatch_hooks({3, 1, 2, false}, 2, {1}, 2, Device::cpu);
  EXPECT_FALSE(h.gather[0].rows.defined());
  EXPECT_FALSE(h.mask[0].defined());
  EXPECT_EQ(h.gather[1].rows.to_i32_vector(),
            (std::vector<int32_t>{4, 5, 2, 3, 0, 1, 4, 5, 2, 3, 0, 1}));
  EXPECT_EQ(h.gather[1].pos.to_i32_vector(), std::vector<int32_t>(12, 0));
  const uint8_t* mp = h.mask[1].u8();
  const std::vector<uint8_t> m(mp, mp + h.mask[1].numel());
  ASSERT_EQ(h.mask[1].shape(), (Shape{3, 2, 6}));
  // Entry 0 sees only itself (causal); entry 1 slot 1 (entry 0); entry 2 both slots.
  EXPECT_EQ(std::vector<uint8_t>(m.begin(), m.begin() + 12),
            (std::vector<uint8_t>{0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(std::vector<uint8_t>(m.begin() + 12, m.begin() + 24),
            (std::vector<uint8_t>{1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(std::vector<uint8_t>(m.begin() + 24, m.end()),
            (std::vector<uint8_t>{1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1}));
}

// Entry i's logits in a crossbatch pass equal a pass of entry i alone with an explicit
// prefix: the unrotated keys and values of its visible entries (from kv_out of the
// same batch), rotated at position 0, open to every query.
TEST(FotCrossbatch, EqualsExplicitPrefixOfOtherEntries) {
  const LlamaConfig c = small_config(3);
  Llama model(c, 11);
  const int64_t B = 4, T = 5, V = c.vocab_size;
  const Tensor ids = random_ids(B, T, V, 3);
  const CrossbatchShape s{B, 2, 2, true};
  const std::vector<int64_t> layers = {1};
  const fot::CrossbatchHooks h = fot::crossbatch_hooks(s, T, layers, c.n_layers, Device::cpu);
  Tape no_grad(false);
  ForwardArgs a = ForwardArgs::tokens(ids);
  a.row_gather = &h.gather;
  a.layer_mask = &h.mask;
  const std::vector<float> cross = model.forward(no_grad, a).value().to_vector();
  // Layers below the memory layer are per-entry, so plain kv_out gives its inputs.
  std::vector<LayerKV> kv;
  ForwardArgs plain = ForwardArgs::tokens(ids);
  plain.kv_out = &kv;
  model.forward(no_grad, plain);
  const std::vector<int64_t> seen = fot::visible_ranges(s);
  for (int64_t i = 0; i < B; ++i) {
    const std::vector<int32_t> all = ids.to_i32_vector();
    ForwardArgs one = ForwardArgs::tokens(Tensor::from_i32(
        std::vector<int32_t>(all.begin() + i * T, all.begin() + (i + 1) * T), {1, T}));
    std::vector<LayerKV> prefix(static_cast<size_t>(c.n_layers));
    const int64_t n = seen[static_cast<size_t>(i)];
    if (n > 0) {
      std::vector<Var> ks, vs;
      for (int64_t j = 1; j <= n; ++j) {
        ks.push_back(ops::slice(no_grad, kv[1].k_raw, 0, i - j, i - j + 1));
        vs.push_back(ops::slice(no_grad, kv[1].v, 0, i - j, i - j + 1));
      }
      prefix[1] = {
          ops::concat(no_grad, ks, 1), ops::concat(no_grad, vs, 1),
          Tensor::from_i32(std::vector<int32_t>(static_cast<size_t>(n * T), 0), {1, n * T})};
      one.prefix = &prefix;
    }
    const std::vector<float> want = model.forward(no_grad, one).value().to_vector();
    for (int64_t j = 0; j < T * V; ++j)
      ASSERT_NEAR(cross[static_cast<size_t>(i * T * V + j)], want[static_cast<size_t>(j)], 1e-5)
          << "entry " << i << " element " << j;
  }
}

// The loss of the last entry only, as a function of every token's input embedding:
// the last entry reaches earlier entries only through the memory layer's gathered
// keys and values, so the gradient of their embeddings is the crossbatch gradient.
TEST(FotCrossbatch, GradientsFlowIntoOtherEntriesKeysAndValues) {
  const LlamaConfig c = small_config(2);
  Llama model(c, 5);
  // Larger attention weights in the memory layer than the init's, so that what entry 2
  // reads from entry 1 moves its loss well above the differences' f32 noise.
  uint32_t seed = 30;
  for (const char* w : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
    const Tensor& t =
        model.param(std::string("model.layers.1.self_attn.") + w + ".weight").var.value();
    const std::vector<float> r = testing::randn(t.shape(), seed++, 0.5f).to_vector();
    std::copy(r.begin(), r.end(), t.f32());
  }
  const int64_t B = 3, T = 3;
  const CrossbatchShape s{B, 1, 1, false};  // entry 2 sees entry 1, never entry 0
  const fot::CrossbatchHooks h = fot::crossbatch_hooks(s, T, {1}, c.n_layers, Device::cpu);
  ForwardArgs a = ForwardArgs::tokens(random_ids(B, T, c.vocab_size, 9));
  a.row_gather = &h.gather;
  a.layer_mask = &h.mask;
  std::vector<int32_t> rows(static_cast<size_t>(B * T));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int32_t>(i);
  a.embed_rows = Tensor::from_i32(rows, {B * T});
  std::vector<int32_t> targets(static_cast<size_t>(B * T), -100);
  for (int64_t t = 0; t < T; ++t) targets[static_cast<size_t>(2 * T + t)] = static_cast<int32_t>(t);
  const Tensor target_t = Tensor::from_i32(targets, {B, T});
  const Var x(testing::randn({B * T, c.dim}, 4), true);
  auto run = [&](Tape& tape) {
    ForwardArgs b = a;
    b.embed_values = x;
    return ops::cross_entropy(tape, model.forward(tape, b), target_t);
  };
  Tape tape;
  tape.backward(run(tape));
  const int checked = testing::check_against_differences(
      [&] {
        Tape t(false);
        return static_cast<double>(run(t).value().to_vector()[0]);
      },
      {{"embeddings", x}}, 1);
  EXPECT_EQ(checked, B * T * c.dim);
  // Entry 1 gets a gradient (through layer 1's gathered K/V), entry 0 none (masked).
  const std::vector<float> g = x.grad().to_vector();
  double e0 = 0, e1 = 0;
  for (int64_t j = 0; j < T * c.dim; ++j) {
    e0 += std::abs(g[static_cast<size_t>(j)]);
    e1 += std::abs(g[static_cast<size_t>(T * c.dim + j)]);
  }
  EXPECT_EQ(e0, 0.0);
  EXPECT_GT(e1, 0.1);
}

}  // namespace
}  // namespace condense
