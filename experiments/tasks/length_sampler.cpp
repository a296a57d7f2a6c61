#include "experiments/tasks/length_sampler.h"

#include <algorithm>
#include <random>

#include "core/error.h"

namespace condense::instruct {

BatchSampler::BatchSampler(std::vector<int64_t> items, std::vector<int64_t> lengths,
                           int64_t batch_size, uint64_t seed, int64_t group)
    : items_(std::move(items)),
      lengths_(std::move(lengths)),
      batch_size_(batch_size),
      group_(std::max<int64_t>(1, group)),
      per_epoch_(batch_size > 0 ? static_cast<int64_t>(items_.size()) / batch_size : 0),
      seed_(seed) {
  if (items_.size() != lengths_.size()) fail("BatchSampler: items and lengths differ in size");
  if (per_epoch_ == 0)
    fail("train: ", items_.size(), " training examples are fewer than one batch of ", batch_size);
}

void BatchSampler::build_epoch(int64_t epoch) {
  std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch));
  std::vector<size_t> order(items_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  order.resize(static_cast<size_t>(per_epoch_ * batch_size_));  // the remainder waits an epoch
  const size_t chunk = static_cast<size_t>(group_ * batch_size_);
  for (size_t c = 0; c < order.size(); c += chunk) {
    const auto end = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), c + chunk));
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(c), end,
                     [&](size_t a, size_t b) { return lengths_[a] > lengths_[b]; });
  }
  epoch_batches_.assign(static_cast<size_t>(per_epoch_), {});
  for (int64_t b = 0; b < per_epoch_; ++b)
    for (int64_t r = 0; r < batch_size_; ++r)
      epoch_batches_[b].push_back(items_[order[static_cast<size_t>(b * batch_size_ + r)]]);
  std::shuffle(epoch_batches_.begin(), epoch_batches_.end(), rng);
  built_epoch_ = epoch;
}

std::vector<int64_t> BatchSampler::next() {
  const int64_t epoch = position_ / per_epoch_;
  if (epoch != built_epoch_) build_epoch(epoch);
  return epoch_batches_[static_cast<size_t>(position_++ % per_epoch_)];
}

}  // namespace condense::instruct
