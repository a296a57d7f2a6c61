// NumPy's legacy global generator (np.random.seed / np.random.randint), reproduced
// exactly, so that our passkey prompts are the ones FoT's landmark_prompt.py makes
// for the same seed.
#pragma once
#include <cstdint>
#include <random>

namespace condense::data {

class NumpyLegacyRandom {
 public:
  // np.random.seed(seed) for an integer seed: MT19937's init_genrand, as std::mt19937.
  explicit NumpyLegacyRandom(uint32_t seed) : mt_(seed) {}

  // np.random.randint(low, high): uniform in [low, high). For ranges below 2^32 NumPy
  // draws 32-bit outputs masked to the smallest covering power of two minus one and
  // rejects values above the range (random_bounded_uint64_fill with use_masked).
  int64_t randint(int64_t low, int64_t high);

 private:
  std::mt19937 mt_;
};

}  // namespace condense::data
