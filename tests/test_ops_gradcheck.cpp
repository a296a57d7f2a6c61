// Every op's backward against central finite differences. The probe loss is
// L = sum_i w_i * y_i with fixed random weights w, accumulated in float64; each
// input element is nudged by +-h and (L(x+h) - L(x-h)) / 2h compared with the
// analytic gradient. Ops run in f32, so h and the tolerance are set for f32
// forward noise (a wrong gradient is off by O(1), far outside it).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "core/ops.h"

namespace condense {
namespace {

Tensor randn(const Shape& s, std::mt19937& g, float std = 1.0f) {
  std::normal_distribution<float> d(0.0f, std);
  std::vector<float> v(static_cast<size_t>(numel_of(s)));
  for (float& x : v) x = d(g);
  return Tensor::from_f32(v, s);
}

using Fn = std::function<Var(Tape&, const std::vector<Var>&)>;

double probe(const Fn& fn, const std::vector<Var>& in, const std::vector<float>& w) {
  Tape tape(false);
  std::vector<float> y = fn(tape, in).value().to_vector();
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += static_cast<double>(w[i]) * y[i];
  return s;
}

// Checks d(probe)/d(input) for every input flagged in `check`.
void gradcheck(const Fn& fn, std::vector<Tensor> inputs, std::vector<bool> check, double h = 1e-2,
               double rtol = 2e-2, double atol = 2e-3) {
  std::mt19937 g(7);
  std::vector<Var> vars;
  for (size_t i = 0; i < inputs.size(); ++i) vars.emplace_back(inputs[i], check[i]);
  Tape tape(true);
  Var y = fn(tape, vars);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(y.value().numel()));
  for (float& x : w) x = d(g);
  // Analytic: seed dL/dy = w through a weighted sum written as a linear op on the tape.
  Var wv(Tensor::from_f32(w, {y.value().numel(), 1}));
  Var flat = ops::reshape(tape, y, {1, y.value().numel()});
  Var loss = ops::linear(tape, flat, ops::detach(ops::reshape(tape, wv, {1, y.value().numel()})));
  tape.backward(ops::reshape(tape, loss, {1}));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!check[i]) continue;
    ASSERT_TRUE(vars[i].grad().defined()) << "input " << i << " got no gradient";
    std::vector<float> analytic = vars[i].grad().to_vector();
    float* x = inputs[i].f32();
    for (int64_t j = 0; j < inputs[i].numel(); ++j) {
      const float orig = x[j];
      x[j] = orig + static_cast<float>(h);
      const double up = probe(fn, vars, w);
      x[j] = orig - static_cast<float>(h);
      const double down = probe(fn, vars, w);
      x[j] = orig;
      const double numeric = (up - down) / (2 * h);
      EXPECT_NEAR(analytic[j], numeric, atol + rtol * std::abs(numeric))
          << "input " << i << " element " << j;
    }
  }
}

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
