#include "experiments/methods/ccm/layout.h"

#include <array>
#include <utility>

#include "core/error.h"

namespace condense::ccm {
namespace {

constexpr std::array<std::pair<Attn, const char*>, 8> kNames = {{
    {Attn::concat_recur, "concat_recur"},
    {Attn::merge_recur, "merge_recur"},
    {Attn::concat, "concat"},
    {Attn::merge, "merge"},
    {Attn::gist, "gist"},
    {Attn::pos_control, "pos_control"},
    {Attn::neg_control, "neg_control"},
    {Attn::no, "no"},
}};

void text(std::vector<Token>& out, std::span<const int32_t> ids) {
  for (int32_t id : ids) out.push_back({Kind::text, id, 0});
}

void group(std::vector<Token>& out, Kind kind, int64_t n) {
  for (int64_t r = 0; r < n; ++r) out.push_back({kind, 0, static_cast<int32_t>(r)});
}

}  // namespace

Attn parse_attn(const std::string& name) {
  std::string all;
  for (const auto& [a, n] : kNames) {
    if (name == n) return a;
    all += all.empty() ? n : std::string(", ") + n;
  }
  fail("ccm: unknown attention type '", name, "' (one of ", all, ")");
}

const char* attn_name(Attn a) {
  for (const auto& [x, n] : kNames)
    if (x == a) return n;
  return "?";
}

void check_layout(const Layout& l) {
  if (uses_comp(l.attn) && l.n_tok < 1) fail("ccm: --ccm.n_tok must be at least 1, got ", l.n_tok);
}

Sequence build_sequence(const Layout& l, const std::vector<std::span<const int32_t>>& contexts,
                        std::span<const int32_t> query, std::span<const int32_t> target) {
  check_layout(l);
  Sequence s;
  std::vector<Token>& t = s.tokens;
  t.push_back({Kind::text, l.bos, 0});
  if (l.attn != Attn::neg_control) {
    for (size_t c = 0; c < contexts.size(); ++c) {
      if (c > 0) text(t, l.sep);
      text(t, contexts[c]);
      const bool last = c + 1 == contexts.size();
      switch (l.attn) {
        case Attn::concat_recur:
        case Attn::concat:
        case Attn::pos_control:
          group(t, Kind::comp, l.n_tok);
          break;
        case Attn::merge_recur:
          group(t, Kind::comp, l.n_tok);
          group(t, Kind::sum, l.n_tok);
          break;
        case Attn::merge:
          group(t, Kind::comp, l.n_tok);
          if (last) group(t, Kind::sum, l.n_tok);
          break;
        case Attn::gist:
          if (last) group(t, Kind::comp, l.n_tok);
          break;
        case Attn::no:
        case Attn::neg_control:
          break;
      }
    }
    if (!contexts.empty()) text(t, l.sep);
  }
  text(t, query);
  text(t, l.sep);
  s.target_begin = static_cast<int64_t>(t.size());
  text(t, target);
  t.push_back({Kind::text, l.eos, 0});
  return s;
}

std::vector<int32_t> skip_positions(std::span<const Token> tokens, int32_t offset) {
  std::vector<int32_t> pos(tokens.size());
  int32_t next = offset;  // the next text token's position
  for (size_t i = 0; i < tokens.size(); ++i)
    pos[i] = tokens[i].kind == Kind::text ? next++ : next + tokens[i].slot;
  return pos;
}

std::vector<int32_t> sequence_targets(const Sequence& s, int32_t ignore) {
  std::vector<int32_t> out(s.tokens.size(), ignore);
  for (size_t i = 0; i + 1 < s.tokens.size(); ++i)
    if (static_cast<int64_t>(i) + 1 >= s.target_begin) out[i] = s.tokens[i + 1].id;
  return out;
}

}  // namespace condense::ccm
