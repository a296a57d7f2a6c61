#include "eval/key_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace condense::eval {

void check_key_index_options(const KeyIndexOptions& o, const std::string& option) {
  if (o.kind != "exact" && o.kind != "faiss-flat" && o.kind != "faiss-hnsw")
    fail(option, " must be exact, faiss-flat or faiss-hnsw, not '", o.kind, "'");
  if (o.hnsw_m <= 0 || o.hnsw_ef <= 0)
    fail(option, ": the HNSW degree and search breadth must be positive, got ", o.hnsw_m, " and ",
         o.hnsw_ef);
}

namespace {

class FaissKeyIndex final : public KeyIndex {
 public:
  FaissKeyIndex(const KeyIndexOptions& o, int64_t dim) : hnsw_ef_(o.hnsw_ef) {
    const int d = static_cast<int>(dim);
    if (o.kind == "faiss-flat")
      index_ = std::make_unique<faiss::IndexFlatIP>(d);
    else if (o.kind == "faiss-hnsw")
      index_ = std::make_unique<faiss::IndexHNSWFlat>(d, static_cast<int>(o.hnsw_m),
                                                      faiss::METRIC_INNER_PRODUCT);
    else
      fail("key index: '", o.kind, "' is not a FAISS index");
  }

  void add(const float* keys, int64_t n) override { index_->add(n, keys); }

  void search(const float* queries, int64_t nq, int64_t k, int64_t* ids) const override {
    std::vector<float> scores(static_cast<size_t>(nq * k));
    std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(nq * k));
    faiss::SearchParametersHNSW hnsw;
    hnsw.efSearch = static_cast<int>(std::max(hnsw_ef_, k));
    const bool is_hnsw = dynamic_cast<const faiss::IndexHNSW*>(index_.get()) != nullptr;
    index_->search(nq, queries, k, scores.data(), labels.data(), is_hnsw ? &hnsw : nullptr);
    std::copy(labels.begin(), labels.end(), ids);
  }

  int64_t size() const override { return index_->ntotal; }

 private:
  std::unique_ptr<faiss::Index> index_;
  int64_t hnsw_ef_;
};

}  // namespace

std::unique_ptr<KeyIndex> make_key_index(const KeyIndexOptions& o, int64_t dim) {
  check_key_index_options(o, "key index");
  if (dim <= 0) fail("key index: the key size must be positive, got ", dim);
  return std::make_unique<FaissKeyIndex>(o, dim);
}

}  // namespace condense::eval
