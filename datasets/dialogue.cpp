#include "datasets/dialogue.h"

#include <charconv>

#include "core/error.h"
#include "datasets/records.h"
#include "datasets/text_file.h"
#include "datasets/tokenizer.h"

namespace condense::data {
namespace {

std::vector<std::string> parse_turns(std::string_view line, const std::string& where) {
  static constexpr std::string_view kEnd = "__eou__";
  std::vector<std::string> turns;
  size_t start = 0;
  for (size_t end; (end = line.find(kEnd, start)) != std::string_view::npos;
       start = end + kEnd.size()) {
    const std::string_view turn = trim(line.substr(start, end - start));
    if (turn.empty()) fail(where, ": empty turn ", turns.size() + 1);
    turns.emplace_back(turn);
  }
  if (turns.empty()) fail(where, ": no turn ended by __eou__");
  if (!trim(line.substr(start)).empty()) fail(where, ": text after the last __eou__");
  return turns;
}

std::vector<int32_t> parse_labels(std::string_view line, int32_t lo, int32_t hi,
                                  const std::string& where) {
  std::vector<int32_t> labels;
  size_t pos = 0;
  while ((pos = line.find_first_not_of(" \t", pos)) != std::string_view::npos) {
    const size_t end = std::min(line.find_first_of(" \t", pos), line.size());
    const std::string_view word = line.substr(pos, end - pos);
    int32_t v = 0;
    const auto [ptr, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
    if (ec != std::errc() || ptr != word.data() + word.size() || v < lo || v > hi)
      fail(where, ": unknown label '", word, "' (expected ", lo, "..", hi, ")");
    labels.push_back(v);
    pos = end;
  }
  return labels;
}

// Labels per dialogue from a label file, checked against the turn counts.
void read_label_file(const std::string& path, int32_t lo, int32_t hi,
                     std::vector<Dialogue>& dialogues, std::vector<int32_t> Dialogue::*member) {
  const std::string text = read_text_file(path);
  const std::vector<std::string_view> lines = split_lines(text);
  if (lines.size() != dialogues.size())
    fail(path, ": ", lines.size(), " lines, but the dialogue file has ", dialogues.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = path + ":" + std::to_string(i + 1);
    std::vector<int32_t> labels = parse_labels(lines[i], lo, hi, where);
    if (labels.size() != dialogues[i].turns.size())
      fail(where, ": ", labels.size(), " labels for a dialogue of ", dialogues[i].turns.size(),
           " turns");
    dialogues[i].*member = std::move(labels);
  }
}

}  // namespace

std::vector<Dialogue> read_dailydialog(const std::string& text_path, const std::string& act_path,
                                       const std::string& emotion_path) {
  const std::string text = read_text_file(text_path);
  std::vector<Dialogue> dialogues;
  const std::vector<std::string_view> lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i)
    dialogues.push_back({parse_turns(lines[i], text_path + ":" + std::to_string(i + 1)), {}, {}});
  if (!act_path.empty()) read_label_file(act_path, 1, 4, dialogues, &Dialogue::acts);
  if (!emotion_path.empty()) read_label_file(emotion_path, 0, 6, dialogues, &Dialogue::emotions);
  return dialogues;
}

TokenDatasetContents dialogue_dataset(const std::vector<Dialogue>& dialogues,
                                      const Tokenizer& tokenizer, const std::string& label) {
  RecordBuilder builder({{"turn"}}, /*bos_per_record=*/false);
  TokenDatasetContents out;
  std::vector<int64_t>& turn_offsets = out.int64s["/turn_offsets"];
  turn_offsets.push_back(0);
  const bool acts = !dialogues.empty() && !dialogues[0].acts.empty();
  const bool emotions = !dialogues.empty() && !dialogues[0].emotions.empty();
  for (const Dialogue& d : dialogues) {
    for (const std::string& turn : d.turns) builder.add(0, turn);
    builder.end_record();
    turn_offsets.push_back(turn_offsets.back() + static_cast<int64_t>(d.turns.size()));
    if (acts)
      out.int32s["/labels/act"].insert(out.int32s["/labels/act"].end(), d.acts.begin(),
                                       d.acts.end());
    if (emotions)
      out.int32s["/labels/emotion"].insert(out.int32s["/labels/emotion"].end(), d.emotions.begin(),
                                           d.emotions.end());
  }
  builder.build(tokenizer, label, out);
  out.info.kind = "dialogue";
  return out;
}

}  // namespace condense::data
