// Perplexity over a whole dataset, once.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "datasets/batch.h"

namespace condense::data {

class TokenDataset;

// The dataset's stream (records back to back) cut into windows of T+1 tokens that
// start every T tokens, so consecutive windows share one token and every token after
// the first is a target exactly once: N-1 targets in all. The last window is padded:
// its missing inputs are `pad_id` and its missing targets `ignore_index`. Batches of B
// windows are sharded over ranks like PackedLoader's; rows past the last window are
// all padding.
class EvalWindows {
 public:
  EvalWindows(const TokenDataset& dataset, int64_t seq_len, int32_t ignore_index = -100,
              int32_t pad_id = 0);

  int64_t num_windows() const;
  int64_t num_batches(int64_t batch_size) const;
  int64_t num_targets() const { return static_cast<int64_t>(tokens_->size()) - 1; }
  TokenBatch batch(int64_t index, int64_t batch_size, int rank = 0, int world = 1) const;

 private:
  std::shared_ptr<const std::vector<int32_t>> tokens_;
  int64_t seq_len_;
  int32_t ignore_index_, pad_id_;
};

}  // namespace condense::data
