// kNN memory through a FAISS key index (eval/key_index.h): the exact FAISS index finds
// the same top k as our scan, an FoT memory cache searching it gives the scan's logits,
// and HNSW finds most of the true neighbours on a memory it was built incrementally on.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "eval/key_index.h"
#include "eval/topk_attention.h"
#include "experiments/methods/fot/memory_cache.h"
#include "model_test_util.h"

namespace condense {
namespace {

using testing::error_of;
using testing::random_ids;
using testing::small_config;

std::vector<float> gaussian(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = g(rng);
  return x;
}

// The scan's top k of one query over n keys of dim floats.
std::vector<int64_t> scan_top_k(const float* q, const std::vector<float>& keys, int64_t dim,
                                int64_t k) {
  const int64_t n = static_cast<int64_t>(keys.size()) / dim;
  std::vector<float> sc(static_cast<size_t>(n));
  for (int64_t s = 0; s < n; ++s) {
    double dot = 0;
    for (int64_t d = 0; d < dim; ++d) dot += static_cast<double>(q[d]) * keys[s * dim + d];
    sc[static_cast<size_t>(s)] = static_cast<float>(dot);
  }
  return eval::top_k_indices(sc.data(), n, k);
}

TEST(FotKeyIndex, FaissFlatFindsTheScansTopK) {
  const int64_t dim = 16, n = 500, nq = 40, k = 12;
  const std::vector<float> keys = gaussian(n * dim, 1), queries = gaussian(nq * dim, 2);
  auto index = eval::make_key_index({"faiss-flat", 32, 128}, dim);
  index->add(keys.data(), 200);  // added in two parts, as a memory grows
  index->add(keys.data() + 200 * dim, n - 200);
  ASSERT_EQ(index->size(), n);
  std::vector<int64_t> ids(static_cast<size_t>(nq * k));
  index->search(queries.data(), nq, k, ids.data());
  for (int64_t i = 0; i < nq; ++i)
    EXPECT_EQ(std::vector<int64_t>(ids.begin() + i * k, ids.begin() + (i + 1) * k),
              scan_top_k(queries.data() + i * dim, keys, dim, k))
        << "query " << i;
  // Fewer keys than k: the rest are -1.
  auto few = eval::make_key_index({"faiss-flat", 32, 128}, dim);
  few->add(keys.data(), 3);
  std::vector<int64_t> got(5);
  few->search(queries.data(), 1, 5, got.data());
  EXPECT_EQ(std::count(got.begin(), got.end(), -1), 2);
}

TEST(FotKeyIndex, HnswFindsMostTrueNeighbours) {
  const int64_t dim = 16, n = 4000, nq = 50, k = 10;
  const std::vector<float> keys = gaussian(n * dim, 3), queries = gaussian(nq * dim, 4);
  auto index = eval::make_key_index({"faiss-hnsw", 16, 64}, dim);
  for (int64_t b = 0; b < n; b += 500) index->add(keys.data() + b * dim, 500);
  std::vector<int64_t> ids(static_cast<size_t>(nq * k));
  index->search(queries.data(), nq, k, ids.data());
  int64_t hits = 0;
  for (int64_t i = 0; i < nq; ++i) {
    const std::vector<int64_t> truth = scan_top_k(queries.data() + i * dim, keys, dim, k);
    for (int64_t j = 0; j < k; ++j)
      hits += std::count(truth.begin(), truth.end(), ids[static_cast<size_t>(i * k + j)]);
  }
  // Recall@10 of HNSW (M 16, ef 64) on 4000 Gaussian keys is ~0.95; a broken graph or
  // id mapping gives ~k/n.
  EXPECT_GT(static_cast<double>(hits) / (nq * k), 0.8);
}

TEST(FotKeyIndex, MemoryCacheWithFaissFlatEqualsTheScan) {
  Llama model(small_config(3), 4);
  const std::vector<int32_t> all = random_ids(1, 30, 48, 9).to_i32_vector();
  fot::MemoryOptions scan{{1, 2}, 4, 2, 3, {}};
  fot::MemoryOptions faiss = scan;
  faiss.index.kind = "faiss-flat";
  fot::MemoryCache a(model, scan), b(model, faiss);
  const std::vector<float> la = a.prefill(all), lb = b.prefill(all);
  for (size_t j = 0; j < la.size(); ++j) ASSERT_NEAR(la[j], lb[j], 1e-5) << j;
  // Through generation too, where flushes add to the index.
  EXPECT_EQ(a.greedy(la, 8), b.greedy(lb, 8));
  EXPECT_EQ(a.memory_tokens(1), b.memory_tokens(1));
}

TEST(FotKeyIndex, BadOptionsAreOneLineErrors) {
  EXPECT_NE(error_of([] {
              eval::check_key_index_options({"annoy", 32, 128}, "--fot.knn_index");
            }).find("--fot.knn_index must be exact, faiss-flat or faiss-hnsw, not 'annoy'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              eval::check_key_index_options({"faiss-hnsw", 0, 128}, "--fot.knn_index");
            }).find("must be positive"),
            std::string::npos);
  // An index that does not hold the memory it is meant to search is refused.
  auto index = eval::make_key_index({"faiss-flat", 32, 128}, 2);
  const std::vector<const eval::KeyIndex*> heads = {index.get()};
  const Tensor q = Tensor::from_f32({1, 0}, {1, 1, 1, 2});
  const Tensor kv = Tensor::from_f32({1, 0, 2, 0}, {1, 2, 1, 2});
  EXPECT_NE(error_of([&] {
              eval::topk_memory_attention(q, kv, kv, Tensor(), 1, 1, 1.0f, &heads);
            }).find("a key index holds 0 keys, the memory 1"),
            std::string::npos);
}

}  // namespace
}  // namespace condense
