// `condense train --method gist` on a grid of ranks, end to end through mpirun, against one
// rank on the shipped Alpaca+ samples (the smoke config's data and model): its
// batches carry left padding, pad-aware positions and the gist mask, which must
// reach every data-parallel share, pipeline micro-batch and tensor-parallel shard.
// Over 10 steps the training and validation losses equal the single-rank run's
// within 1e-5 relative, also across a checkpoint (dp=2 -> resumed at tp=2), and the
// ROUGE evaluation rank 0 runs on the gathered model generates the same outputs.
// A pretrained start (`--train.init_from`, vocabulary grown for <GIST>) too.
// This binary is not itself run under mpirun: it starts mpirun.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

constexpr double kTolerance = 1e-5;

void expect_same(const std::string& run, const std::string& reference, const std::string& key,
                 size_t count) {
  const auto got = logged_by_step(run, key), want = logged_by_step(reference, key);
  EXPECT_EQ(got.size(), count) << run << " " << key;
  EXPECT_EQ(want.size(), count) << reference << " " << key;
  for (const auto& [step, value] : want) {
    ASSERT_TRUE(got.count(step)) << run << " has no " << key << " at step " << step;
    EXPECT_NEAR(got.at(step), value, kTolerance * value) << run << " " << key << " step " << step;
  }
}

class MpiGist : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const auto r = run_condense(
        {"data", "instruct", "--config", config(), "--data.dir", data(), "--prepare.train_json",
         source_path("tests/data/datasets/alpaca_plus/partial/"
                     "alpaca_part_of_train_APPROX.json"),
         "--prepare.valid_dir", source_path("tests/data/datasets/alpaca_plus")},
        dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string config() { return source_path("experiments/configs/gist/smoke.cfg"); }
  static std::string data() { return dir_->file("data"); }

  // `train --method gist` words: the smoke model with a vocabulary of 402 (400 pieces, <GIST>
  // and one spare row, so that tp=2 splits it), `steps` steps, validation loss and a
  // checkpoint every 5, ROUGE on 2 examples per split at the end.
  static std::vector<std::string> gist_train(const std::string& run_dir,
                                             std::vector<std::string> more = {},
                                             const std::string& vocab = "402",
                                             const std::string& steps = "10") {
    std::vector<std::string> w = {"train",  "--method",
                                  "gist",   "--config",
                                  config(), "--data.dir",
                                  data(),   "--run.dir",
                                  run_dir,  "--gist.num_tokens",
                                  "2",      "--model.vocab_size",
                                  vocab,    "--train.steps",
                                  steps,    "--train.log_every",
                                  "1",      "--train.save_every",
                                  "5",      "--train.eval_every",
                                  "5",      "--train.eval_batches",
                                  "2",      "--eval.max_examples",
                                  "2",      "--eval.max_new_tokens",
                                  "8"};
    w.insert(w.end(), more.begin(), more.end());
    return w;
  }
  static CommandResult one_rank(const std::vector<std::string>& words) {
    return run_condense(words, dir_->path());
  }
  static CommandResult on_ranks(int ranks, const std::vector<std::string>& words) {
    std::vector<std::string> argv = mpirun_condense(ranks);
    argv.insert(argv.end(), words.begin(), words.end());
    return run_command(argv, dir_->path());
  }
  static void expect_same_outputs(const std::string& run, const std::string& reference) {
    for (const char* split : {"seen", "unseen", "human"}) {
      const std::string name = std::string("/eval/outputs-10-validation_") + split + ".csv";
      ASSERT_TRUE(std::filesystem::exists(run + name)) << run + name;
      EXPECT_EQ(slurp(run + name), slurp(reference + name)) << name;
    }
  }

  static TempDir* dir_;
};

TempDir* MpiGist::dir_ = nullptr;

TEST_F(MpiGist, LayoutsTrainAndEvaluateAsOneRank) {
  const std::string single = dir_->file("single");
  auto r = one_rank(gist_train(single));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Data parallel for 5 steps, then resumed from its checkpoint at tp=2.
  const std::string dp_tp = dir_->file("dp2_then_tp2");
  r = on_ranks(2, gist_train(dp_tp, {"--train.stop_at", "5"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ranks dp 2 x pp 1 x tp 1"), std::string::npos) << r.err;
  r = on_ranks(2, gist_train(dp_tp, {"--resume", "--tp", "2"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same(dp_tp, single, "loss", 10);
  expect_same(dp_tp, single, "val_loss", 2);
  expect_same_outputs(dp_tp, single);

  // Two pipeline stages, two micro-batches per step.
  const std::string pp = dir_->file("pp2");
  r = on_ranks(2, gist_train(pp, {"--pp", "2", "--micro-batches", "2"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same(pp, single, "loss", 10);
  expect_same(pp, single, "val_loss", 2);
  expect_same_outputs(pp, single);
}

TEST_F(MpiGist, PretrainedStartSplitsOverTensorParallelRanks) {
  // A "pretrained" model whose vocabulary has no spare row (400 pieces + <GIST>):
  // the runs below grow it to 402 (mean rows) before tp=2 splits it.
  const std::string base = dir_->file("base");
  auto r = one_rank(gist_train(base, {}, "401", "3"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> from = {"--train.init_from", base};
  const std::string single = dir_->file("from_base_single"), tp = dir_->file("from_base_tp2");
  r = one_rank(gist_train(single, from));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto tp_words = gist_train(tp, from);
  tp_words.insert(tp_words.end(), {"--tp", "2"});
  r = on_ranks(2, tp_words);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same(tp, single, "loss", 10);
  expect_same_outputs(tp, single);
}

}  // namespace
}  // namespace condense::testing
