// The synthetic recall set (datasets/recall.h): deterministic from its seed, the
// answer stated exactly once in the context, and stored in the dialogue format.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "datasets/recall.h"
#include "datasets/tokenizer.h"
#include "tests/test_data_util.h"

namespace condense::data {
namespace {

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

RecallOptions opts(uint64_t seed, int64_t n = 200, int64_t lo = 1, int64_t hi = 16) {
  RecallOptions o;
  o.seed = seed;
  o.dialogues = n;
  o.min_facts = lo;
  o.max_facts = hi;
  return o;
}

TEST(CcmRecall, SameSeedSameDialoguesOtherSeedOthers) {
  const auto a = recall_dialogues(opts(7)), b = recall_dialogues(opts(7)),
             c = recall_dialogues(opts(8));
  ASSERT_EQ(a.size(), 200u);
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].turns, b[i].turns);
    differ += a[i].turns != c[i].turns;
  }
  EXPECT_GT(differ, 190);
  // A fixed seed gives fixed text on every platform (no std:: distributions): pinned.
  const std::vector<std::string> first = {"my grandma is 62 years old .",
                                          "my parrot lives in paris .",
                                          "where does my parrot live ?", "paris"};
  EXPECT_EQ(recall_dialogues(opts(1, 1, 2, 2))[0].turns, first);
}

TEST(CcmRecall, AnswerStatedExactlyOnceAndQueryNamesItsFact) {
  const RecallOptions o = opts(3, 300);
  const auto ds = recall_dialogues(o);
  const auto asked = recall_fact_turns(o);
  std::set<int64_t> lengths, asked_turns;
  for (size_t d = 0; d < ds.size(); ++d) {
    const auto& turns = ds[d].turns;
    const int64_t t = static_cast<int64_t>(turns.size()) - 2;
    ASSERT_GE(t, 1);
    ASSERT_LE(t, 16);
    lengths.insert(t);
    asked_turns.insert(asked[d]);
    const std::vector<std::string> answer = words(turns.back());
    ASSERT_EQ(answer.size(), 1u) << turns.back();
    int count = 0;
    for (int64_t i = 0; i < t; ++i)
      for (const std::string& w : words(turns[i])) count += w == answer[0];
    EXPECT_EQ(count, 1) << "dialogue " << d;
    // Stated in the asked turn, absent from the query itself.
    const auto fact = words(turns[asked[d]]);
    EXPECT_NE(std::find(fact.begin(), fact.end(), answer[0]), fact.end());
    const auto query = words(turns[t]);
    EXPECT_EQ(std::find(query.begin(), query.end(), answer[0]), query.end());
    EXPECT_EQ(query.back(), "?");
    // The query's subject ("my X") is the asked fact's subject.
    const auto my = std::find(query.begin(), query.end(), "my");
    ASSERT_NE(my, query.end());
    EXPECT_EQ(*(my + 1), fact[1]) << turns[t];
  }
  EXPECT_EQ(lengths.size(), 16u);      // every t in [1, 16] occurs
  EXPECT_GE(asked_turns.size(), 10u);  // early and late facts are asked
}

TEST(CcmRecall, FixedNumberOfFacts) {
  for (const auto& d : recall_dialogues(opts(5, 50, 4, 4))) EXPECT_EQ(d.turns.size(), 6u);
}

TEST(CcmRecall, BadOptionsAreOneLineErrors) {
  EXPECT_NE(testing::error_of([] { recall_dialogues(opts(1, 0)); }).find("--dialogues"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { recall_dialogues(opts(1, 5, 0, 3)); }).find("--min_facts"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { recall_dialogues(opts(1, 5, 4, 3)); }).find("--max_facts"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { recall_dialogues(opts(1, 5, 1, 99)); }).find("at most"),
            std::string::npos);
}

TEST(CcmRecall, DatasetHasTurnOffsetsAndTokenizedTurns) {
  const RecallOptions o = opts(9, 20);
  const auto ds = recall_dialogues(o);
  const TokenDatasetContents c = recall_dataset(o, testing::tok512(), "recall");
  EXPECT_EQ(c.info.kind, "dialogue");
  const auto& off = c.int64s.at("/turn_offsets");
  ASSERT_EQ(off.size(), ds.size() + 1);
  ASSERT_EQ(c.int64s.at("/recall/fact_turn"), recall_fact_turns(o));
  const auto& spans = c.spans.at("turn");
  const auto& text = c.texts.at("turn");
  for (size_t d = 0; d < ds.size(); ++d) {
    ASSERT_EQ(off[d + 1] - off[d], static_cast<int64_t>(ds[d].turns.size()));
    for (int64_t r = off[d]; r < off[d + 1]; ++r) {
      EXPECT_EQ(text[r], ds[d].turns[r - off[d]]);
      const std::vector<int32_t> ids(c.tokens.begin() + spans[2 * r],
                                     c.tokens.begin() + spans[2 * r + 1]);
      EXPECT_EQ(testing::tok512().decode(ids), text[r]);
    }
  }
}

}  // namespace
}  // namespace condense::data
