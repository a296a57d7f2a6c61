// A batch of next-token-prediction rows, as the loaders hand it to training/eval.
#pragma once
#include <cstdint>
#include <vector>

namespace condense::data {

// rows × T inputs and targets, row-major; targets[r][t] is the token after inputs[r][t].
// Targets equal to `ignore_index` (padding) carry no loss.
struct TokenBatch {
  int64_t rows = 0;
  int64_t T = 0;
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;
};

// Rows [r * B / world, (r + 1) * B / world) of a global batch of B rows: the share of
// data-parallel rank r, so that the global batch is the same for any world size.
inline int64_t shard_begin(int64_t B, int rank, int world) {
  return B * rank / world;
}
inline int64_t shard_end(int64_t B, int rank, int world) {
  return B * (rank + 1) / world;
}

}  // namespace condense::data
