#include "datasets/packed_loader.h"

#include "core/error.h"
#include "datasets/token_dataset.h"

namespace condense::data {

PackedLoader::PackedLoader(const TokenDataset& dataset, int64_t batch_size, int64_t seq_len,
                           int rank, int world)
    : tokens_(dataset.shared_tokens()),
      batch_size_(batch_size),
      seq_len_(seq_len),
      rank_(rank),
      world_(world) {
  if (tokens_->empty()) fail(dataset.path(), ": no tokens to load");
  if (batch_size < 1 || seq_len < 1)
    fail("loader: batch size (", batch_size, ") and sequence length (", seq_len,
         ") must be positive");
  if (world < 1 || rank < 0 || rank >= world)
    fail("loader: rank ", rank, " is not in a world of ", world);
}

void PackedLoader::set_position(int64_t position) {
  if (position < 0) fail("loader: negative position ", position);
  position_ = position;
}

int64_t PackedLoader::epoch() const {
  return position_ / static_cast<int64_t>(tokens_->size());
}

TokenBatch PackedLoader::next() {
  const std::vector<int32_t>& tokens = *tokens_;
  const auto n = static_cast<int64_t>(tokens.size());
  const int64_t begin = shard_begin(batch_size_, rank_, world_);
  const int64_t end = shard_end(batch_size_, rank_, world_);
  TokenBatch batch;
  batch.rows = end - begin;
  batch.T = seq_len_;
  batch.inputs.resize(static_cast<size_t>(batch.rows * seq_len_));
  batch.targets.resize(batch.inputs.size());
  for (int64_t r = begin; r < end; ++r) {
    const int64_t start = position_ + r * (seq_len_ + 1);
    int32_t* in = batch.inputs.data() + (r - begin) * seq_len_;
    int32_t* tg = batch.targets.data() + (r - begin) * seq_len_;
    for (int64_t t = 0; t < seq_len_; ++t) {
      in[t] = tokens[(start + t) % n];
      tg[t] = tokens[(start + t + 1) % n];
    }
  }
  position_ += tokens_per_batch();
  return batch;
}

}  // namespace condense::data
