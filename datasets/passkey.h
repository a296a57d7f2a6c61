// FoT's passkey retrieval prompts (METHODS.md §4.4; long_llama
// examples/utils/landmark_prompt.py generate_prompt_landmark), at a requested length.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/token_dataset.h"

namespace condense::data {

class Tokenizer;

struct PasskeyPrompt {
  std::string prompt;  // task line, garbage prefix, key line, garbage suffix, question
  std::string answer;  // the key as text, e.g. "15338"
  int32_t pass_key;    // 1..49999
  int64_t n_garbage;   // characters of garbage, prefix + suffix
  uint32_t seed;
};

// Exactly generate_prompt_landmark(n_garbage, seed): NumPy's legacy generator seeded
// with `seed` draws the prefix length randint(0, n_garbage), then the key
// randint(1, 50000). Upstream asserts n_garbage < 450,000 (5,000 repeats of the
// garbage sentence); here the garbage repeats as far as asked, with the same text.
PasskeyPrompt passkey_prompt(int64_t n_garbage, uint32_t seed);

struct PasskeySample {
  PasskeyPrompt prompt;
  std::vector<int32_t> prompt_ids;  // BOS + the prompt
  std::vector<int32_t> answer_ids;  // encode(answer) without BOS, as tokenizer(str(k))[1:]
};

// The prompt for `seed` whose ids (BOS included) number `target_tokens` ±1%: a
// secant search over n_garbage, since the token count grows linearly with it.
// Throws when the target is below the shortest prompt.
PasskeySample passkey_sample(const Tokenizer& tokenizer, int64_t target_tokens, uint32_t seed);

struct PasskeyOptions {
  std::vector<int64_t> lengths;  // target prompt lengths in tokens
  int per_length = 1;            // prompts per length, seeds seed, seed+1, ...
  uint32_t seed = 555;           // the seed of upstream's passkey_retrieval_test
};

// One record per prompt (lengths in order, then seeds): BOS + prompt ids + answer ids,
// /spans/prompt (without BOS), /spans/answer, /text/answer, and per record
// /pass_key, /n_garbage, /seed, /target_length.
TokenDatasetContents passkey_dataset(const Tokenizer& tokenizer, const PasskeyOptions& options);

}  // namespace condense::data
