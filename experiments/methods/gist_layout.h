// Gisting (Mu et al. 2023; METHODS.md §1), part 1 of the method as data: where
// the tokens go. An Alpaca+ example becomes
//
//   BOS "Instruction: {instruction}\n" <GIST>×k "\nInput: {input}\nOutput:" | "{output}" EOS
//   \________ instruction ____________/         \_________ suffix _________/   \_ completion _/
//
// ("\nInput: {input}" is left out when the input is empty). The k gist tokens are
// one new id appended after the tokenizer's vocabulary, repeated k times. Only the
// completion (output + EOS) is a target.
//
// Each piece is tokenized on its own: the fixed template strings once, the fields as
// the Alpaca dataset stored them (each encoded alone, datasets/alpaca.h). The prompt
// is the concatenation of the pieces, so the ids after the gist tokens are the same
// whether the instruction is cached or not (METHODS.md §7 pitfall 6 holds by
// construction instead of by a re-tokenize-and-strip trick).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

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

// The template's fixed strings, tokenized once for a tokenizer.
struct Template {
  int32_t bos = 1, eos = 2;
  int32_t gist_id = 0;  // = the tokenizer's vocabulary size: the first id after it
  std::vector<int32_t> instruction_head;  // "Instruction:" (the field brings its leading space)
  std::vector<int32_t> gist_lead;         // "\n" between the instruction and the gists
  std::vector<int32_t> input_head;        // "\nInput:"
  std::vector<int32_t> output_head;       // "\nOutput:"

  static Template make(const data::Tokenizer& tokenizer);
};

// One example, cut where the gist tokens go.
struct Example {
  std::vector<int32_t> instruction;  // BOS "Instruction: ..." "\n": all tokens before the gists
  std::vector<int32_t> suffix;       // "\nInput: ..." "\nOutput:": all tokens after the gists
  std::vector<int32_t> completion;   // output ids + EOS: the targets
};

// Assembles an example from the field ids (each as encode() gave it, with the
// tokenizer's dummy-prefix space, which plays the space after "Instruction:" etc.).
Example make_example(const Template& t, std::span<const int32_t> instruction,
                     std::span<const int32_t> input, std::span<const int32_t> output);

// The k gist tokens and the gist geometry of one example.
struct Layout {
  int num_tokens = 1;  // k
  int32_t gist_id = 0;
  // Index of the first gist token (f in METHODS.md §1.2) = instruction length.
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
