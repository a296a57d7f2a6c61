// Instruction records (Alpaca+, or the synthetic set of synth_instruct.h) as one-context
// dialogues, so that a dialogue method (CCM) trains and is scored on the same examples
// as the instruction methods (gist, full): the context turn is the instruction, the query
// the input, the target the output, worded as the instruction methods' prompt is
// ("Instruction: {instruction}" | "Input: {input}\nOutput:" | "{output}"; without an
// input the query is "Output:").
#pragma once
#include <vector>

#include "datasets/alpaca.h"
#include "datasets/dialogue.h"

namespace condense::data {

std::vector<Dialogue> instruct_dialogues(const std::vector<AlpacaRecord>& records);

}  // namespace condense::data
