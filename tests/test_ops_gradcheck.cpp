// Every op's backward against central finite differences (tests/gradcheck.h).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/ops.h"
#include "gradcheck.h"

namespace condense {
namespace {

using testing::gradcheck;
using testing::randn;

std::mt19937 gen(1234);

TEST(Gradcheck, Linear) {
  gradcheck([](Tape& t, const std::vector<Var>& v) { return ops::linear(t, v[0], v[1]); },
            {randn({2, 3, 5}, gen), randn({4, 5}, gen)}, {true, true});
}

TEST(Gradcheck, Embedding) {
  Tensor ids = Tensor::from_i32({1, 3, 1, 0, 4, 3}, {2, 3});
  gradcheck([ids](Tape& t, const std::vector<Var>& v) { return ops::embedding(t, v[0], ids); },
            {randn({5, 4}, gen)}, {true});
}

TEST(Gradcheck, RmsNorm) {
  gradcheck([](Tape& t, const std::vector<Var>& v) { return ops::rmsnorm(t, v[0], v[1], 1e-5f); },
            {randn({3, 7}, gen), randn({7}, gen)}, {true, true}, 1e-2, 3e-2, 3e-3);
}

TEST(Gradcheck, RopeAtExplicitPositions) {
  Tensor pos = Tensor::from_i32({0, 5, 2, 9, 1, 3}, {2, 3});
  gradcheck([pos](Tape& t, const std::vector<Var>& v) { return ops::rope(t, v[0], pos, 100.0f); },
            {randn({2, 3, 2, 6}, gen)}, {true});
}

// Positions repeated across the batch: the CPU backend rotates from a per-position table.
TEST(Gradcheck, RopeAtRepeatedPositions) {
  Tensor pos = Tensor::from_i32({0, 1, 2, 2, 1, 0}, {2, 3});
  gradcheck([pos](Tape& t, const std::vector<Var>& v) { return ops::rope(t, v[0], pos, 100.0f); },
            {randn({2, 3, 2, 6}, gen)}, {true});
}

// The rotation depends on the position only, whichever way the backend computes it:
// rows whose batch spans few positions (per-position table) match the same rows in a
// batch whose positions span far more than its tokens (computed per token).
TEST(Rope, SameRotationForDenseAndSparsePositions) {
  Tape t(false);
  const Tensor x = randn({3, 3, 2, 6}, gen);
  const Tensor sparse = Tensor::from_i32({0, 1, 2, 2, 1, 0, 5000, 5001, 5002}, {3, 3});
  const Tensor dense = Tensor::from_i32({0, 1, 2, 2, 1, 0}, {2, 3});
  const std::vector<float> all = ops::rope(t, Var(x), sparse, 1e4f).value().to_vector();
  const std::vector<float> two =
      ops::rope(t, ops::slice(t, Var(x), 0, 0, 2), dense, 1e4f).value().to_vector();
  ASSERT_EQ(two.size(), all.size() * 2 / 3);
  for (size_t i = 0; i < two.size(); ++i) EXPECT_NEAR(two[i], all[i], 1e-6f) << i;
}

TEST(Gradcheck, SwiGLU) {
  gradcheck([](Tape& t, const std::vector<Var>& v) { return ops::swiglu(t, v[0], v[1]); },
            {randn({4, 6}, gen), randn({4, 6}, gen)}, {true, true});
}

TEST(Gradcheck, CausalAttentionWithGQA) {
  gradcheck(
      [](Tape& t, const std::vector<Var>& v) {
        return ops::attention(t, v[0], v[1], v[2], Tensor(), 0.5f);
      },
      {randn({2, 5, 4, 4}, gen), randn({2, 5, 2, 4}, gen), randn({2, 5, 2, 4}, gen)},
      {true, true, true});
}

TEST(Gradcheck, MaskedAttentionWithPrefixAndEmptyRow) {
  // T=4 queries over S=6 keys (2 of memory); an arbitrary mask with one fully
  // masked row (its output must be 0 and pass no gradient).
  std::vector<uint8_t> m = {1, 0, 1, 0, 0, 0,  //
                            0, 1, 1, 1, 0, 0,  //
                            0, 0, 0, 0, 0, 0,  //
                            1, 1, 0, 1, 1, 1,  //
                            1, 1, 1, 0, 0, 0,  //
                            0, 0, 1, 1, 0, 0,  //
                            1, 0, 0, 1, 1, 0,  //
                            0, 1, 1, 1, 1, 1};
  Tensor mask = Tensor::from_u8(m, {2, 4, 6});
  gradcheck(
      [mask](Tape& t, const std::vector<Var>& v) {
        return ops::attention(t, v[0], v[1], v[2], mask, 0.7f);
      },
      {randn({2, 4, 2, 4}, gen), randn({2, 6, 1, 4}, gen), randn({2, 6, 1, 4}, gen)},
      {true, true, true});
}

TEST(Gradcheck, LongCausalAttentionCrossesBlocks) {
  // More than one 64-row query block, with a key prefix: exercises the block ranges.
  gradcheck(
      [](Tape& t, const std::vector<Var>& v) {
        return ops::attention(t, v[0], v[1], v[2], Tensor(), 0.3f);
      },
      {randn({1, 70, 1, 2}, gen), randn({1, 73, 1, 2}, gen), randn({1, 73, 1, 2}, gen)},
      {true, true, true});
}

TEST(Gradcheck, CrossEntropyWithIgnoreIndex) {
  Tensor targets = Tensor::from_i32({2, -100, 0, 4}, {4});
  gradcheck([targets](Tape& t,
                      const std::vector<Var>& v) { return ops::cross_entropy(t, v[0], targets); },
            {randn({4, 5}, gen)}, {true});
}

TEST(Gradcheck, ConcatSliceReshapeAddScale) {
  gradcheck(
      [](Tape& t, const std::vector<Var>& v) {
        Var c = ops::concat(t, {v[0], v[1]}, 1);  // [2,5,3]
        Var s = ops::slice(t, c, 1, 1, 4);        // [2,3,3]
        Var r = ops::reshape(t, s, {2, 9});
        return ops::add(t, ops::scale(t, r, 1.5f), ops::reshape(t, v[2], {2, 9}));
      },
      {randn({2, 2, 3}, gen), randn({2, 3, 3}, gen), randn({2, 3, 3}, gen)}, {true, true, true});
}

TEST(Gradcheck, GatherAndReplaceRows) {
  Tensor idx = Tensor::from_i32({3, 0, 3}, {3});
  Tensor put = Tensor::from_i32({1, 4}, {2});
  gradcheck(
      [idx, put](Tape& t, const std::vector<Var>& v) {
        Var g = ops::gather_rows(t, v[0], idx);  // repeated row: gradients add
        Var r = ops::replace_rows(t, v[0], put, v[1]);
        return ops::concat(t, {g, r}, 0);
      },
      {randn({5, 3}, gen), randn({2, 3}, gen)}, {true, true});
}

// Replaced rows mixing other rows, replaced ones (their input values) and themselves
// included, on a [2,3,4] tensor seen as 6 rows of 4.
TEST(Gradcheck, MixRows) {
  const Tensor rows = Tensor::from_i32({4, 1, 5}, {3});
  const Tensor weights = randn({3, 6}, gen);
  gradcheck(
      [&](Tape& t, const std::vector<Var>& v) { return ops::mix_rows(t, v[0], rows, weights); },
      {randn({2, 3, 4}, gen)}, {true});
}

TEST(MixRows, ReplacesRowsByTheirCombination) {
  Tape t(false);
  const Tensor x = Tensor::from_f32({1, 2, 3, 4, 5, 6}, {3, 2});
  const Tensor rows = Tensor::from_i32({0, 2}, {2});
  const Tensor w = Tensor::from_f32({0, 0.5f, 0.5f, 1, 0, 1}, {2, 3});
  EXPECT_EQ(ops::mix_rows(t, Var(x), rows, w).value().to_vector(),
            (std::vector<float>{4, 5, 3, 4, 6, 8}));
  EXPECT_THROW(ops::mix_rows(t, Var(x), rows, Tensor::zeros({2, 4})), Error);
}

TEST(Autograd, DetachStopsGradient) {
  Var x(Tensor::from_f32({1, 2, 3, 4}, {2, 2}), true);
  Var w(Tensor::from_f32({1, 0, 0, 1}, {2, 2}), true);
  Tape tape;
  Var y = ops::linear(tape, ops::detach(ops::scale(tape, x, 2.0f)), w);
  Var loss = ops::cross_entropy(tape, y, Tensor::from_i32({0, 1}, {2}));
  tape.backward(loss);
  EXPECT_FALSE(x.grad().defined());
  EXPECT_TRUE(w.grad().defined());
}

TEST(Attention, FullyMaskedRowIsZero) {
  Tensor mask = Tensor::from_u8({0, 0, 1, 1}, {1, 2, 2});
  std::mt19937 g(3);
  Var q(randn({1, 2, 1, 2}, g)), k(randn({1, 2, 1, 2}, g)), v(randn({1, 2, 1, 2}, g));
  Tape tape(false);
  std::vector<float> out = ops::attention(tape, q, k, v, mask, 1.0f).value().to_vector();
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_FALSE(std::isnan(out[2]));
}

}  // namespace
}  // namespace condense
