#include "experiments/methods/fot/books_ppl.h"

#include <algorithm>

#include "core/error.h"
#include "core/ops.h"
#include "core/progress.h"
#include "datasets/token_dataset.h"

namespace condense::fot {
namespace {

constexpr int32_t kIgnoreIndex = -100;

int64_t largest(const std::vector<int64_t>& multiples) {
  if (multiples.empty()) fail("fot: books_ppl needs at least one memory size");
  for (int64_t m : multiples)
    if (m < 0) fail("fot: books_ppl memory sizes must be multiples ≥ 0 of C, got ", m);
  return *std::max_element(multiples.begin(), multiples.end());
}

// Summed NLL of the target window's tokens 2..T, each predicted by the one before it
// from the window's logits [1,T,V].
double summed_nll(const Tensor& logits, std::span<const int32_t> ids) {
  const auto T = static_cast<int64_t>(ids.size());
  std::vector<int32_t> targets(ids.size(), kIgnoreIndex);
  for (int64_t t = 0; t + 1 < T; ++t) targets[t] = ids[t + 1];
  const std::vector<float> losses =
      ops::cross_entropy_rows(logits, Tensor::from_i32(targets, {1, T}, logits.device()),
                              kIgnoreIndex)
          .to_vector();
  double sum = 0;
  for (int64_t t = 0; t + 1 < T; ++t) sum += losses[t];
  return sum;
}

}  // namespace

std::unique_ptr<data::DocumentWindows> books_windows(const data::TokenDataset& set,
                                                     const std::vector<int64_t>& multiples,
                                                     int64_t context) {
  const int64_t length = (largest(multiples) + 1) * context;
  int64_t longest = 0;
  const std::vector<int64_t>& off = set.offsets();
  for (size_t i = 0; i + 1 < off.size(); ++i) longest = std::max(longest, off[i + 1] - off[i]);
  if (longest < length)
    fail("fot: no document of ", set.path(), " has the ", length,
         " tokens a books_ppl window takes ((largest --fot.ppl_memory + 1) x C; its longest has ",
         longest, ")");
  return std::make_unique<data::DocumentWindows>(set, length);
}

BooksPerplexity books_perplexity(const Llama& model, const MemoryOptions& memory,
                                 const data::DocumentWindows& windows,
                                 const std::vector<int64_t>& multiples, int64_t n) {
  if (n < 1) fail("fot: --fot.ppl_windows must be at least 1, got ", n);
  const int64_t C = memory.window, top = largest(multiples);
  if (windows.length() != (top + 1) * C)
    fail("fot: books_ppl windows of ", windows.length(), " tokens, expected (", top, " + 1) x ", C);
  BooksPerplexity out;
  out.windows = std::min(n, windows.size());
  out.predictions = out.windows * (C - 1);
  for (int64_t m : multiples) out.memories.push_back({m * C, 0});
  Progress progress("books perplexity", out.windows, "windows");
  for (int64_t w = 0; w < out.windows; ++w) {
    const std::span<const int32_t> all = windows.window(w);
    const std::span<const int32_t> target = all.subspan(top * C);
    for (MemoryPerplexity& mp : out.memories) {
      MemoryCache cache(model, memory);
      for (int64_t start = top * C - mp.memory; start < top * C; start += C) {
        const std::span<const int32_t> ctx = all.subspan(start, C);
        cache.push_window({ctx.begin(), ctx.end()});
      }
      mp.nll += summed_nll(cache.push_window({target.begin(), target.end()}), target);
    }
    progress.advance(1);
  }
  for (MemoryPerplexity& mp : out.memories) mp.nll /= static_cast<double>(out.predictions);
  return out;
}

}  // namespace condense::fot
