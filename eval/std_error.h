// Standard errors of a mean over scored items, for the ± of a results table: the
// sample standard deviation (n - 1) over sqrt(n); 0 when fewer than two items (unknown).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

namespace condense::eval {

inline double std_error(const std::vector<double>& xs) {
  const double n = static_cast<double>(xs.size());
  if (xs.size() < 2) return 0;
  double mean = 0;
  for (double x : xs) mean += x;
  mean /= n;
  double ss = 0;
  for (double x : xs) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / (n - 1) / n);
}

// The same for a fraction: `hits` of `n` items scored 1, the rest 0.
inline double fraction_std_error(int64_t hits, int64_t n) {
  if (n < 2) return 0;
  const double p = static_cast<double>(hits) / static_cast<double>(n);
  return std::sqrt(p * (1 - p) / static_cast<double>(n - 1));
}

}  // namespace condense::eval
