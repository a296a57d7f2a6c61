// Shared by the multi-rank tests: the layout under test and small helpers.
#pragma once
#include <mpi.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/tensor.h"
#include "datasets/batch.h"

namespace condense::testing {

// Set from the test binary's arguments (tests/mpi/CMakeLists.txt).
struct Layout {
  int tp = 1, pp = 1, micro_batches = 1;
  bool zero1 = false, tied = false;
};
Layout& layout();

inline int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

inline int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

// ||a - b|| / ||b|| over all elements (0 when both are zero).
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    ref += static_cast<double>(b[i]) * b[i];
  }
  if (a.size() != b.size()) return INFINITY;
  return ref == 0 ? std::sqrt(diff) : std::sqrt(diff / ref);
}

// A global batch of random tokens, the same on every rank for the same seed.
inline data::TokenBatch random_batch(int64_t rows, int64_t T, int64_t vocab, uint64_t seed) {
  std::mt19937 gen(static_cast<uint32_t>(seed));
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(vocab - 1));
  data::TokenBatch b;
  b.rows = rows;
  b.T = T;
  for (int64_t i = 0; i < rows * T; ++i) b.inputs.push_back(tok(gen));
  for (int64_t i = 0; i < rows * T; ++i) b.targets.push_back(tok(gen));
  return b;
}

using data::rows_of;

}  // namespace condense::testing
