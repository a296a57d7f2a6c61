#include "experiments/methods/ccm/mask.h"

namespace condense::ccm {

Segments segments(Attn a, std::span<const Token> tokens) {
  const Kind delim = a == Attn::merge_recur ? Kind::sum : Kind::comp;
  Segments s;
  s.seg.resize(tokens.size());
  s.pre.assign(tokens.size(), 0);
  if (tokens.empty()) return s;
  // Groups are runs of one kind: a delimiter ends a run, a first <SUM> starts one.
  const size_t T = tokens.size();
  int32_t seen = 0;
  for (size_t i = 0; i < T; ++i) {
    s.seg[i] = seen;
    if (tokens[i].kind == delim && (i + 1 == T || tokens[i + 1].kind != delim)) ++seen;
  }
  s.delimiters = seen;
  int32_t after = 0;
  for (size_t j = T; j-- > 0;) {
    s.pre[j] = after;
    if (tokens[j].kind == Kind::sum && (j == 0 || tokens[j - 1].kind != Kind::sum)) ++after;
  }
  return s;
}

std::vector<uint8_t> sequence_mask(Attn a, bool sink, std::span<const Token> tokens) {
  const Segments s = segments(a, tokens);
  const int64_t T = static_cast<int64_t>(tokens.size());
  std::vector<uint8_t> m(static_cast<size_t>(T * T));
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = 0; j < T; ++j) m[i * T + j] = may_attend(a, sink, tokens, s, i, j) ? 1 : 0;
  return m;
}

std::vector<data::KVMixTerm> merge_terms(std::span<const Token> tokens, int64_t row) {
  std::vector<data::KVMixTerm> out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].kind != Kind::sum) continue;
    std::vector<int32_t> sources;
    for (size_t j = 0; j < i; ++j)
      if (tokens[j].kind == Kind::comp && tokens[j].slot == tokens[i].slot)
        sources.push_back(static_cast<int32_t>(j));
    for (int32_t j : sources)
      out.push_back({row, static_cast<int32_t>(i), j, 1.0f / static_cast<float>(sources.size())});
  }
  return out;
}

}  // namespace condense::ccm
