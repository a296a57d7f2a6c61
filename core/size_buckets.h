// Allocation size classes shared by the host and device caching allocators:
// multiples of 512 B below 1 MiB; above, four classes per power of two (at most
// 25% padding), so that requests of nearby sizes (a batch whose length varies a
// little, a cache growing by a token) can share blocks.
#pragma once
#include <algorithm>
#include <cstddef>

namespace condense {

inline size_t bucket_size(size_t bytes) {
  constexpr size_t kSmallStep = 512, kLarge = size_t{1} << 20;
  auto round_up = [](size_t n, size_t to) { return (n + to - 1) / to * to; };
  if (bytes < kLarge) return round_up(std::max<size_t>(bytes, 1), kSmallStep);
  const int msb = 63 - __builtin_clzll(bytes);  // 2^msb <= bytes
  return round_up(bytes, size_t{1} << (msb - 2));
}

}  // namespace condense
