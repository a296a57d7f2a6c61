#include "experiments/methods/gist/layout.h"

#include "core/error.h"
#include "datasets/tokenizer.h"

namespace condense::gist {

Condition parse_condition(const std::string& name) {
  if (name == "gist") return Condition::gist;
  if (name == "pos_control") return Condition::pos_control;
  if (name == "neg_control") return Condition::neg_control;
  fail("gist.condition: unknown condition '", name, "', expected gist, pos_control or neg_control");
}

const char* condition_name(Condition c) {
  switch (c) {
    case Condition::gist:
      return "gist";
    case Condition::pos_control:
      return "pos_control";
    case Condition::neg_control:
      return "neg_control";
  }
  return "?";
}

int32_t gist_token_id(const data::Tokenizer& tokenizer) {
  return static_cast<int32_t>(tokenizer.vocab_size());
}

std::vector<int32_t> Layout::prompt(const Example& e) const {
  std::vector<int32_t> ids = instruction_and_gists(e);
  ids.insert(ids.end(), e.suffix.begin(), e.suffix.end());
  return ids;
}

std::vector<int32_t> Layout::instruction_and_gists(const Example& e) const {
  std::vector<int32_t> ids = e.instruction;
  ids.insert(ids.end(), static_cast<size_t>(num_tokens), gist_id);
  return ids;
}

std::string prompt_text(const std::string& instruction, const std::string& input, int num_tokens) {
  std::string gists;
  for (int i = 0; i < num_tokens; ++i) gists += i ? " <GIST>" : "<GIST>";
  std::string x = "Instruction: " + instruction + "\n" + gists + "\n";
  if (!input.empty()) x += "Input: " + input + "\n";
  return x + "Output:";
}

}  // namespace condense::gist
