// The perplexity of held-out books against memory size (FoT, Tworkowski et al.,
// NeurIPS'23: the small models' table): windows of held-out documents end in a target
// window of C tokens (the local context); for each memory size M (a multiple of C) a
// fresh memory cache reads the M tokens before the target as M / C pushed windows, then
// the target window is pushed and scored: the mean NLL of its tokens 2..C, each
// predicted inside the target window. M = 0 is the target window alone. Every M scores
// the same targets: a window holds the largest memory and the target.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/model.h"
#include "datasets/doc_windows.h"
#include "experiments/methods/fot/memory_cache.h"

namespace condense::data {
class TokenDataset;
}

namespace condense::fot {

struct MemoryPerplexity {
  int64_t memory = 0;  // tokens of memory before the target window
  double nll = 0;      // mean per prediction
};

struct BooksPerplexity {
  int64_t windows = 0;
  int64_t predictions = 0;  // per memory size: windows × (C - 1)
  std::vector<MemoryPerplexity> memories;
};

// Windows of (max(multiples) + 1) × C tokens of `set`'s documents (none crosses a
// document); a one-line error when no document is that long.
std::unique_ptr<data::DocumentWindows> books_windows(const data::TokenDataset& set,
                                                     const std::vector<int64_t>& multiples,
                                                     int64_t context);

// The first min(n, windows.size()) windows scored at memory sizes multiples × C, C =
// memory.window. Throws (one line) on n < 1, an empty or negative multiple list, or
// windows of another length.
BooksPerplexity books_perplexity(const Llama& model, const MemoryOptions& memory,
                                 const data::DocumentWindows& windows,
                                 const std::vector<int64_t>& multiples, int64_t n);

}  // namespace condense::fot
