// CCM, part 2 of the method as data: who may attend to whom, and which key/value
// rows the merge variants replace (METHODS.md §2.3, pitfalls 11-12). A segment runs
// from just after the previous delimiter through the next one; the delimiter is the
// last <COMP> of a group (merge_recur: the last <SUM>). Separators after a group
// therefore open the next segment, BOS belongs to the first one, and the final
// segment (after the last delimiter) is the query and the target.
//   concat_recur: same segment, or j is a <COMP>      (each c(t) sees Mem(t-1) = all earlier COMP)
//   merge_recur:  same segment, or j is in the previous segment's <SUM> block (Mem(t-1))
//   concat:       same segment, or i is in the final segment and j a <COMP>
//   merge:        same segment (block-diagonal; the <SUM> block opens the final segment)
//   gist:         as concat_recur over the one <COMP> group of its layout
//   pos_control, no, neg_control: causal only
// All ANDed with causal (j <= i); with sink, column 0 (BOS) is always visible.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "datasets/batch.h"
#include "experiments/methods/ccm/layout.h"

namespace condense::ccm {

// Per-token facts the rule needs, computed once per sequence.
struct Segments {
  std::vector<int32_t> seg;  // delimiters strictly before i
  std::vector<int32_t> pre;  // merge_recur: first-<SUM> tokens strictly after j
  int32_t delimiters = 0;
};

Segments segments(Attn a, std::span<const Token> tokens);

// Query i may attend key j of one unpadded sequence.
inline bool may_attend(Attn a, bool sink, std::span<const Token> t, const Segments& s, int64_t i,
                       int64_t j) {
  if (j > i) return false;
  if (sink && j == 0) return true;
  const bool same = s.seg[i] == s.seg[j];
  switch (a) {
    case Attn::concat_recur:
    case Attn::gist:
      return same || t[j].kind == Kind::comp;
    case Attn::merge_recur:
      return same || s.delimiters - s.seg[i] == s.pre[j];
    case Attn::concat:
      return same || (s.seg[i] == s.delimiters && t[j].kind == Kind::comp);
    case Attn::merge:
      return same;
    case Attn::pos_control:
    case Attn::no:
    case Attn::neg_control:
      return true;
  }
  return true;
}

// The [T,T] mask (row-major, 1 = may attend) of one unpadded sequence.
std::vector<uint8_t> sequence_mask(Attn a, bool sink, std::span<const Token> tokens);

// The merge arithmetic (METHODS.md §2.3): the key and value of <SUM_r> at i become the
// mean of those of every <COMP_r> before i (post-RoPE), so that after t groups the
// <SUM> block holds Mem(t) = mean(h(1..t)) = (1 - 1/t) Mem(t-1) + (1/t) h(t). As terms of
// batch row `row` (empty without <SUM> tokens).
std::vector<data::KVMixTerm> merge_terms(std::span<const Token> tokens, int64_t row);

}  // namespace condense::ccm
