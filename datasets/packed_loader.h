// The training loader: a dataset's records as one endless stream of tokens.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "datasets/batch.h"

namespace condense::data {

class TokenDataset;

// Record after record, wrapping around at the end (the next epoch), cut into
// non-overlapping windows of T+1 tokens; a global batch is the next B windows, row
// b = stream[pos + b(T+1), pos + (b+1)(T+1)), inputs = window[:T], targets =
// window[1:]. Rank r of `world` gets rows [rB/world, (r+1)B/world), so the global
// batch does not depend on the world size (ranks' shares differ by at most a row
// when B is not a multiple of world). position() is the global token cursor:
// a loader built with set_position(p) reads exactly the batches that followed p.
class PackedLoader {
 public:
  PackedLoader(const TokenDataset& dataset, int64_t batch_size, int64_t seq_len, int rank = 0,
               int world = 1);

  TokenBatch next();
  int64_t position() const { return position_; }
  void set_position(int64_t position);
  // Tokens one global batch consumes: B (T+1).
  int64_t tokens_per_batch() const { return batch_size_ * (seq_len_ + 1); }
  int64_t epoch() const;

 private:
  std::shared_ptr<const std::vector<int32_t>> tokens_;
  int64_t batch_size_, seq_len_;
  int rank_, world_;
  int64_t position_ = 0;
};

}  // namespace condense::data
