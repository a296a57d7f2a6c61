// Training a SentencePiece BPE tokenizer on text files (`condense data tokenizer`).
#pragma once
#include <string>
#include <vector>

namespace condense::data {

struct TokenizerTrainingOptions {
  std::vector<std::string> inputs;  // text files, one sentence or paragraph per line
  int vocab_size = 8000;
  std::string model_prefix;  // writes <model_prefix>.model
};

// LLaMA-style settings: BPE, byte fallback, full character coverage, identity
// normalisation with whitespace kept (so decode(encode(x)) == x), digits split.
// Deterministic: every input line is used (no sampling) on one thread.
void train_tokenizer(const TokenizerTrainingOptions& options);

}  // namespace condense::data
