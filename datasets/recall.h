// A synthetic multi-turn recall set for CCM (issue 12): each dialogue states t facts,
// one per turn ("my cat is called tom ."), then asks about one of them ("what is my
// cat called ?") and ends with the one-word answer ("tom"). Every (subject, relation)
// pair and every value occurs at most once per dialogue, so the answer appears in the
// context exactly once and cannot be guessed better than 1 / (its pool's size)
// without it. The dialogues are written in the DailyDialog converter's format
// (datasets/dialogue.h: a record per dialogue, a turn row per turn, /turn_offsets),
// so CCM reads both the same way: context turns, then the query x, then the target y.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dialogue.h"
#include "datasets/token_dataset.h"

namespace condense::data {

struct RecallOptions {
  uint64_t seed = 1;
  int64_t dialogues = 1000;
  // The number of fact turns t of each dialogue, drawn uniformly from [min, max].
  int64_t min_facts = 1;
  int64_t max_facts = 16;
};

// Throws (one line) when the options are out of range (no dialogue, min_facts < 1,
// max_facts < min_facts or more facts than the word pools allow).
void check_recall_options(const RecallOptions& o);

// The dialogues: t fact turns, the query, the answer (t + 2 turns). The same options
// give the same dialogues on every platform (no std:: distributions).
std::vector<Dialogue> recall_dialogues(const RecallOptions& o);

// Which fact turn (0-based) each of recall_dialogues(o) asks about.
std::vector<int64_t> recall_fact_turns(const RecallOptions& o);

// The largest number of facts one dialogue may state.
int64_t recall_max_facts();

// recall_dialogues(o) as a dialogue dataset (kind "dialogue"), with /recall/fact_turn
// [n] (the turn row, within its dialogue, that holds the answer).
TokenDatasetContents recall_dataset(const RecallOptions& o, const Tokenizer& tokenizer,
                                    const std::string& label);

}  // namespace condense::data
