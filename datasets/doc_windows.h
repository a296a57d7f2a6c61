// Fixed-length windows of long documents, for training and evaluating on long
// contexts (AutoCompressor segments, FoT memory) without mixing documents.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "datasets/batch.h"

namespace condense::data {

class TokenDataset;

// Each record cut into non-overlapping windows of `length` tokens from its start; a
// tail shorter than `length` is dropped, so no window crosses a document boundary.
// With cross_documents = true the windows tile the whole stream instead (records back
// to back), so every token but the final partial window is used.
class DocumentWindows {
 public:
  DocumentWindows(const TokenDataset& dataset, int64_t length, bool cross_documents = false);
  int64_t size() const { return static_cast<int64_t>(starts_.size()); }
  int64_t length() const { return length_; }
  std::span<const int32_t> window(int64_t i) const;
  // The record window i lies in; -1 when windows cross documents.
  int64_t record_of(int64_t i) const;

 private:
  std::shared_ptr<const std::vector<int32_t>> tokens_;
  int64_t length_;
  std::vector<int64_t> starts_;
  std::vector<int64_t> records_;
};

// Batches of B windows (inputs = window[:length-1], targets = window[1:]) in a seeded
// random order that is reshuffled every epoch (epoch e uses seed + e). Sharded and
// resumable like PackedLoader: position() counts windows handed out globally.
// `windows` must outlive the sampler.
class WindowSampler {
 public:
  WindowSampler(const DocumentWindows& windows, int64_t batch_size, uint64_t seed, int rank = 0,
                int world = 1);

  TokenBatch next();
  int64_t position() const { return position_; }
  void set_position(int64_t position);

 private:
  // Window at global position p: the permutation of epoch p / size.
  int64_t window_at(int64_t p);

  const DocumentWindows& windows_;
  int64_t batch_size_;
  uint64_t seed_;
  int rank_, world_;
  int64_t position_ = 0;
  int64_t order_epoch_ = -1;
  std::vector<int64_t> order_;
};

}  // namespace condense::data
