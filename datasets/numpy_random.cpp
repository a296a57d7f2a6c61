#include "datasets/numpy_random.h"

#include "core/error.h"

namespace condense::data {

int64_t NumpyLegacyRandom::randint(int64_t low, int64_t high) {
  if (high <= low) fail("randint: high (", high, ") must exceed low (", low, ")");
  const uint64_t range = static_cast<uint64_t>(high - low) - 1;  // inclusive span
  if (range == 0) return low;
  if (range > 0xffffffffu) fail("randint: ranges of 2^32 or more are not supported");
  if (range == 0xffffffffu) return low + mt_();
  uint32_t mask = static_cast<uint32_t>(range);
  for (int shift = 1; shift < 32; shift <<= 1) mask |= mask >> shift;
  uint32_t v;
  do {
    v = static_cast<uint32_t>(mt_()) & mask;
  } while (v > range);
  return low + v;
}

}  // namespace condense::data
