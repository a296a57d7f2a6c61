// Last-segment perplexity (the AutoCompressor paper's number): windows of held-out
// documents end in a target segment of `target` tokens; the `context` tokens before
// it are read three ways, and the score is the NLL of the target's tokens 2..target,
// each predicted inside the target segment (the authors' per-segment metric: the
// predictions made from the segment's own positions):
// - compressed: the context read in segments of at most `segment` tokens (equal
//   splits), its σ as the target segment's soft prompt;
// - full: context ⊕ target as one plain causal sequence (full attention);
// - none: the target alone;
// - other context (a control, with a table and batches of 2 or more): the σ of another
//   window's context as the soft prompt.
// Every context budget scores the same targets: a window holds the largest context
// and the target, and a smaller context is the tokens right before the target.
#pragma once
#include <cstdint>
#include <vector>

#include "core/model.h"
#include "datasets/doc_windows.h"

namespace condense::autocompressor {

struct LastSegmentOptions {
  std::vector<int64_t> contexts{128, 256, 512};
  int64_t target = 128;
  int64_t segment = 128;
  int64_t windows = 32;  // the first ones of the data
  int64_t batch = 8;
  bool accumulate = true;
};

struct ContextScore {
  int64_t context = 0;
  double nll_full = 0, nll_compressed = 0;  // mean per prediction
  // The control: the target after the σ of the next window's context in its batch (the
  // last row's: the first's), a σ of the same size that carries none of this window's
  // context. What compressed gains over it is what σ carries of the context itself.
  double nll_other = 0;
  int64_t softprompt = 0;  // σ vectors the target read
};

struct LastSegmentScore {
  int64_t windows = 0;
  int64_t predictions = 0;        // per condition: windows × (target - 1)
  int64_t other_predictions = 0;  // the control's: a batch of one window has no other
  double nll_none = 0;
  std::vector<ContextScore> contexts;
};

// `windows` of max(contexts) + target tokens. `table` [κ,D], or undefined: no
// compressed condition (nll_compressed and nll_other stay 0).
LastSegmentScore score_last_segment(const Llama& model, const Tensor& table,
                                    const data::DocumentWindows& windows,
                                    const LastSegmentOptions& o);

// Rows of x [B,...] moved up by one: row b gets row b + 1, the last row the first (the
// control's σ: another window's).
Tensor rotate_rows(const Tensor& x);

// The equal split of `length` tokens into segments of at most `segment` tokens.
std::vector<int64_t> equal_segments(int64_t length, int64_t segment);

}  // namespace condense::autocompressor
