#include "datasets/instruct_dialogue.h"

#include "core/error.h"

namespace condense::data {

std::vector<Dialogue> instruct_dialogues(const std::vector<AlpacaRecord>& records) {
  std::vector<Dialogue> out;
  out.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const AlpacaRecord& r = records[i];
    // An empty context or target would leave the dialogue without the turn it is scored on.
    if (r.instruction.empty() || r.output.empty())
      fail("instruction record ", i, ": ", r.instruction.empty() ? "instruction" : "output",
           " is empty; a dialogue needs a context turn and a target");
    Dialogue d;
    d.turns = {"Instruction: " + r.instruction,
               r.input.empty() ? "Output:" : "Input: " + r.input + "\nOutput:", r.output};
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace condense::data
