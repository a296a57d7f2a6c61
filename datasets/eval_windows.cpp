#include "datasets/eval_windows.h"

#include "core/error.h"
#include "datasets/token_dataset.h"

namespace condense::data {

EvalWindows::EvalWindows(const TokenDataset& dataset, int64_t seq_len, int32_t ignore_index,
                         int32_t pad_id)
    : tokens_(dataset.shared_tokens()),
      seq_len_(seq_len),
      ignore_index_(ignore_index),
      pad_id_(pad_id) {
  if (seq_len < 1) fail("eval: sequence length must be positive, got ", seq_len);
  if (tokens_->size() < 2) fail(dataset.path(), ": fewer than 2 tokens, nothing to predict");
}

int64_t EvalWindows::num_windows() const {
  return (num_targets() + seq_len_ - 1) / seq_len_;
}

int64_t EvalWindows::num_batches(int64_t batch_size) const {
  if (batch_size < 1) fail("eval: batch size must be positive, got ", batch_size);
  return (num_windows() + batch_size - 1) / batch_size;
}

TokenBatch EvalWindows::batch(int64_t index, int64_t batch_size, int rank, int world) const {
  if (index < 0 || index >= num_batches(batch_size))
    fail("eval: batch ", index, " out of range (", num_batches(batch_size), " batches)");
  if (world < 1 || rank < 0 || rank >= world)
    fail("eval: rank ", rank, " is not in a world of ", world);
  const std::vector<int32_t>& tokens = *tokens_;
  const auto n = static_cast<int64_t>(tokens.size());
  const int64_t begin = shard_begin(batch_size, rank, world);
  const int64_t end = shard_end(batch_size, rank, world);
  TokenBatch b;
  b.rows = end - begin;
  b.T = seq_len_;
  b.inputs.assign(static_cast<size_t>(b.rows * seq_len_), pad_id_);
  b.targets.assign(b.inputs.size(), ignore_index_);
  for (int64_t r = begin; r < end; ++r) {
    const int64_t start = (index * batch_size + r) * seq_len_;
    for (int64_t t = 0; t < seq_len_ && start + t + 1 < n; ++t) {
      b.inputs[(r - begin) * seq_len_ + t] = tokens[start + t];
      b.targets[(r - begin) * seq_len_ + t] = tokens[start + t + 1];
    }
  }
  return b;
}

}  // namespace condense::data
