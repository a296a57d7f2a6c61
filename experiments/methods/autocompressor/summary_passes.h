// The AutoCompressor's forward passes. One segment is one pass over
//   [σ (m soft-prompt vectors)] ⊕ [the segment's L tokens] ⊕ [κ <Sum> vectors]
// with plain causal attention and RoPE positions 0 .. m+L+κ-1 (restarting every
// segment, σ first). σ and the <Sum> rows are input embeddings, not tokens: <Sum>
// row j is row j of the method's κ×D summary table. The final-norm hidden states
// at the <Sum> positions are the segment's summary vectors; fed unprojected as the
// next segment's σ, appended to it (accumulation, AutoCompressor) or in its place
// (RMT). Only the segment's tokens get logits.
#pragma once
#include <cstdint>
#include <vector>

#include "core/model.h"

namespace condense::autocompressor {

// The summary table's parameter name (AutoCompressor and RMT alike).
inline constexpr const char* kTableName = "autocompressor.embed_summary.weight";

struct SegmentOutput {
  Var hidden;   // [B,L,D] final-norm hidden states at the segment's tokens
  Var summary;  // [B,κ,D] at the <Sum> positions; undefined without a table
};

// One segment. ids [B,L] i32 (host); softprompt [B,m,D] or undefined (m = 0); table
// [κ,D] or undefined (no <Sum> positions). Gradients flow into both.
SegmentOutput segment_pass(Tape& tape, const Llama& model, const Tensor& ids, const Var& softprompt,
                           const Var& table, bool training = false);

// σ for the next segment: [softprompt ; summary] along the vectors (accumulate) or
// the summary alone.
Var next_softprompt(Tape& tape, const Var& softprompt, const Var& summary, bool accumulate);

struct ChainOutput {
  std::vector<Var> hidden;  // per segment [B,L_s,D]
  Var softprompt;           // σ after the last segment (undefined: none produced)
};

// Segments `lengths` of ids [B,N] one after another from `softprompt` (undefined:
// none), each passing σ on to the next on the same tape. The last segment gets <Sum>
// positions only with `summarize_last` (when its σ is wanted).
ChainOutput run_segments(Tape& tape, const Llama& model, const Var& table, const Tensor& ids,
                         const std::vector<int64_t>& lengths, const Var& softprompt,
                         bool accumulate, bool summarize_last, bool training = false);

// ---- inference (no gradients; tensors on the model's device)

// Explicit compression: σ after reading ids [B,N] in segments `lengths`, continuing
// `softprompt` [B,m,D] (undefined: none). Chain calls to compress several chunks.
Tensor compress(const Llama& model, const Tensor& table, const Tensor& ids,
                const std::vector<int64_t>& lengths, const Tensor& softprompt, bool accumulate);

// Implicit segmenting: logits [B,N,V] of every token of ids [B,N] read in segments
// `lengths` from `softprompt` (undefined: none), <Sum> after every segment but the
// last.
Tensor segment_logits(const Llama& model, const Tensor& table, const Tensor& ids,
                      const std::vector<int64_t>& lengths, const Tensor& softprompt,
                      bool accumulate);

// Columns [begin, end) of ids [B,N] (host i32).
Tensor columns(const Tensor& ids, int64_t begin, int64_t end);

}  // namespace condense::autocompressor
