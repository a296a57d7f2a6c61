// What the CCM results (docs/results/ccm) are built from, through the `condense` binary
// and tools/ccm_results.py: the full-context base (--ccm.train_base: every weight
// trained, no LoRA) that the CCM runs start from (and `eval` accepts as their base),
// the dialogue task's scores by number of context turns (whole dialogues, or cut to
// --ccm.eval_turns), the turn-length filter, the recall set as text (to train its
// tokenizer on), and the results table.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/checkpoint.h"
#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

class CcmResults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    auto r = import_stories260k(model(), dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const auto& [seed, n, out] : {std::tuple{"1", "200", recall()}, {"2", "24", valid()}}) {
      r = run_condense({"data", "recall", "--seed", seed, "--dialogues", n, "--min_facts", "1",
                        "--max_facts", "4", "--tokenizer", tokenizer(), "--out", out},
                       dir_->path());
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model() { return dir_->file("model"); }
  static std::string tokenizer() { return model() + "/tokenizer.model"; }
  static std::string recall() { return dir_->file("recall.h5"); }
  static std::string valid() { return dir_->file("valid.h5"); }

  // A short ccm run of the smoke config on this suite's data, plus `extra`.
  static CommandResult train(const std::string& run, const std::string& init_from,
                             std::vector<std::string> extra) {
    std::vector<std::string> args = {"train",
                                     "--config",
                                     source_path("experiments/configs/ccm/smoke.cfg"),
                                     "--data.train",
                                     recall(),
                                     "--data.valid",
                                     valid(),
                                     "--data.tokenizer",
                                     tokenizer(),
                                     "--train.init_from",
                                     init_from,
                                     "--run.dir",
                                     run,
                                     "--train.steps",
                                     "6",
                                     "--train.save_every",
                                     "6"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_condense(args, dir_->path());
  }
  static nlohmann::json eval_json(const std::string& run, int step) {
    std::ifstream in(run + "/eval/dialogue-" + std::to_string(step) + ".json");
    return nlohmann::json::parse(in);
  }
  // The number of turns of each dialogue of valid().
  static std::vector<int64_t> valid_turns() {
    const CommandResult r =
        run_condense({"data", "recall", "--seed", "2", "--dialogues", "24", "--min_facts", "1",
                      "--max_facts", "4", "--text_out", dir_->file("valid.txt")},
                     dir_->path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<int64_t> turns(1, 0);
    std::ifstream in(dir_->file("valid.txt"));
    for (std::string line; std::getline(in, line);)
      if (line.empty())
        turns.push_back(0);
      else
        ++turns.back();
    turns.pop_back();  // after the last dialogue's blank line
    return turns;
  }
  static TempDir* dir_;
};
TempDir* CcmResults::dir_ = nullptr;

TEST_F(CcmResults, FullContextBaseTrainsEveryWeightAndScoresByContextTurns) {
  const std::string base = dir_->file("base");
  const CommandResult r = train(base, model(), {"--ccm.attn", "no", "--ccm.train_base", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("every weight trained"), std::string::npos) << r.err;
  const CheckpointContents start = read_checkpoint(model() + "/model.h5", false);
  const CheckpointContents end = read_checkpoint(base + "/checkpoints/step_00000006.h5", false);
  EXPECT_TRUE(end.meta.base_checkpoint.empty());  // nothing frozen, so nothing left out
  for (const auto& [name, t] : end.params) EXPECT_EQ(name.find("lora"), std::string::npos);
  const std::string w = "model.layers.0.self_attn.q_proj.weight";
  ASSERT_TRUE(start.params.count(w) && end.params.count(w));
  EXPECT_NE(start.params.at(w).to_vector(), end.params.at(w).to_vector());

  // Every dialogue of valid() lands in the bucket of its context turns (turns - 2).
  const nlohmann::json j = eval_json(base, 6);
  std::map<std::string, int64_t> expect;
  for (const int64_t t : valid_turns()) ++expect[std::to_string(t - 2)];
  ASSERT_EQ(j["by_context_turns"].size(), expect.size()) << j.dump();
  for (const auto& [t, n] : expect) {
    EXPECT_EQ(j["by_context_turns"][t]["dialogues"].get<int64_t>(), n) << t;
    EXPECT_TRUE(std::isfinite(j["by_context_turns"][t]["ppl"].get<double>())) << t;
  }
  EXPECT_EQ(j["dialogues"].get<int64_t>(), 24);

  // A CCM run starts from that base, frozen, and the results table reads both runs.
  const std::string ccm = dir_->file("ccm");
  const CommandResult c = train(ccm, base, {});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  // Over that base, though each has a <COMP> table of its own.
  const CommandResult e =
      run_condense({"eval", "--method", "ccm", "--task", "dialogue", "--config",
                    source_path("experiments/configs/ccm/smoke.cfg"), "--data.valid", valid(),
                    "--data.tokenizer", tokenizer(), "--train.init_from", base, "--run.dir", ccm},
                   dir_->path());
  EXPECT_EQ(e.exit_code, 0) << e.err;
  const std::string out = dir_->file("results");
  const CommandResult t = run_shell("python3 " + shell_quote(source_path("tools/ccm_results.py")) +
                                        " --out " + shell_quote(out) + " --turns 1,2,4 " +
                                        shell_quote(base) + " " + shell_quote(ccm),
                                    dir_->path());
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const std::string md = slurp(out + "/results.md");
  EXPECT_NE(md.find("| full context | 6 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| CCM-concat n=2 | 6 |"), std::string::npos) << md;
  EXPECT_TRUE(fs::exists(out + "/results.svg"));
  EXPECT_TRUE(fs::exists(out + "/runs/ccm/eval/dialogue-6.json"));
}

TEST_F(CcmResults, EvalTurnsCutEachDialogueAndTheTurnFilterLeavesDialoguesOut) {
  const std::string run = dir_->file("cut");
  CommandResult r =
      train(run, model(), {"--ccm.eval_turns", "3,4", "--ccm.eval_generate", "false"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = eval_json(run, 6);
  int64_t at3 = 0, at4 = 0;
  for (const int64_t t : valid_turns()) at3 += t >= 3, at4 += t >= 4;
  EXPECT_EQ(j["by_context_turns"]["1"]["dialogues"].get<int64_t>(), at3);
  EXPECT_EQ(j["by_context_turns"]["2"]["dialogues"].get<int64_t>(), at4);
  EXPECT_EQ(j["by_context_turns"].size(), 2u);
  EXPECT_EQ(j["exact_match"].get<double>(), 0.0);  // not decoded

  // A limit below every turn's length leaves nothing: a one-line error, no run.
  const std::string none = dir_->file("none");
  r = train(none, model(), {"--ccm.max_turn_tokens", "1"});
  EXPECT_NE(r.exit_code, 0);
  ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
  EXPECT_NE(r.err.find("--ccm.max_turn_tokens"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(none));
  r = train(none, model(), {"--ccm.eval_turns", "3,x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("ccm.eval_turns"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(none));
}

}  // namespace
}  // namespace condense::testing
