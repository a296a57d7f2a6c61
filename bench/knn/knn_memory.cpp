// Top-k retrieval from one head's FoT memory (eval/key_index.h): our exact scan (the
// reference: every memory key scored per query) against FAISS IndexFlatIP (exact, BLAS)
// and IndexHNSWFlat (approximate), on Gaussian keys of head size Dh. Prints, per memory
// size, the build time, the search time per query and HNSW's recall@k against the scan.
//
//   bench_knn_memory [--sizes 100000,1000000] [--dim 64] [--queries 256] [--k 128]
//                    [--hnsw_m 32] [--hnsw_ef 128] [--scan_queries 32]
//
// The scan is timed on --scan_queries queries (it is the slow one) and gives the
// ground truth for those; recall is measured on them.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/key_index.h"
#include "eval/topk_attention.h"

namespace condense {
namespace {

struct Args {
  std::vector<int64_t> sizes{100000, 1000000};
  int64_t dim = 64, queries = 256, k = 128, hnsw_m = 32, hnsw_ef = 128, scan_queries = 32;
};

std::vector<int64_t> parse_sizes(const std::string& s) {
  std::vector<int64_t> out;
  size_t at = 0;
  while (at <= s.size()) {
    const size_t comma = std::min(s.find(',', at), s.size());
    out.push_back(std::stoll(s.substr(at, comma - at)));
    at = comma + 1;
  }
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) fail("bench_knn_memory: ", k, " needs a value");
    const std::string v = argv[++i];
    if (k == "--sizes")
      a.sizes = parse_sizes(v);
    else if (k == "--dim")
      a.dim = std::stoll(v);
    else if (k == "--queries")
      a.queries = std::stoll(v);
    else if (k == "--k")
      a.k = std::stoll(v);
    else if (k == "--hnsw_m")
      a.hnsw_m = std::stoll(v);
    else if (k == "--hnsw_ef")
      a.hnsw_ef = std::stoll(v);
    else if (k == "--scan_queries")
      a.scan_queries = std::stoll(v);
    else
      fail("bench_knn_memory: unknown option ", k);
  }
  if (a.scan_queries > a.queries) fail("bench_knn_memory: --scan_queries exceeds --queries");
  return a;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int64_t> scan(const std::vector<float>& keys, const float* queries, int64_t nq,
                          int64_t dim, int64_t k) {
  const int64_t n = static_cast<int64_t>(keys.size()) / dim;
  std::vector<int64_t> ids;
  std::vector<float> sc(static_cast<size_t>(n));
  for (int64_t i = 0; i < nq; ++i) {
    const float* q = queries + i * dim;
    for (int64_t s = 0; s < n; ++s) {
      float dot = 0;
      for (int64_t d = 0; d < dim; ++d) dot += q[d] * keys[static_cast<size_t>(s * dim + d)];
      sc[static_cast<size_t>(s)] = dot;
    }
    const std::vector<int64_t> top = eval::top_k_indices(sc.data(), n, k);
    ids.insert(ids.end(), top.begin(), top.end());
  }
  return ids;
}

double recall(const std::vector<int64_t>& truth, const std::vector<int64_t>& got, int64_t nq,
              int64_t k) {
  int64_t hits = 0;
  for (int64_t i = 0; i < nq; ++i) {
    std::vector<int64_t> t(truth.begin() + i * k, truth.begin() + (i + 1) * k);
    std::sort(t.begin(), t.end());
    for (int64_t j = 0; j < k; ++j)
      hits += std::binary_search(t.begin(), t.end(), got[static_cast<size_t>(i * k + j)]);
  }
  return static_cast<double>(hits) / static_cast<double>(nq * k);
}

void run(const Args& a) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  std::vector<float> queries(static_cast<size_t>(a.queries * a.dim));
  for (float& v : queries) v = g(rng);
  std::printf("%10s %-10s %10s %14s %10s\n", "memory", "index", "build s", "ms per query",
              "recall@k");
  for (int64_t n : a.sizes) {
    std::vector<float> keys(static_cast<size_t>(n * a.dim));
    for (float& v : keys) v = g(rng);
    auto t0 = std::chrono::steady_clock::now();
    const std::vector<int64_t> truth = scan(keys, queries.data(), a.scan_queries, a.dim, a.k);
    std::printf("%10lld %-10s %10s %14.2f %10.3f\n", static_cast<long long>(n), "scan", "-",
                1e3 * seconds_since(t0) / static_cast<double>(a.scan_queries), 1.0);
    for (const char* kind : {"faiss-flat", "faiss-hnsw"}) {
      t0 = std::chrono::steady_clock::now();
      auto index = eval::make_key_index({kind, a.hnsw_m, a.hnsw_ef}, a.dim);
      // Added in windows of 4096, as a memory grows during a long input.
      for (int64_t b = 0; b < n; b += 4096)
        index->add(keys.data() + b * a.dim, std::min<int64_t>(4096, n - b));
      const double build = seconds_since(t0);
      std::vector<int64_t> ids(static_cast<size_t>(a.queries * a.k));
      t0 = std::chrono::steady_clock::now();
      index->search(queries.data(), a.queries, a.k, ids.data());
      const double per_query = 1e3 * seconds_since(t0) / static_cast<double>(a.queries);
      std::printf("%10lld %-10s %10.2f %14.3f %10.3f\n", static_cast<long long>(n), kind, build,
                  per_query, recall(truth, ids, a.scan_queries, a.k));
      std::fflush(stdout);
    }
  }
}

}  // namespace
}  // namespace condense

int main(int argc, char** argv) {
  try {
    condense::run(condense::parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
