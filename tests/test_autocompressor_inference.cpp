// AutoCompressor inference on a small random model: explicit compression chained
// over chunks equals implicit segmenting (σ and logits within 1e-5), with and
// without accumulation; generation with σ in the key/value cache gives the tokens
// that re-prepending σ and recomputing everything at every step gives.
#include <gtest/gtest.h>

#include <set>

#include "core/ops.h"
#include "experiments/methods/autocompressor/generate.h"
#include "experiments/methods/autocompressor/summary_passes.h"
#include "tests/autocompressor_test_util.h"

namespace condense::autocompressor {
namespace {

using testing::random_ids;

constexpr int64_t kKappa = 3, kVocab = 48;

LlamaConfig config() {
  return testing::autocompressor_config(kVocab);
}

Llama model_with_table(uint32_t seed) {
  return testing::model_with_table(config(), kKappa, seed);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    d = std::max(d, static_cast<double>(std::abs(a[i] - b[i])));
  return d;
}

// Logits [B,N,V] -> columns [begin, end).
std::vector<float> logit_columns(const Tensor& logits, int64_t begin, int64_t end) {
  const int64_t B = logits.dim(0), N = logits.dim(1), V = logits.dim(2);
  const std::vector<float> all = logits.to_vector();
  std::vector<float> out;
  for (int64_t b = 0; b < B; ++b)
    out.insert(out.end(), all.begin() + (b * N + begin) * V, all.begin() + (b * N + end) * V);
  return out;
}

TEST(AutoCompressorInference, ExplicitChainingEqualsImplicitSegmenting) {
  for (bool accumulate : {true, false}) {
    const Llama m = model_with_table(3);
    const Tensor& table = m.param(kTableName).var.value();
    const Tensor ids = random_ids(2, 20, kVocab, 4);
    const std::vector<int64_t> lengths = {5, 7, 8};
    const Tensor implicit = segment_logits(m, table, ids, lengths, Tensor(), accumulate);
    // Explicit: compress chunk 1, then chunk 2 from its σ, then read chunk 3 from σ2.
    const Tensor s1 = compress(m, table, columns(ids, 0, 5), {5}, Tensor(), accumulate);
    const Tensor s2 = compress(m, table, columns(ids, 5, 12), {7}, s1, accumulate);
    EXPECT_EQ(s1.shape(), (Shape{2, kKappa, config().dim}));
    EXPECT_EQ(s2.shape(), (Shape{2, (accumulate ? 2 : 1) * kKappa, config().dim}));
    // Compressing both chunks in one call (implicit) gives the same σ.
    EXPECT_LT(max_abs_diff(
                  compress(m, table, columns(ids, 0, 12), {5, 7}, Tensor(), accumulate).to_vector(),
                  s2.to_vector()),
              1e-5);
    const std::vector<std::pair<Tensor, std::pair<int64_t, int64_t>>> parts = {
        {segment_logits(m, table, columns(ids, 0, 5), {5}, Tensor(), accumulate), {0, 5}},
        {segment_logits(m, table, columns(ids, 5, 12), {7}, s1, accumulate), {5, 12}},
        {segment_logits(m, table, columns(ids, 12, 20), {8}, s2, accumulate), {12, 20}}};
    for (const auto& [logits, range] : parts)
      EXPECT_LT(
          max_abs_diff(logits.to_vector(), logit_columns(implicit, range.first, range.second)),
          1e-5)
          << "accumulate " << accumulate << " columns " << range.first;
    // σ matters: the last chunk read without it differs.
    EXPECT_GT(
        max_abs_diff(
            segment_logits(m, table, columns(ids, 12, 20), {8}, Tensor(), accumulate).to_vector(),
            logit_columns(implicit, 12, 20)),
        1e-3);
  }
}

// The reference: each step recomputes [σ ⊕ prompt ⊕ generated] from scratch (no cache)
// and takes the argmax of the last position.
std::vector<int32_t> reprepending(const Llama& m, const Tensor& sigma_row, std::vector<int32_t> ids,
                                  int64_t steps) {
  std::vector<int32_t> out;
  for (int64_t s = 0; s < steps; ++s) {
    Tape no_grad(false);
    const int64_t L = static_cast<int64_t>(ids.size());
    const SegmentOutput seg =
        segment_pass(no_grad, m, Tensor::from_i32(ids, {1, L}), Var(sigma_row), Var());
    const std::vector<float> logits = m.logits(no_grad, seg.hidden).value().to_vector();
    const int64_t V = m.config().vocab_size;
    int32_t best = 0;
    for (int64_t v = 1; v < V; ++v)
      if (logits[(L - 1) * V + v] > logits[(L - 1) * V + best]) best = static_cast<int32_t>(v);
    out.push_back(best);
    ids.push_back(best);
  }
  return out;
}

TEST(AutoCompressorInference, GenerationWithSigmaInTheCacheEqualsReprependingIt) {
  const Llama m = model_with_table(7);
  const Tensor& table = m.param(kTableName).var.value();
  const Tensor context = random_ids(2, 14, kVocab, 8);
  const Tensor sigma = compress(m, table, context, {6, 8}, Tensor(), true);
  ASSERT_EQ(sigma.dim(1), 2 * kKappa);
  // Prompts of different lengths: the shorter row is left-padded.
  const std::vector<std::vector<int32_t>> prompts = {{3, 9, 17, 4}, {11, 5}};
  eval::BatchGenerateConfig cfg;
  cfg.max_new_tokens = 8;
  const eval::BatchGenerateResult cached = generate_after_softprompt(m, sigma, prompts, 0, cfg);
  const int64_t D = config().dim, n = sigma.dim(1);
  const std::vector<float> all = sigma.to_vector();
  std::set<int32_t> distinct;
  for (int64_t b = 0; b < 2; ++b) {
    const Tensor row = Tensor::from_f32(
        std::vector<float>(all.begin() + b * n * D, all.begin() + (b + 1) * n * D), {1, n, D});
    const std::vector<int32_t> want = reprepending(m, row, prompts[b], cfg.max_new_tokens);
    EXPECT_EQ(cached.tokens[b], want) << "row " << b;
    distinct.insert(want.begin(), want.end());
  }
  // Not a degenerate model that repeats one token.
  EXPECT_GT(distinct.size(), 2u);
}

}  // namespace
}  // namespace condense::autocompressor
