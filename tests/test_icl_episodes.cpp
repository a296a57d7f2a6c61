// ICL episodes (datasets/icl_episodes.h): the MetaICL layout as dialogue turns, the
// demonstration draws, the token budget, and the options CCM's ICL task scores.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "datasets/icl_episodes.h"
#include "datasets/tokenizer.h"
#include "tests/cli_test_util.h"
#include "tests/test_data_util.h"

namespace condense::testing {
namespace {

using data::IclEpisodeOptions;
using data::IclEpisodeTask;
using data::TokenDatasetContents;

std::string sample(const std::string& rel) {
  return source_path("tests/data/datasets/" + rel);
}

// The turn texts of record i.
std::vector<std::string> turns_of(const TokenDatasetContents& c, size_t i) {
  const std::vector<int64_t>& off = c.int64s.at("/turn_offsets");
  return {c.texts.at("turn").begin() + off[i], c.texts.at("turn").begin() + off[i + 1]};
}

int64_t tokens_of(const TokenDatasetContents& c, size_t i) {
  const std::vector<int64_t>& off = c.int64s.at("/turn_offsets");
  const std::vector<int64_t>& s = c.spans.at("turn");
  int64_t n = 0;
  for (int64_t r = off[i]; r < off[i + 1]; ++r) n += s[2 * r + 1] - s[2 * r];
  return n;
}

IclEpisodeTask trec_training() {
  IclEpisodeTask t;
  t.queries = data::read_icl("trec", {sample("icl/trec_qc/train.txt")});
  t.demos = t.queries;
  t.same_pool = true;
  return t;
}

TEST(IclEpisodes, TurnsAreDemonstrationsThenQueryThenGoldLabel) {
  const IclEpisodeTask t = trec_training();
  IclEpisodeOptions o;
  o.demos = 4;
  const TokenDatasetContents c = data::icl_episodes({t}, tok512(), o, "test");
  const size_t n = t.queries.values.size();
  ASSERT_EQ(c.int32s.at("/labels").size(), n);
  EXPECT_EQ(c.info.kind, "dialogue");
  EXPECT_EQ(c.attrs.at("format"), "icl_episodes");
  EXPECT_EQ(nlohmann::json::parse(c.attrs.at("separator")).get<std::string>(), "");
  EXPECT_EQ(nlohmann::json::parse(c.attrs.at("tasks")).get<std::vector<std::string>>(),
            std::vector<std::string>{"trec"});
  // Demonstration text -> its example (the pool's texts are distinct enough to key on).
  std::map<std::string, size_t> demo_of;
  for (size_t j = 0; j < n; ++j)
    demo_of[data::icl_query_text(t.demos, j) + " " + t.demos.label_names[t.demos.labels[j]]] = j;
  for (size_t i = 0; i < n; ++i) {
    const std::vector<std::string> turns = turns_of(c, i);
    ASSERT_EQ(turns.size(), 6u) << i;  // 4 demonstrations fit the default budget
    const int32_t gold = t.queries.labels[i];
    EXPECT_EQ(c.int32s.at("/labels")[i], gold);
    EXPECT_EQ(turns[4], data::icl_query_text(t.queries, i));
    EXPECT_EQ(turns[4], "Input: " + t.queries.values[i][0] + " Output:");
    EXPECT_EQ(turns[5], t.queries.label_names[gold]);
    std::set<size_t> seen;
    for (size_t d = 0; d < 4; ++d) {
      const auto it = demo_of.find(turns[d]);
      ASSERT_NE(it, demo_of.end()) << turns[d];
      EXPECT_NE(it->second, i) << "episode " << i << " shows its own query";
      EXPECT_TRUE(seen.insert(it->second).second) << "a demonstration twice in episode " << i;
    }
    // The options are the label names, in label order.
    const std::vector<int64_t>& off = c.int64s.at("/option_offsets");
    EXPECT_EQ(std::vector<std::string>(c.texts.at("option").begin() + off[i],
                                       c.texts.at("option").begin() + off[i + 1]),
              t.queries.label_names);
  }
}

TEST(IclEpisodes, EvaluationEpisodesShareOneDrawAndSeedsChangeIt) {
  IclEpisodeTask t;
  t.queries = data::read_icl("trec", {sample("icl/trec_qc/test.txt")});
  t.demos = data::read_icl("trec", {sample("icl/trec_qc/train.txt")});
  IclEpisodeOptions o;
  o.demos = 8;
  o.episodes = 50;
  const TokenDatasetContents a = data::icl_episodes({t}, tok512(), o, "test");
  ASSERT_EQ(a.int32s.at("/labels").size(), 50u);
  const std::vector<std::string> first = turns_of(a, 0);
  for (size_t i = 1; i < 50; ++i) {
    const std::vector<std::string> turns = turns_of(a, i);
    ASSERT_EQ(turns.size(), 10u);
    EXPECT_EQ(std::vector<std::string>(turns.begin(), turns.begin() + 8),
              std::vector<std::string>(first.begin(), first.begin() + 8));
  }
  o.seed = 7;
  const TokenDatasetContents b = data::icl_episodes({t}, tok512(), o, "test");
  EXPECT_NE(turns_of(b, 0)[0], first[0]);
}

TEST(IclEpisodes, TheBudgetCutsDemonstrationsAndTasksKeepTheirOrder) {
  IclEpisodeTask sst2;
  sst2.queries = data::read_icl("sst2", {sample("icl/sst2/test.tsv")});
  sst2.demos = sst2.queries;
  sst2.same_pool = true;
  IclEpisodeOptions o;
  o.demos = 16;
  o.max_tokens = 200;
  o.episodes = 40;
  const TokenDatasetContents c = data::icl_episodes({sst2, trec_training()}, tok512(), o, "t");
  const std::vector<int32_t>& task = c.int32s.at("/tasks");
  // An episode whose query leaves no room for one demonstration is left out.
  ASSERT_GT(task.size(), 60u);
  ASSERT_LE(task.size(), 80u);
  bool cut = false;
  std::map<int32_t, size_t> per_task;
  for (size_t i = 0; i < task.size(); ++i) {
    if (i > 0) {
      EXPECT_LE(task[i - 1], task[i]) << "tasks out of order at " << i;
    }
    ++per_task[task[i]];
    EXPECT_LE(1 + tokens_of(c, i), o.max_tokens) << i;
    const size_t turns = turns_of(c, i).size();
    EXPECT_GE(turns, 3u);
    cut |= turns < 18;
  }
  EXPECT_EQ(per_task.size(), 2u);
  EXPECT_LE(per_task[0], 40u);
  EXPECT_LE(per_task[1], 40u);
  EXPECT_TRUE(cut) << "200 tokens hold 16 demonstrations of every episode";
}

TEST(IclEpisodes, BadOptionsAreOneLineErrors) {
  const IclEpisodeTask t = trec_training();
  IclEpisodeOptions o;
  o.demos = 0;
  EXPECT_EQ(error_of([&] { data::icl_episodes({t}, tok512(), o, "x"); }),
            "data icl-episodes: --demos must be at least 1, got 0");
  o.demos = 4;
  o.max_tokens = 8;
  EXPECT_EQ(error_of([&] { data::icl_episodes({t}, tok512(), o, "x"); }),
            "data icl-episodes: no episode of trec fits --max-tokens 8 with a demonstration");
  IclEpisodeTask mixed = t;
  mixed.demos = data::read_icl("sst2", {sample("icl/sst2/test.tsv")});
  mixed.same_pool = false;
  o.max_tokens = 1024;
  EXPECT_EQ(error_of([&] { data::icl_episodes({mixed}, tok512(), o, "x"); }),
            "data icl-episodes: the demonstrations of trec come from task sst2");
}

}  // namespace
}  // namespace condense::testing
