// DailyDialog (Li et al. 2017): one dialogue per line, turns ended by "__eou__",
// with optional per-turn dialogue-act and emotion label files.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/token_dataset.h"

namespace condense::data {

class Tokenizer;

struct Dialogue {
  std::vector<std::string> turns;  // without surrounding spaces
  std::vector<int32_t> acts;       // 1 inform, 2 question, 3 directive, 4 commissive
  std::vector<int32_t>
      emotions;  // 0 none, 1 anger, 2 disgust, 3 fear, 4 happiness, 5 sadness, 6 surprise
};

// `act_path` / `emotion_path` may be empty (labels then absent). A line that does not
// end its last turn with "__eou__", an empty turn, a label line whose count differs
// from the dialogue's turns, or an unknown label is an error naming file:line.
std::vector<Dialogue> read_dailydialog(const std::string& text_path, const std::string& act_path,
                                       const std::string& emotion_path);

// One record per dialogue, its turns encoded one by one: /spans/turn and /text/turn
// have a row per turn (all dialogues in order), /turn_offsets [n+1] gives dialogue
// i's turn rows [turn_offsets[i], turn_offsets[i+1]), and /labels/act,
// /labels/emotion (when read) a label per turn row.
TokenDatasetContents dialogue_dataset(const std::vector<Dialogue>& dialogues,
                                      const Tokenizer& tokenizer, const std::string& label);

}  // namespace condense::data
