// Uniform integers that do not depend on the standard library: std::uniform_int_distribution's
// algorithm is implementation-defined, so a data order drawn with it could differ between
// toolchains.
#pragma once
#include <cstdint>
#include <random>

namespace condense::data {

// Uniform in [0, n) (n > 0), by rejection of the draws past the last whole multiple of n.
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do {
    v = rng();
  } while (v >= limit);
  return v % n;
}

}  // namespace condense::data
