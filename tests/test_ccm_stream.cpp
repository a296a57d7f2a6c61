// CCM streaming (experiments/methods/ccm/stream.h): token by token with a bounded cache
// of unrotated keys re-rotated by cache index.
//   - Nothing evicted: the stream's perplexity is the one full forward pass's.
//   - Evicted (one layer, whose keys/values depend on the token alone): every
//     prediction is a fresh forward over the kept tokens at positions 0..S, i.e. the
//     eviction keeps [sink | newest window] and positions are cache indices.
//   - CCM: compressions happen, the cache stays within its size and the memory changes
//     the predictions; options that cannot fit are one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/ops.h"
#include "experiments/methods/ccm/adapter.h"
#include "experiments/methods/ccm/stream.h"
#include "tests/model_test_util.h"

namespace condense::ccm {
namespace {

// A random model with weights large enough for peaked attention (a fresh init attends
// almost uniformly, which would hide wrong positions or a wrong eviction).
Llama peaked_model(int64_t layers) {
  Llama m(testing::small_config(layers), 3);
  uint32_t seed = 20;
  for (Param& p : m.params()) p.var.set_value(testing::randn(p.var.shape(), seed++, 0.6f));
  return m;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint32_t seed) {
  return testing::random_ids(1, n, vocab, seed).to_i32_vector();
}

// -log p(next | ids) of a plain forward over `ids` at positions 0..n-1, for the last token.
double last_nll(const Llama& model, const std::vector<int32_t>& ids, int32_t next) {
  Tape tape(false);
  ForwardArgs a;
  const int64_t n = static_cast<int64_t>(ids.size());
  a.ids = Tensor::from_i32(ids, {1, n});
  const std::vector<float> all = model.forward(tape, a).value().to_vector();
  const int64_t V = model.config().vocab_size;
  const std::vector<float> logits(all.end() - V, all.end());
  double top = logits[0], sum = 0;
  for (float x : logits) top = std::max<double>(top, x);
  for (float x : logits) sum += std::exp(x - top);
  return std::log(sum) + top - logits[static_cast<size_t>(next)];
}

TEST(CcmStream, WithoutEvictionItIsTheFullForwardPass) {
  const Llama model = peaked_model(2);
  const std::vector<int32_t> t = random_tokens(40, 48, 7);
  StreamOptions o;
  o.cache = 100, o.memory = 0, o.chunk = 8;
  const StreamResult s = stream_nll(model, nullptr, t, o);
  EXPECT_EQ(s.tokens, 39);
  EXPECT_EQ(s.max_cache, 39);
  EXPECT_EQ(s.compressions, 0);
  double full = 0;
  for (size_t i = 1; i < t.size(); ++i)
    full += last_nll(model, std::vector<int32_t>(t.begin(), t.begin() + i), t[i]);
  EXPECT_NEAR(s.nll, full, 1e-3);
}

TEST(CcmStream, EvictionKeepsSinkAndNewestWindowAtCacheIndices) {
  const Llama model = peaked_model(1);
  const std::vector<int32_t> t = random_tokens(30, 48, 8);
  StreamOptions o;
  o.cache = 8, o.sink = 1, o.chunk = 3, o.memory = 0;
  const StreamResult s = stream_nll(model, nullptr, t, o);
  EXPECT_EQ(s.max_cache, 8);
  // The same cache by hand: token 0, then the window, dropping its oldest 3 when full.
  double want = 0;
  std::vector<int32_t> window;
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (i > 0 && 1 + static_cast<int64_t>(window.size()) + 1 > o.cache)
      window.erase(window.begin(), window.begin() + o.chunk);
    std::vector<int32_t> ids{t[0]};
    ids.insert(ids.end(), window.begin(), window.end());
    if (i > 0) ids.push_back(t[i]);
    want += last_nll(model, ids, t[i + 1]);
    if (i > 0) window.push_back(t[i]);
  }
  EXPECT_NEAR(s.nll, want, 1e-3);
}

TEST(CcmStream, CompressionFillsTheMemoryWithinTheCacheSize) {
  Llama model = peaked_model(2);
  AdapterOptions a;
  a.lora_r = 4;
  extend_model(model, comp_table_init(model.param("model.embed_tokens.weight").var.value(), 2), a);
  uint32_t seed = 50;
  for (Param& p : model.params())
    if (p.name.find("lora_B") != std::string::npos || p.name == kTableName)
      p.var.set_value(testing::randn(p.var.shape(), seed++, 0.5f));
  const Tensor& table = model.param(kTableName).var.value();
  const std::vector<int32_t> t = random_tokens(120, 48, 9);
  StreamOptions o;
  o.cache = 24, o.sink = 1, o.chunk = 8, o.memory = 4, o.n_tok = 2;
  const StreamResult ccm = stream_nll(model, &table, t, o);
  EXPECT_GT(ccm.compressions, 5);
  EXPECT_EQ(ccm.max_cache, 24);
  StreamOptions w = o;
  w.memory = 0;
  const StreamResult window = stream_nll(model, nullptr, t, w);
  EXPECT_EQ(window.max_cache, 24);
  EXPECT_EQ(window.tokens, ccm.tokens);
  EXPECT_GT(std::abs(ccm.nll - window.nll), 1e-3);

  o.memory = 1;
  EXPECT_NE(testing::error_of([&] { stream_nll(model, &table, t, o); }).find("cannot hold one"),
            std::string::npos);
  o.memory = 4, o.cache = 12;
  EXPECT_NE(testing::error_of([&] { stream_nll(model, &table, t, o); }).find("a cache of 12"),
            std::string::npos);
  o.cache = 24;
  EXPECT_NE(testing::error_of([&] { stream_nll(model, nullptr, t, o); }).find("<COMP> table"),
            std::string::npos);
}

}  // namespace
}  // namespace condense::ccm
