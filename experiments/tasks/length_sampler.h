// Training order for variable-length examples. Each epoch is a fresh shuffle
// (seeded by seed and epoch), cut into chunks of `group` batches that are sorted by
// length, so a batch's rows have similar lengths and little padding (as Hugging
// Face's group_by_length does), and then the batches of the epoch are shuffled
// again. The order is a pure function of (seed, epoch): the number of batches
// served is all a checkpoint needs to store to resume exactly.
#pragma once
#include <cstdint>
#include <vector>

namespace condense::instruct {

class BatchSampler {
 public:
  // items: the example indices to draw from; lengths: their sequence lengths.
  BatchSampler(std::vector<int64_t> items, std::vector<int64_t> lengths, int64_t batch_size,
               uint64_t seed, int64_t group = 32);
  // The next batch of example indices (batch_size of them).
  std::vector<int64_t> next();
  int64_t position() const { return position_; }
  void set_position(int64_t batches_served) { position_ = batches_served; }
  int64_t batches_per_epoch() const { return per_epoch_; }

 private:
  void build_epoch(int64_t epoch);

  std::vector<int64_t> items_, lengths_;
  int64_t batch_size_, group_, per_epoch_;
  uint64_t seed_;
  int64_t position_ = 0;
  int64_t built_epoch_ = -1;
  std::vector<std::vector<int64_t>> epoch_batches_;
};

}  // namespace condense::instruct
