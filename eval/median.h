// The median of a benchmark's timed repeats (the mean of the middle two for an even
// count): on a shared machine it resists another process's burst better than the mean.
#pragma once
#include <algorithm>
#include <vector>

#include "core/error.h"

namespace condense::eval {

inline double median(std::vector<double> v) {
  if (v.empty()) fail("median of no timed repeats");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace condense::eval
