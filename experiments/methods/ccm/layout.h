// CCM, part 1 of the method as data: the token layout of one sequence and its
// "skip" positions (METHODS.md §2.2, §2.4). A sequence is the contexts c(1..T), each
// followed by n <COMP> tokens (merge_recur: then n <SUM> tokens), then the query x
// and the target y:
//   concat_recur, concat, pos_control:  BOS c1 C.. sep c2 C.. sep … c_T C.. sep x sep y EOS
//   merge_recur:                        BOS c1 C.. S.. sep … c_T C.. S.. sep x sep y EOS
//   merge (non-recurrent):              BOS c1 C.. sep … c_T C.. S.. sep x sep y EOS
//   gist (fixed):                       BOS c1 sep c2 sep … c_T C.. sep x sep y EOS
//   no:                                 BOS c1 sep c2 sep … c_T sep x sep y EOS
//   neg_control:                        BOS x sep y EOS
// sep is "\nA:" for dialogue and empty for ICL demonstrations (contexts
// "Input: xi Output: yi", query "Input: x Output:"). <COMP>/<SUM> have no vocabulary
// id: their embeddings come from the method's own table (rows 0..n-1 <COMP>,
// n..2n-1 <SUM>), so they can never be targets; the loss covers y and EOS only.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace condense::ccm {

// The attention type (CCM's --attn_type, with --comp_type's controls folded in).
enum class Attn { concat_recur, merge_recur, concat, merge, gist, pos_control, neg_control, no };

// Throws (one line) naming the accepted values.
Attn parse_attn(const std::string& name);
const char* attn_name(Attn a);
// Merge variants have <SUM> tokens, whose keys/values are replaced by running means.
inline bool uses_sum(Attn a) {
  return a == Attn::merge_recur || a == Attn::merge;
}
// Whether the layout has <COMP> tokens at all.
inline bool uses_comp(Attn a) {
  return a != Attn::no && a != Attn::neg_control;
}
// Rows of the <COMP>/<SUM> embedding table: n, or 2n for merge variants.
inline int64_t table_rows(Attn a, int64_t n_tok) {
  return uses_sum(a) ? 2 * n_tok : n_tok;
}

enum class Kind : uint8_t { text, comp, sum };

struct Token {
  Kind kind = Kind::text;
  int32_t id = 0;    // vocabulary id of a text token; 0 at <COMP>/<SUM> (never looked up)
  int32_t slot = 0;  // <COMP_r>/<SUM_r>: r in [0, n)
  // The table row of a <COMP>/<SUM> token.
  int64_t table_row(int64_t n_tok) const { return kind == Kind::sum ? n_tok + slot : slot; }
};

struct Layout {
  Attn attn = Attn::concat_recur;
  int64_t n_tok = 1;
  bool sink = false;  // the BOS column is visible to every query
  int32_t bos = 1, eos = 2;
  std::vector<int32_t> sep;  // the tokens between turns ("\nA:"), may be empty
};

// Throws (one line) when n_tok < 1 with a layout that has <COMP> tokens.
void check_layout(const Layout& l);

struct Sequence {
  std::vector<Token> tokens;
  int64_t target_begin = 0;  // index of y's first token; y and EOS are the targets
};

// The sequence of contexts c(1..T), query x and target y under `l`.
Sequence build_sequence(const Layout& l, const std::vector<std::span<const int32_t>>& contexts,
                        std::span<const int32_t> query, std::span<const int32_t> target);

// "skip" positions: text tokens count up 0, 1, ... skipping <COMP>/<SUM>; the r-th
// <COMP> of a group (r = 1..n) is at (last text position) + r, and the next text
// token reuses (last text position) + 1; <SUM_r> shares <COMP_r>'s position.
// `offset` is the position of the first text token (online inference: the text
// tokens seen before).
std::vector<int32_t> skip_positions(std::span<const Token> tokens, int32_t offset = 0);

// Next-token targets of a sequence (targets[i] = the token after i where that token
// is y or EOS, else -100).
std::vector<int32_t> sequence_targets(const Sequence& s, int32_t ignore = -100);

}  // namespace condense::ccm
