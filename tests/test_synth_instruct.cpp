// The synthetic instruction set (datasets/synth_instruct.h): every output follows from
// its instruction and input (re-derived here from the text alone), the held-out
// parameters and wordings appear only in their validation split, the draw is
// reproducible and each split's stream independent of the others' sizes, and
// `condense data synth-instruct` writes Alpaca+ files that read back (bad counts: one
// line, nothing written).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "datasets/synth_instruct.h"
#include "tests/cli_test_util.h"

namespace condense::data {
namespace {

std::vector<std::string> items_of(const std::string& list) {
  std::istringstream in(list);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& w : v) s += (s.empty() ? "" : " ") + w;
  return s;
}

// The output an instruction asks for, read from its wording (training or paraphrase).
std::string expected_output(const AlpacaRecord& r) {
  const std::vector<std::string> in = items_of(r.input);
  const std::string& ins = r.instruction;
  std::smatch m;
  static const std::vector<std::string> ordinals = {"first", "second", "third",   "fourth",
                                                    "fifth", "sixth",  "seventh", "eighth"};
  if (ins == "Reverse the list." || ins == "Write the items in the opposite order.")
    return join({in.rbegin(), in.rend()});
  if (ins == "Sort the list in alphabetical order." ||
      ins == "Put the items in order from a to z.") {
    std::vector<std::string> s = in;
    std::sort(s.begin(), s.end());
    return join(s);
  }
  if (ins == "How many items are in the list?" || ins == "Count the items.")
    return std::to_string(in.size());
  if (std::regex_match(ins, m, std::regex("What is item number (\\d) of the list\\?")))
    return in.at(std::stoul(m[1]) - 1);
  if (std::regex_match(ins, m, std::regex("Give the (\\w+) item\\.")))
    return in.at(std::find(ordinals.begin(), ordinals.end(), m[1].str()) - ordinals.begin());
  if (ins == "What is the last item of the list?" || ins == "Which item comes at the end?")
    return in.back();
  if (std::regex_match(ins, m, std::regex("Remove every (\\w) from the list\\.")) ||
      std::regex_match(ins, m, std::regex("Write the list without the letter (\\w)\\."))) {
    std::vector<std::string> kept;
    for (const std::string& w : in)
      if (w != m[1].str()) kept.push_back(w);
    return join(kept);
  }
  if (std::regex_match(ins, m, std::regex("Replace (\\w) with (\\w) and (\\w) with (\\w)\\.")) ||
      std::regex_match(ins, m,
                       std::regex("Change every (\\w) into (\\w) and every (\\w) into (\\w)\\."))) {
    std::vector<std::string> out;
    for (const std::string& w : in) out.push_back(w == m[1] ? m[2] : w == m[3] ? m[4] : w);
    return join(out);
  }
  if (ins == "Move the first item to the end." || ins == "Put the first item last.") {
    std::vector<std::string> out(in.begin() + 1, in.end());
    out.push_back(in.front());
    return join(out);
  }
  ADD_FAILURE() << "unknown instruction: " << ins;
  return "";
}

bool names_held_out_parameter(const std::string& ins) {
  return std::regex_search(ins, std::regex("item number [47] |fourth|seventh")) ||
         std::regex_search(
             ins, std::regex("(Remove every|Replace|without the letter|Change every) [qxz]\\b"));
}

TEST(SynthInstruct, EveryOutputFollowsFromItsInstructionAndInput) {
  for (SynthSplit split :
       {SynthSplit::train, SynthSplit::seen, SynthSplit::unseen, SynthSplit::human})
    for (const AlpacaRecord& r : synth_instructions({7, 2000, split})) {
      const size_t n = items_of(r.input).size();
      EXPECT_GE(n, 3u) << r.input;
      EXPECT_LE(n, 8u) << r.input;
      EXPECT_EQ(r.output, expected_output(r)) << r.instruction << " | " << r.input;
    }
}

TEST(SynthInstruct, HeldOutParametersAndWordingsOnlyInTheirSplit) {
  std::set<std::string> train_wordings;
  std::map<std::string, int> per_op;
  for (const AlpacaRecord& r : synth_instructions({7, 4000, SynthSplit::train})) {
    EXPECT_FALSE(names_held_out_parameter(r.instruction)) << r.instruction;
    train_wordings.insert(std::regex_replace(r.instruction, std::regex("\\b\\w\\b|\\d"), "_"));
    ++per_op[r.source];
  }
  // Eight operations, each about an eighth of the draws.
  ASSERT_EQ(per_op.size(), 8u);
  for (const auto& [op, count] : per_op) EXPECT_GT(count, 4000 / 8 * 0.8) << op;
  for (const AlpacaRecord& r : synth_instructions({7, 500, SynthSplit::seen}))
    EXPECT_FALSE(names_held_out_parameter(r.instruction)) << r.instruction;
  for (const AlpacaRecord& r : synth_instructions({7, 500, SynthSplit::unseen}))
    EXPECT_TRUE(names_held_out_parameter(r.instruction)) << r.instruction;
  for (const AlpacaRecord& r : synth_instructions({7, 500, SynthSplit::human}))
    EXPECT_FALSE(
        train_wordings.count(std::regex_replace(r.instruction, std::regex("\\b\\w\\b|\\d"), "_")))
        << "a paraphrase that training shows: " << r.instruction;
}

TEST(SynthInstruct, ReproducibleAndEachSplitItsOwnStream) {
  const auto a = synth_instructions({3, 50, SynthSplit::seen});
  const auto b = synth_instructions({3, 80, SynthSplit::seen});
  const auto c = synth_instructions({4, 50, SynthSplit::seen});
  const auto t = synth_instructions({3, 50, SynthSplit::train});
  int same_as_other_seed = 0, same_as_train = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].instruction + a[i].input, b[i].instruction + b[i].input) << i;
    same_as_other_seed += a[i].input == c[i].input;
    same_as_train += a[i].input == t[i].input;
  }
  EXPECT_LT(same_as_other_seed, 5);
  EXPECT_LT(same_as_train, 5);
  EXPECT_THROW(synth_instructions({3, 0, SynthSplit::train}), Error);
  EXPECT_THROW(parse_synth_split("validation"), Error);
}

TEST(SynthInstructCli, WritesAlpacaFilesThatReadBackAndRefusesBadCounts) {
  testing::TempDir dir;
  auto r = testing::run_condense(
      {"data", "synth-instruct", "--out", dir.file("set"), "--train", "40", "--valid", "10"},
      dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_alpaca_json(dir.file("set/alpaca_plus_train.json")).size(), 40u);
  for (const char* split : {"seen", "unseen", "human"})
    EXPECT_EQ(
        read_alpaca_json(dir.file(std::string("set/alpaca_plus_validation_") + split + ".json"))
            .size(),
        10u);
  r = testing::run_condense({"data", "synth-instruct", "--out", dir.file("bad"), "--valid", "0"},
                            dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--valid must be at least 1, got 0"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad")));
}

}  // namespace
}  // namespace condense::data
