#include "datasets/doc_windows.h"

#include <numeric>
#include <random>

#include "core/error.h"
#include "datasets/token_dataset.h"
#include "datasets/uniform.h"

namespace condense::data {

DocumentWindows::DocumentWindows(const TokenDataset& dataset, int64_t length, bool cross_documents)
    : tokens_(dataset.shared_tokens()), length_(length) {
  if (length < 2) fail("windows: length must be at least 2, got ", length);
  if (cross_documents) {
    for (int64_t s = 0; s + length <= dataset.num_tokens(); s += length) starts_.push_back(s);
    records_.assign(starts_.size(), -1);
  } else {
    const std::vector<int64_t>& off = dataset.offsets();
    for (int64_t r = 0; r < dataset.size(); ++r)
      for (int64_t s = off[r]; s + length <= off[r + 1]; s += length) {
        starts_.push_back(s);
        records_.push_back(r);
      }
  }
  if (starts_.empty())
    fail(dataset.path(), ": no ", cross_documents ? "" : "document ", "holds a window of ", length,
         " tokens");
}

std::span<const int32_t> DocumentWindows::window(int64_t i) const {
  if (i < 0 || i >= size()) fail("windows: window ", i, " out of range (", size(), ")");
  return std::span<const int32_t>(*tokens_).subspan(starts_[i], length_);
}

int64_t DocumentWindows::record_of(int64_t i) const {
  if (i < 0 || i >= size()) fail("windows: window ", i, " out of range (", size(), ")");
  return records_[i];
}

WindowSampler::WindowSampler(const DocumentWindows& windows, int64_t batch_size, uint64_t seed,
                             int rank, int world)
    : windows_(windows), batch_size_(batch_size), seed_(seed), rank_(rank), world_(world) {
  if (batch_size < 1) fail("sampler: batch size must be positive, got ", batch_size);
  if (world < 1 || rank < 0 || rank >= world)
    fail("sampler: rank ", rank, " is not in a world of ", world);
}

void WindowSampler::set_position(int64_t position) {
  if (position < 0) fail("sampler: negative position ", position);
  position_ = position;
}

int64_t WindowSampler::window_at(int64_t p) {
  const int64_t n = windows_.size();
  const int64_t epoch = p / n;
  if (epoch != order_epoch_) {
    order_.resize(static_cast<size_t>(n));
    std::iota(order_.begin(), order_.end(), int64_t{0});
    std::mt19937_64 rng(seed_ + static_cast<uint64_t>(epoch));
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order_[i], order_[uniform_below(rng, static_cast<uint64_t>(i) + 1)]);
    order_epoch_ = epoch;
  }
  return order_[p % n];
}

TokenBatch WindowSampler::next() {
  const int64_t T = windows_.length() - 1;
  const int64_t begin = shard_begin(batch_size_, rank_, world_);
  const int64_t end = shard_end(batch_size_, rank_, world_);
  TokenBatch b;
  b.rows = end - begin;
  b.T = T;
  b.inputs.resize(static_cast<size_t>(b.rows * T));
  b.targets.resize(b.inputs.size());
  for (int64_t r = begin; r < end; ++r) {
    const std::span<const int32_t> w = windows_.window(window_at(position_ + r));
    std::copy(w.begin(), w.end() - 1, b.inputs.begin() + (r - begin) * T);
    std::copy(w.begin() + 1, w.end(), b.targets.begin() + (r - begin) * T);
  }
  position_ += batch_size_;
  return b;
}

}  // namespace condense::data
