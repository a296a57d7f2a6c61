// The passkey task of FoT (METHODS.md §4.4) at lengths in multiples of the local
// context: per length, `per_length` prompts (seeds seed, seed+1, ...) run through the
// memory cache and decode greedily as many tokens as the answer has; a prompt counts
// as correct when they are the answer's ids exactly.
#pragma once
#include <cstdint>
#include <vector>

#include "core/model.h"
#include "experiments/methods/fot/memory_cache.h"

namespace condense::data {
class Tokenizer;
}

namespace condense::fot {

struct PasskeyResult {
  int64_t length = 0;  // target prompt length in tokens
  int64_t correct = 0, total = 0;
  double accuracy() const { return total ? static_cast<double>(correct) / total : 0.0; }
};

std::vector<PasskeyResult> passkey_accuracy(const Llama& model, const data::Tokenizer& tokenizer,
                                            const MemoryOptions& memory,
                                            const std::vector<int64_t>& lengths, int per_length,
                                            uint32_t seed);

}  // namespace condense::fot
