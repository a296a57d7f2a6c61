#include "experiments/methods/gist_layout.h"

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

Template Template::make(const data::Tokenizer& tokenizer) {
  Template t;
  t.bos = tokenizer.bos_id();
  t.eos = tokenizer.eos_id();
  if (t.bos < 0 || t.eos < 0) fail(tokenizer.path(), ": gisting needs BOS and EOS pieces");
  t.gist_id = tokenizer.vocab_size();
  t.instruction_head = tokenizer.encode("Instruction:", false, false);
  // The rest continue a line, so no dummy-prefix space goes in front of them.
  t.gist_lead = tokenizer.encode_continuation("\n");
  t.input_head = tokenizer.encode_continuation("\nInput:");
  t.output_head = tokenizer.encode_continuation("\nOutput:");
  return t;
}

Example make_example(const Template& t, std::span<const int32_t> instruction,
                     std::span<const int32_t> input, std::span<const int32_t> output) {
  Example e;
  auto put = [](std::vector<int32_t>& dst, std::span<const int32_t> src) {
    dst.insert(dst.end(), src.begin(), src.end());
  };
  e.instruction.push_back(t.bos);
  put(e.instruction, t.instruction_head);
  put(e.instruction, instruction);
  put(e.instruction, t.gist_lead);
  if (!input.empty()) {
    put(e.suffix, t.input_head);
    put(e.suffix, input);
  }
  put(e.suffix, t.output_head);
  put(e.completion, output);
  e.completion.push_back(t.eos);
  return e;
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
