#include "experiments/methods/gist/mask.h"

namespace condense::gist {

GistSpan find_gists(std::span<const int32_t> ids, int32_t gist_id) {
  GistSpan g;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != gist_id) continue;
    if (!g.present()) g.first = static_cast<int64_t>(i);
    g.last = static_cast<int64_t>(i);
  }
  return g;
}

std::vector<uint8_t> row_mask(Condition c, std::span<const int32_t> ids, int32_t gist_id) {
  const GistSpan g = find_gists(ids, gist_id);
  const int64_t T = static_cast<int64_t>(ids.size());
  std::vector<uint8_t> m(static_cast<size_t>(T * T));
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = 0; j < T; ++j) m[i * T + j] = may_attend(c, i, j, g) ? 1 : 0;
  return m;
}

}  // namespace condense::gist
