// Gradients across AutoCompressor segments on a tiny model: the loss of segment 2
// reaches segment 1's input embeddings through the summary vectors σ, and matches
// finite differences there; the training step's substep boundary stops it exactly
// (a zero gradient), while the same segments in one substep carry it.
#include <gtest/gtest.h>

#include "experiments/methods/autocompressor/summary_passes.h"
#include "experiments/methods/autocompressor/training.h"
#include "tests/gradcheck.h"
#include "tests/model_test_util.h"

namespace condense::autocompressor {
namespace {

using testing::check_against_differences;
using testing::randn;
using testing::random_ids;
using testing::small_config;

constexpr int64_t kKappa = 2;

// A model whose embeddings are at unit scale (a finite-difference step is then small
// against them) and a random summary table.
struct Tiny {
  Llama model{small_config(), 5};
  Tiny() {
    // Weights at a scale where σ changes the next segment's loss noticeably (a default
    // init barely lets one segment's inputs reach the next one's loss).
    uint32_t seed = 20;
    for (Param& p : model.params())
      if (p.var.value().ndim() == 2) p.var.set_value(randn(p.var.shape(), ++seed, 0.2f));
    Param& embed = model.param("model.embed_tokens.weight");
    embed.var.set_value(randn(embed.var.shape(), 6));
    ParamSpec table;
    table.name = kTableName;
    table.value = randn({kKappa, small_config().dim}, 8);
    model.add_param(table);
  }
  const Var& table() { return model.param(kTableName).var; }
};

// Next-token targets inside `ids` [B,L] (the last one predicts nothing), on the model's device.
Tensor shifted(const Tensor& ids) {
  std::vector<int32_t> v = ids.to_i32_vector(), t(v.size(), -100);
  const int64_t L = ids.dim(1);
  for (size_t i = 0; i < v.size(); ++i)
    if ((static_cast<int64_t>(i) + 1) % L) t[i] = v[i + 1];
  return Tensor::from_i32(t, ids.shape());
}

// Segment 1 reads soft-prompt input embeddings x [B,3,D] and two tokens; segment 2 gets
// only σ from it, and its loss is differentiated with respect to x and the table.
TEST(AutoCompressorGradients, SegmentTwosLossReachesSegmentOnesInputsThroughSigma) {
  for (bool accumulate : {true, false}) {
    Tiny t;
    const Var x(randn({2, 3, small_config().dim}, 9), true);
    const Tensor first = random_ids(2, 2, 48, 10), second = random_ids(2, 5, 48, 11);
    auto run = [&](Tape& tape) {
      const SegmentOutput s1 = segment_pass(tape, t.model, first, x, t.table());
      const Var sigma = next_softprompt(tape, Var(), s1.summary, accumulate);
      const SegmentOutput s2 = segment_pass(tape, t.model, second, sigma, t.table());
      return ops::cross_entropy(tape, t.model.logits(tape, s2.hidden), shifted(second));
    };
    auto loss = [&] {
      Tape tape(false);
      return static_cast<double>(run(tape).value().to_vector()[0]);
    };
    Tape tape;
    tape.backward(run(tape));
    // Every element of x and of the table.
    EXPECT_EQ(check_against_differences(loss, {{"x", x}, {"table", t.table()}}, 1), 96 + 32);
    double norm = 0;
    for (float g : x.grad().to_vector()) norm += std::abs(g);
    EXPECT_GT(norm, 1e-3) << "accumulate " << accumulate;
  }
}

// Two window rows of 16 tokens whose first segment holds tokens 1..5 only, the others
// 20..47, cut into segments {4, 4 | 4, 4} (two substeps) or {4, 4, 4, 4} (one), with
// targets only at tokens [keep_begin, keep_end): the losses of those segments alone.
data::TokenBatch window_batch(int64_t substeps, int64_t keep_begin, int64_t keep_end) {
  constexpr int64_t T = 16;
  WindowPlan plan;
  plan.substeps = substeps == 2 ? std::vector<std::vector<int64_t>>{{4, 4}, {4, 4}}
                                : std::vector<std::vector<int64_t>>{{4, 4, 4, 4}};
  data::TokenBatch b;
  b.rows = 2;
  b.T = T;
  std::mt19937 g(3);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t t = 0; t < T; ++t)
      b.inputs.push_back(t < 4 ? 1 + static_cast<int32_t>(g() % 5)
                               : 20 + static_cast<int32_t>(g() % 28));
  for (int64_t i = 0; i < 2 * T; ++i) b.targets.push_back(i % T + 1 < T ? b.inputs[i + 1] : 0);
  apply_plan(b, plan);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t t = 0; t < T; ++t)
      if (t < keep_begin || t >= keep_end) b.targets[r * T + t] = -100;
  return b;
}

