// Autoregressive decoding with a key/value cache: the prompt runs once, then
// each new token runs alone against the cached keys/values of all layers.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "core/model.h"

namespace condense::eval {

struct SamplingConfig {
  int64_t max_new_tokens = 64;
  float temperature = 0.0f;  // 0: greedy argmax
  float top_p = 1.0f;        // nucleus sampling mass (with temperature > 0)
  uint64_t seed = 0;
  std::vector<int32_t> stop_ids;  // generation ends after producing one of these
};

// Picks the next token from logits [V] (greedy, or temperature + top-p).
int32_t sample_token(const float* logits, int64_t V, const SamplingConfig& cfg,
                     std::mt19937_64& rng);

// A growing per-layer key/value cache for one batch of sequences.
// Generates after `prompt` (which must be non-empty: start from BOS for none).
// Returns only the new tokens. Refuses (one line) when the prompt and max_new_tokens
// need more positions than the model's max_seq_len. Decodes into a key/value cache
// allocated once at that size (InPlaceKV), each step writing only its own keys/values.
std::vector<int32_t> generate(const Llama& model, const std::vector<int32_t>& prompt,
                              const SamplingConfig& cfg);

}  // namespace condense::eval
