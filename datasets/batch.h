// A batch of next-token-prediction rows, as the loaders hand it to training/eval.
#pragma once
#include <cstdint>
#include <vector>

#include "core/model.h"

namespace condense::data {

// rows × T inputs and targets, row-major; targets[r][t] is the token after inputs[r][t].
// Targets equal to `ignore_index` (padding) carry no loss. Methods whose rows are
// not plain causal text (gist tokens: left padding, a block mask) add positions
// and an attention mask; empty means 0..T-1 and causal.
struct TokenBatch {
  int64_t rows = 0;
  int64_t T = 0;
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;
  std::vector<int32_t> positions;  // rows × T RoPE positions, or empty
  std::vector<uint8_t> mask;       // rows × T × T (1 = may attend), or empty
};

// Rows [begin, end) of a batch, with their positions and mask.
TokenBatch rows_of(const TokenBatch& b, int64_t begin, int64_t end);

// A batch as the model takes it: ForwardArgs (ids, and pos / mask when the batch has
// them) and the targets, on `device`.
struct BatchTensors {
  ForwardArgs args;
  Tensor targets;
};
BatchTensors to_tensors(const TokenBatch& b, Device device);

// Rows [r * B / world, (r + 1) * B / world) of a global batch of B rows: the share of
// data-parallel rank r, so that the global batch is the same for any world size.
inline int64_t shard_begin(int64_t B, int rank, int world) {
  return B * rank / world;
}
inline int64_t shard_end(int64_t B, int rank, int world) {
  return B * (rank + 1) / world;
}

}  // namespace condense::data