// The embedding rows of tokens 1..5 after one training step's backward.
std::vector<float> first_segment_token_grads(Tiny& t, const std::vector<data::TokenBatch>& batches,
                                             int64_t substeps) {
  Tape tape;
  parallel::PassContext ctx(t.model, tape, nullptr);
  TrainingRule rule;
  rule.substeps = substeps;
  const parallel::PassGraph graph = training_graph(batches, rule, 1, kKappa, Device::cpu);
  parallel::sequential_step(graph)(ctx);
  parallel::backward_mean(ctx, static_cast<double>(ctx.total().targets), "autocompressor");
  const std::vector<float> g = t.model.param("model.embed_tokens.weight").var.grad().to_vector();
  const int64_t D = small_config().dim;
  return {g.begin() + 1 * D, g.begin() + 6 * D};
}

TEST(AutoCompressorGradients, ASubstepBoundaryStopsTheGradientExactly) {
  // The loss of segments 3 and 4: in one substep it reaches segment 1 through σ, across
  // a substep boundary not at all (the same tokens and targets; only the detach differs).
  Tiny one, two;
  const std::vector<data::TokenBatch> single = {window_batch(1, 8, 16)},
                                      split = {window_batch(2, 8, 16)};
  ASSERT_EQ(single[0].inputs, split[0].inputs);
  ASSERT_EQ(single[0].targets, split[0].targets);
  double norm = 0;
  for (float g : first_segment_token_grads(one, single, 1)) norm += std::abs(g);
  EXPECT_GT(norm, 1e-4);
  for (float g : first_segment_token_grads(two, split, 2)) EXPECT_EQ(g, 0.0f);
  // Segment 2's loss, in segment 1's substep, still reaches it.
  Tiny again;
  norm = 0;
  for (float g : first_segment_token_grads(again, {window_batch(2, 4, 8)}, 2)) norm += std::abs(g);
  EXPECT_GT(norm, 1e-4);
}

// The training step's gradient into segment 1's token embeddings, through σ, against
// finite differences of its loss (segments 2..4 in one substep).
TEST(AutoCompressorGradients, TrainingStepGradientMatchesFiniteDifferences) {
  Tiny t;
  const std::vector<data::TokenBatch> batches = {window_batch(1, 4, 16)};
  TrainingRule rule;
  rule.substeps = 1;
  auto loss = [&] {
    Tape tape(false);
    parallel::PassContext ctx(t.model, tape, nullptr);
    const parallel::PassGraph graph = training_graph(batches, rule, 1, kKappa, Device::cpu);
    parallel::sequential_step(graph)(ctx);
    return static_cast<double>(ctx.total().sum.value().to_vector()[0]) /
           static_cast<double>(ctx.total().targets);
  };
  first_segment_token_grads(t, batches, 1);
  const Var& embed = t.model.param("model.embed_tokens.weight").var;
  // Rows 1..5 only (the tokens of segment 1): check every element of those rows.
  const int64_t D = small_config().dim;
  int checked = 0;
  const std::vector<float> analytic = embed.grad().to_vector();
  float* x = embed.value().f32();
  for (int64_t j = D; j < 6 * D; ++j) {
    const float orig = x[j];
    x[j] = orig + 1e-2f;
    const double up = loss();
    x[j] = orig - 1e-2f;
    const double down = loss();
    x[j] = orig;
    const double numeric = (up - down) / 2e-2;
    EXPECT_NEAR(analytic[j], numeric, 2e-4 + 2e-2 * std::abs(numeric)) << "element " << j;
    ++checked;
  }
  EXPECT_EQ(checked, 5 * D);
}

}  // namespace
}  // namespace condense::autocompressor
