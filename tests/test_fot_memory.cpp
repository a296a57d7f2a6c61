// FoT inference with a memory cache (experiments/methods/fot/memory_cache.h): windows
// pushed to memory equal one crossbatch pass over the same windows (each sees the
// earlier ones as memory), the prompt splits into windows and a local part, a full
// local cache moves to memory whole, and top-k memory attention with k >= memory is
// dense attention. The books_ppl task scores a target window after memories of
// several sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "core/ops.h"
#include "datasets/token_dataset.h"
#include "eval/chunked_attention.h"
#include "eval/topk_attention.h"
#include "experiments/methods/fot/books_ppl.h"
#include "experiments/methods/fot/crossbatch.h"
#include "experiments/methods/fot/memory_cache.h"
#include "model_test_util.h"
#include "test_data_util.h"

namespace condense {
namespace {

using testing::error_of;
using testing::random_ids;
using testing::small_config;

std::vector<int32_t> row(const Tensor& ids, int64_t r) {
  const std::vector<int32_t> all = ids.to_i32_vector();
  const int64_t T = ids.dim(1);
  return {all.begin() + r * T, all.begin() + (r + 1) * T};
}

// With two memory layers the second one's memory holds keys computed after the first
// one's memory attention: the same in both, window after window.
TEST(FotMemory, WindowsPushedToMemoryEqualOneCrossbatchPass) {
  const LlamaConfig c = small_config(3);
  Llama model(c, 21);
  const int64_t W = 4, N = 5, V = c.vocab_size;
  const Tensor ids = random_ids(N, W, V, 7);
  fot::MemoryCache cache(model, {{1, 2}, W, 0, 0, {}});
  // One document in N consecutive entries; entry i sees entries i-1..0.
  const fot::CrossbatchHooks h =
      fot::crossbatch_hooks({N, N, N - 1, false}, W, {1, 2}, c.n_layers, Device::cpu);
  Tape no_grad(false);
  ForwardArgs a = ForwardArgs::tokens(ids);
  a.row_gather = &h.gather;
  a.layer_mask = &h.mask;
  const std::vector<float> one_pass = model.forward(no_grad, a).value().to_vector();
  for (int64_t i = 0; i < N; ++i) {
    const std::vector<float> got = cache.push_window(row(ids, i)).to_vector();
    for (int64_t j = 0; j < W * V; ++j)
      ASSERT_NEAR(got[static_cast<size_t>(j)], one_pass[static_cast<size_t>(i * W * V + j)], 1e-4)
          << "window " << i << " element " << j;
    EXPECT_EQ(cache.memory_tokens(1), (i + 1) * W);
    EXPECT_EQ(cache.memory_tokens(0), 0);  // not a memory layer
  }
  // Without memory layers every window stands alone.
  fot::MemoryCache none(model, {{}, W, 0, 0, {}});
  none.push_window(row(ids, 0));
  const std::vector<float> alone = none.push_window(row(ids, 1)).to_vector();
  const std::vector<float> plain =
      model.forward(no_grad, ForwardArgs::tokens(Tensor::from_i32(row(ids, 1), {1, W})))
          .value()
          .to_vector();
  for (size_t j = 0; j < alone.size(); ++j) ASSERT_NEAR(alone[j], plain[j], 1e-5);
}

TEST(FotMemory, PrefillSplitsWindowsAndTheLastContext) {
  Llama model(small_config(2), 3);
  fot::MemoryCache cache(model, {{1}, 4, 3, 0, {}});
  const std::vector<int32_t> ids = row(random_ids(1, 11, 48, 2), 0);
  const std::vector<float> logits = cache.prefill(ids);
  EXPECT_EQ(logits.size(), 48u);
  EXPECT_EQ(cache.memory_tokens(1), 8);  // windows [0,4) and [4,8)
  EXPECT_EQ(cache.local_tokens(), 3);
  // The local part sees the memory: its logits equal the third window pushed alone.
  fot::MemoryCache windows(model, {{1}, 4, 0, 0, {}});
  windows.push_window({ids.begin(), ids.begin() + 4});
  windows.push_window({ids.begin() + 4, ids.begin() + 8});
  const std::vector<float> w = windows.push_window({ids.begin() + 8, ids.end()}).to_vector();
  for (size_t j = 0; j < 48; ++j) ASSERT_NEAR(logits[j], w[w.size() - 48 + j], 1e-5);
}

// Tokens one at a time through a local cache of 4: each overflow moves all 4 to memory.
TEST(FotMemory, FlushAtOverflowKeepsEveryTokensKeysAndValuesOnce) {
  const LlamaConfig c = small_config(2);
  Llama model(c, 8);
  fot::MemoryCache cache(model, {{1}, 4, 0, 0, {}});
  const std::vector<int32_t> ids = row(random_ids(1, 11, c.vocab_size, 5), 0);
  std::vector<float> expected_memory;  // every layer-1 key, in order, when it was local
  for (size_t n = 0; n < ids.size(); ++n) {
    const int64_t before = cache.local_tokens();
    std::vector<float> local_keys;
    if (before > 0) local_keys = cache.local(1).k.value().to_vector();
    cache.extend_local({ids[n]});
    if (before == 4) {  // flushed: the old local cache is now the memory's tail
      expected_memory.insert(expected_memory.end(), local_keys.begin(), local_keys.end());
      EXPECT_EQ(cache.local_tokens(), 1);
      EXPECT_EQ(cache.memory(1).k.value().to_vector(), expected_memory);
      EXPECT_FALSE(cache.memory(0).k.defined());  // other layers drop it
    }
    EXPECT_EQ(cache.memory_tokens(1) + cache.local_tokens(), static_cast<int64_t>(n + 1));
  }
  EXPECT_EQ(cache.memory_tokens(1), 8);
  // Each of the 11 tokens' keys appears once in memory ++ local (no copy, no loss).
  std::vector<float> all = cache.memory(1).k.value().to_vector();
  const std::vector<float> local = cache.local(1).k.value().to_vector();
  all.insert(all.end(), local.begin(), local.end());
  const size_t width = static_cast<size_t>(c.n_kv_heads * c.head_dim());
  ASSERT_EQ(all.size(), ids.size() * width);
  std::set<std::vector<float>> distinct;
  for (size_t t = 0; t < ids.size(); ++t)
    distinct.insert(std::vector<float>(all.begin() + t * width, all.begin() + (t + 1) * width));
  EXPECT_EQ(distinct.size(), ids.size());
}

TEST(FotMemory, TopKWithKAtLeastTheMemoryIsDenseAttention) {
  Llama model(small_config(3), 4);
  const std::vector<int32_t> ids = row(random_ids(1, 18, 48, 6), 0);
  fot::MemoryCache dense(model, {{1, 2}, 4, 2, 0, {}});
  fot::MemoryCache exact(model, {{1, 2}, 4, 2, 16, {}});  // 16 memory tokens, k = 16
  fot::MemoryCache small(model, {{1, 2}, 4, 2, 1, {}});
  const std::vector<float> d = dense.prefill(ids), e = exact.prefill(ids), s = small.prefill(ids);
  double diff_small = 0;
  for (size_t j = 0; j < d.size(); ++j) {
    ASSERT_NEAR(e[j], d[j], 1e-5) << j;
    diff_small = std::max(diff_small, static_cast<double>(std::abs(s[j] - d[j])));
  }
  EXPECT_GT(diff_small, 1e-4);  // k = 1 does change the answer
  // And through generation, where the local cache flushes into memory (20 tokens then).
  fot::MemoryCache large(model, {{1, 2}, 4, 2, 20, {}});
  EXPECT_EQ(dense.greedy(d, 6), large.greedy(large.prefill(ids), 6));
  EXPECT_EQ(dense.memory_tokens(1), 20);
}

TEST(FotMemory, TopKIndicesAndAttentionReference) {
  const std::vector<float> sc = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
  EXPECT_EQ(eval::top_k_indices(sc.data(), 5, 3), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(eval::top_k_indices(sc.data(), 5, 9).size(), 5u);
  // One query, one head, memory of 3 keys, k = 1: the output is a softmax over the best
  // memory key and the local key only.
  const Tensor q = Tensor::from_f32({1, 0}, {1, 1, 1, 2});
  const Tensor k = Tensor::from_f32({0.1f, 0, 3, 0, 2, 0, 1, 0}, {1, 4, 1, 2});
  const Tensor v = Tensor::from_f32({10, 0, 20, 0, 30, 0, 40, 0}, {1, 4, 1, 2});
  const std::vector<float> o =
      eval::topk_memory_attention(q, k, v, Tensor(), 3, 1, 1.0f).to_vector();
  const double w3 = std::exp(3.0), w1 = std::exp(1.0);
  EXPECT_NEAR(o[0], (20 * w3 + 40 * w1) / (w3 + w1), 1e-4);
  EXPECT_NE(error_of([&] {
              eval::topk_memory_attention(q, k, v, Tensor(), 3, 0, 1.0f);
            }).find("k must be positive"),
            std::string::npos);
}

TEST(FotMemory, ChunkedAttentionIsTheEnginesAttention) {
  // Grouped-query heads, causal and masked, chunks smaller than, not dividing, and
  // larger than the keys.
  const int64_t B = 2, T = 5, S = 13, H = 4, Hkv = 2, Dh = 8;
  const Tensor q = testing::randn({B, T, H, Dh}, 1);
  const Tensor k = testing::randn({B, S, Hkv, Dh}, 2);
  const Tensor v = testing::randn({B, S, Hkv, Dh}, 3);
  std::vector<uint8_t> m(static_cast<size_t>(B * T * S));
  for (size_t i = 0; i < m.size(); ++i) m[i] = (i * 7 + i / 5) % 3 != 0;
  for (int64_t j = 0; j < S; ++j) m[static_cast<size_t>(T * S + 2 * S + j)] = 0;  // no key
  const Tensor mask = Tensor::from_u8(m, {B, T, S});
  Tape no_grad(false);
  for (const Tensor& mk : {Tensor(), mask}) {
    const std::vector<float> ref =
        ops::attention(no_grad, Var(q), Var(k), Var(v), mk, 0.3f).value().to_vector();
    for (int64_t chunk : {1, 4, 13, 50}) {
      const std::vector<float> got = eval::chunked_attention(q, k, v, mk, chunk, 0.3f).to_vector();
      ASSERT_EQ(got.size(), ref.size());
      for (size_t j = 0; j < ref.size(); ++j)
        ASSERT_NEAR(got[j], ref[j], 1e-5) << "chunk " << chunk << " element " << j;
    }
  }
}

TEST(FotMemory, ChunkedAndBf16MemoriesMatchTheDenseOne) {
  Llama model(small_config(3), 4);
  const std::vector<int32_t> ids = row(random_ids(1, 26, 48, 6), 0);
  fot::MemoryOptions dense{{1, 2}, 4, 2, 0, {}};
  fot::MemoryOptions chunked = dense, half = dense;
  chunked.memory_chunk = 3;
  half.memory_dtype = DType::bf16;
  fot::MemoryCache a(model, dense), b(model, chunked), c(model, half);
  const std::vector<float> la = a.prefill(ids), lb = b.prefill(ids), lc = c.prefill(ids);
  double bf16_diff = 0;
  for (size_t j = 0; j < la.size(); ++j) {
    ASSERT_NEAR(lb[j], la[j], 1e-5) << j;
    bf16_diff = std::max(bf16_diff, static_cast<double>(std::abs(lc[j] - la[j])));
  }
  // bf16 keeps 8 bits of mantissa: near, not equal, and half the bytes.
  EXPECT_LT(bf16_diff, 5e-2);
  EXPECT_GT(bf16_diff, 0.0);
  EXPECT_EQ(c.memory(1).k.value().dtype(), DType::bf16);
  EXPECT_EQ(2 * c.memory(1).k.value().nbytes(), a.memory(1).k.value().nbytes());
  EXPECT_EQ(a.greedy(la, 6), b.greedy(lb, 6));
}

TEST(FotMemory, BadOptionsAreOneLineErrors) {
  Llama model(small_config(2), 1);
  EXPECT_NE(error_of([&] {
              fot::MemoryCache(model, {{2}, 4, 0, 0, {}});
            }).find("memory layer 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              fot::MemoryCache(model, {{1}, 4, 5, 0, {}});
            }).find("last_context"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              fot::MemoryCache(model, {{1}, 4, 0, -1, {}});
            }).find("knn"),
            std::string::npos);
}

// Documents of the given lengths, random ids in [3, 48) (the small model's vocabulary)
// under tok512's metadata.
data::TokenDataset random_documents(const testing::TempDir& dir,
                                    const std::vector<int64_t>& lengths) {
  data::TokenDatasetContents c;
  c.info.kind = "text";
  c.info.tokenizer_sha256 = testing::tok512().sha256();
  c.info.vocab_size = 512;
  std::mt19937 g(5);
  std::uniform_int_distribution<int32_t> d(3, 47);
  for (int64_t n : lengths) {
    for (int64_t i = 0; i < n; ++i) c.tokens.push_back(d(g));
    c.offsets.push_back(static_cast<int64_t>(c.tokens.size()));
  }
  data::write_token_dataset(dir.file("docs.h5"), c);
  return data::TokenDataset::open(dir.file("docs.h5"), testing::tok512());
}

// Mean NLL of tokens 2..T of `ids` from the plain forward pass's logits (log-softmax
// in double): the reference of the task at M = 0.
double direct_nll(const Llama& model, std::span<const int32_t> ids) {
  const auto T = static_cast<int64_t>(ids.size());
  const int64_t V = model.config().vocab_size;
  Tape no_grad(false);
  const std::vector<float> logits =
      model
          .forward(no_grad, ForwardArgs::tokens(Tensor::from_i32({ids.begin(), ids.end()}, {1, T})))
          .value()
          .to_vector();
  double sum = 0;
  for (int64_t t = 0; t + 1 < T; ++t) {
    const float* row = logits.data() + t * V;
    double z = 0;
    const float top = *std::max_element(row, row + V);
    for (int64_t v = 0; v < V; ++v) z += std::exp(static_cast<double>(row[v]) - top);
    sum += std::log(z) + top - row[ids[t + 1]];
  }
  return sum / static_cast<double>(T - 1);
}

TEST(FotBooksPerplexity, NoMemoryIsTheTargetWindowsOwnNll) {
  testing::TempDir dir;
  const data::TokenDataset docs = random_documents(dir, {30, 7, 26});
  Llama model(small_config(2), 13);
  const int64_t C = 4;
  // Windows of (2 + 1) x 4 tokens: 2 of the first document, 2 of the third.
  const auto windows = fot::books_windows(docs, {0, 2}, C);
  ASSERT_EQ(windows->size(), 4);
  const fot::BooksPerplexity s =
      fot::books_perplexity(model, {{1}, C, 0, 0, {}}, *windows, {0, 2}, 3);
  EXPECT_EQ(s.windows, 3);
  EXPECT_EQ(s.predictions, 3 * (C - 1));
  ASSERT_EQ(s.memories.size(), 2u);
  EXPECT_EQ(s.memories[0].memory, 0);
  EXPECT_EQ(s.memories[1].memory, 2 * C);
  double expected = 0;
  for (int64_t w = 0; w < 3; ++w) expected += direct_nll(model, windows->window(w).subspan(2 * C));
  EXPECT_NEAR(s.memories[0].nll, expected / 3, 1e-5);
}

// A memory layer reads the 2C tokens before the target; a model without one sees only
// the target window, whatever the memory size.
TEST(FotBooksPerplexity, MemoryChangesTheNllOnlyWithAMemoryLayer) {
  testing::TempDir dir;
  const data::TokenDataset docs = random_documents(dir, {40});
  Llama model(small_config(2), 17);
  const auto windows = fot::books_windows(docs, {0, 2}, 4);
  const fot::BooksPerplexity with =
      fot::books_perplexity(model, {{1}, 4, 0, 0, {}}, *windows, {0, 2}, 2);
  EXPECT_GT(std::abs(with.memories[1].nll - with.memories[0].nll), 1e-3);
  const fot::BooksPerplexity without =
      fot::books_perplexity(model, {{}, 4, 0, 0, {}}, *windows, {0, 2}, 2);
  EXPECT_NEAR(without.memories[1].nll, without.memories[0].nll, 1e-6);
  EXPECT_NEAR(without.memories[0].nll, with.memories[0].nll, 1e-6);
}

TEST(FotBooksPerplexity, BadInputIsAOneLineError) {
  testing::TempDir dir;
  const data::TokenDataset docs = random_documents(dir, {20, 11});
  Llama model(small_config(2), 1);
  const auto windows = fot::books_windows(docs, {0, 2}, 4);
  EXPECT_EQ(error_of([&] {
              fot::books_perplexity(model, {{1}, 4, 0, 0, {}}, *windows, {0, 2}, 0);
            }),
            "fot: --fot.ppl_windows must be at least 1, got 0");
  const std::string none = error_of([&] { fot::books_windows(docs, {0, 8}, 4); });
  EXPECT_NE(none.find("no document of"), std::string::npos) << none;
  EXPECT_NE(none.find("36 tokens"), std::string::npos) << none;
  EXPECT_NE(none.find("its longest has 20"), std::string::npos) << none;
  EXPECT_EQ(none.find('\n'), std::string::npos) << none;
}

}  // namespace
}  // namespace condense
