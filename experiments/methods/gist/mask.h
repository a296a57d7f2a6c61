// Gisting, part 2 of the method as data: who may attend to whom.
// With f and l the indices of the first and last gist token of a row:
//   gist:        rows i <= l see columns j <= l; rows i > l see only columns j >= f
//   neg_control: rows i > l see only columns j > l (neither instruction nor gists)
//   pos_control: no restriction beyond causal
// A row without a gist token is unrestricted (gisting's `has_gist` fallback). The
// rule is ANDed with causal here and with key padding where batches are packed.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "experiments/methods/gist/layout.h"

namespace condense::gist {

// Gist token span of one row: first/last index, or -1/-1 when it has none.
struct GistSpan {
  int64_t first = -1, last = -1;
  bool present() const { return first >= 0; }
};

// Finds the gist tokens of an unpadded row (they are consecutive by construction).
GistSpan find_gists(std::span<const int32_t> ids, int32_t gist_id);

// Query i may attend key j (both indices into the unpadded sequence), causal included.
inline bool may_attend(Condition c, int64_t i, int64_t j, const GistSpan& g) {
  if (j > i) return false;
  if (!g.present() || i <= g.last) return true;
  switch (c) {
    case Condition::gist:
      return j >= g.first;
    case Condition::neg_control:
      return j > g.last;
    case Condition::pos_control:
      return true;
  }
  return true;
}

// The [T,T] mask (row-major, 1 = may attend) of one unpadded row of ids.
std::vector<uint8_t> row_mask(Condition c, std::span<const int32_t> ids, int32_t gist_id);

}  // namespace condense::gist
