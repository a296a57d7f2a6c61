// Gisting (Mu et al. 2023), part 1 of the method as data: where the tokens go. An
// instruction record (experiments/tasks/instruct.h) becomes
//
//   BOS "Instruction: {instruction}\n" <GIST>×k "\nInput: {input}\nOutput:" | "{output}" EOS
//   \________ instruction ____________/         \_________ suffix _________/   \_ completion _/
//
// The k gist tokens are one new id appended after the tokenizer's vocabulary, repeated
// k times. Only the completion (output + EOS) is a target.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/tasks/instruct.h"

namespace condense::data {
class Tokenizer;
}

namespace condense::gist {

// gist: post-gist tokens see only the gists and what follows them (the method);
// pos_control: plain causal attention (the upper bound); neg_control: post-gist
// tokens see neither the instruction nor the gists (the lower bound).
enum class Condition { gist, pos_control, neg_control };

Condition parse_condition(const std::string& name);
const char* condition_name(Condition c);

// The records gisting trains on, and how the gist tokens cut them: the instruction is
// the context they compress, the suffix the query that reads them.
using instruct::Example;
using instruct::Split;
using instruct::Template;

// The id of <GIST>: one new row appended after the tokenizer's vocabulary.
int32_t gist_token_id(const data::Tokenizer& tokenizer);

// The k gist tokens and the gist geometry of one example.
struct Layout {
  int num_tokens = 1;  // k
  int32_t gist_id = 0;
  // Index of the first gist token (f) = instruction length.
  static int64_t first_gist(const Example& e) { return static_cast<int64_t>(e.instruction.size()); }
  int64_t prompt_length(const Example& e) const {
    return static_cast<int64_t>(e.instruction.size() + e.suffix.size()) + num_tokens;
  }
  // instruction ⊕ <GIST>×k ⊕ suffix.
  std::vector<int32_t> prompt(const Example& e) const;
  // instruction ⊕ <GIST>×k: what gist caching runs once.
  std::vector<int32_t> instruction_and_gists(const Example& e) const;
};

// The prompt as text, with "<GIST>" for each gist token (the x column of an outputs
// CSV, as gisting decodes it; its k copies are joined by spaces as gisting writes them).
std::string prompt_text(const std::string& instruction, const std::string& input, int num_tokens);

}  // namespace condense::gist
