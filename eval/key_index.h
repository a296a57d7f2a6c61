// A searchable set of key vectors (one attention head's retrieval memory) answering
// "the k keys with the largest inner product with this query": the approximate side of
// kNN memory attention (eval/topk_attention.h holds the exact scan, the reference).
// Backed by FAISS: `faiss-flat` (IndexFlatIP, exact, so it must agree with the scan)
// and `faiss-hnsw` (IndexHNSWFlat on inner product, approximate, for memories of
// 10^5–10^6 tokens where a scan per query is the cost).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace condense::eval {

struct KeyIndexOptions {
  std::string kind = "exact";  // exact (no index: the scan) | faiss-flat | faiss-hnsw
  int64_t hnsw_m = 32;         // graph degree of faiss-hnsw
  int64_t hnsw_ef = 128;       // search breadth of faiss-hnsw (raised to k when smaller)
};

// Throws (one line naming `option`) on an unknown kind or non-positive HNSW settings.
void check_key_index_options(const KeyIndexOptions& o, const std::string& option);

class KeyIndex {
 public:
  virtual ~KeyIndex() = default;
  // Appends n keys of `dim` floats each (row-major); they get ids size()..size()+n−1.
  virtual void add(const float* keys, int64_t n) = 0;
  // For each of nq queries, the ids of its k best keys, best first, into ids[nq*k];
  // −1 where the index holds fewer than k keys.
  virtual void search(const float* queries, int64_t nq, int64_t k, int64_t* ids) const = 0;
  virtual int64_t size() const = 0;
};

// A FAISS index of `dim`-float keys; o.kind must not be "exact".
std::unique_ptr<KeyIndex> make_key_index(const KeyIndexOptions& o, int64_t dim);

}  // namespace condense::eval
