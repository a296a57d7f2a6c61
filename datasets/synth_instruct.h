// Synthetic instructions whose output is a function of the instruction and the input
// (issue 15, for gist tokens): the input is a list of 3-8 letters ("k f a m"), the
// instruction says what to do with it, and the output is exact. Eight operations:
// reverse, sort, count, the k-th item, the last item, remove every x, replace two
// letters by a table given in the instruction, move the first item to the end. The
// same list fits every instruction, so without the instruction (gist's neg_control)
// the answer cannot be told; with it, a model that reads it can be exactly right.
//
// The splits, written as Alpaca+ files for `condense data instruct`:
//   train, validation_seen: the training wordings and parameters (new draws);
//   validation_unseen: parameters training never shows (item 4 and 7, removing or
//     replacing q, x or z) in the training wordings;
//   validation_human: paraphrased wordings training never shows.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/alpaca.h"

namespace condense::data {

enum class SynthSplit { train, seen, unseen, human };

struct SynthInstructOptions {
  uint64_t seed = 1;
  int64_t examples = 1000;
  SynthSplit split = SynthSplit::train;
};

// The records of one split (source "synthetic:<operation>"). The same options give the
// same records on every platform (no std:: distributions); each split draws from its
// own stream of the seed. Throws (one line) when examples < 1.
std::vector<AlpacaRecord> synth_instructions(const SynthInstructOptions& o);

// "train", "seen", "unseen", "human" -> the split; anything else is a one-line error.
SynthSplit parse_synth_split(const std::string& name);

}  // namespace condense::data
