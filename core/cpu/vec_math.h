// exp that the compiler can vectorize. libm's expf is an opaque scalar call, so
// loops over it (softmax over the vocabulary, attention rows, SiLU) ran one
// element at a time and took ~10% of a training step. This is the Cephes
// polynomial (relative error ~2 ulp over the float range), written with selects
// and bit operations only, so `#pragma omp simd` loops that call it vectorize.
#pragma once
#include <bit>
#include <cstdint>

namespace condense::cpu {

#pragma omp declare simd
inline float exp_approx(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kMax = 88.3762626647949f, kMin = -87.3365447505531f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const bool underflow = x < kMin;       // also true for -inf: exp(-inf) = 0
  const bool overflow = x > kMax;
  const float xc = underflow ? kMin : (overflow ? kMax : x);
  // n = round(x / ln 2), read from the low mantissa bits of t (no float->int conversion).
  const float t = xc * kLog2e + kRound;
  const float n = t - kRound;
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;  // |r| <= ln2 / 2
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // t's mantissa field holds 2^22 + n, and n is in [-126, 127]: 2^n is a normal float.
  // So results below 2^-126 (x < -87.34) are flushed to 0, as denormals would be, and
  // x > 88.376 gives inf (exp(x) is within 30% of FLT_MAX there).
  const int32_t n_int = static_cast<int32_t>(std::bit_cast<uint32_t>(t) & 0x7fffff) - 0x400000;
  const float scale = std::bit_cast<float>(static_cast<uint32_t>(n_int + 127) << 23);
  const float y = p * scale;
  return underflow ? 0.0f : (overflow ? std::bit_cast<float>(0x7f800000u) : y);
}

}  // namespace condense::cpu
