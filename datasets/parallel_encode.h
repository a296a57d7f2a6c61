// Tokenizing many texts, or a few very long ones, on every OpenMP thread.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace condense::data {

class Tokenizer;

// The ids of each text (no BOS/EOS), equal to tokenizer.encode(text, false, false).
// Texts longer than 64 KiB are cut after line ends and the pieces encoded on
// separate threads when the tokenizer allows it exactly (can_split_at_newlines), so
// that one long book also uses every core. Long inputs print progress lines
// (core/progress.h) "tokenizing <label>: ..." on stderr.
std::vector<std::vector<int32_t>> encode_parallel(const Tokenizer& tokenizer,
                                                  std::span<const std::string> texts,
                                                  const std::string& label);

}  // namespace condense::data
