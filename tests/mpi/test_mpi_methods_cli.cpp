// The methods whose step is a pass graph, `condense train --method autocompressor|rmt|fot`
// on a grid of ranks, end to end through mpirun, against one rank:
// The smoke configs with a random 4-layer model in place of stories260K (whose 5 layers
// do not split over 2 stages), stories260K's tokenizer:
// - AutoCompressor and RMT, the smoke configs (a book sample, σ over segments of
//   randomized or fixed lengths) for 6 steps: two pipeline stages with two
//   documents per step, whose σ travels from the last stage to the first, give the
//   single-rank losses within 1e-5 relative; so does a run that stops after 3 steps on
//   the pipeline and resumes from its checkpoint at tp=2; and the last_segment
//   evaluation rank 0 runs on the gathered model gives the single-rank perplexities;
// - FoT, the smoke config (crossbatch d 1, then 3 from step 5) for 10 steps: the same
//   on two pipeline stages, and stopped after 5 steps there and resumed at tp=2 (the
//   d schedule follows the data position the checkpoint restores); the passkey
//   evaluation's accuracies equal.
// This binary is not itself run under mpirun: it starts mpirun.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

constexpr double kTolerance = 1e-5;

class MpiMethods : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    make_sample_book_data(*dir_);
    ASSERT_FALSE(HasFailure());
    const auto r =
        run_condense({"data", "passkey", "--lengths", "480", "--per-length", "64", "--seed",
                      "1000", "--tokenizer", tokenizer(), "--out", passkey()},
                     dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model() { return dir_->file("stories"); }
  static std::string tokenizer() { return model() + "/tokenizer.model"; }
  static std::string train() { return dir_->file("train.h5"); }
  static std::string valid() { return dir_->file("valid.h5"); }
  static std::string passkey() { return dir_->file("passkey.h5"); }

  // `condense train` with smoke config `config` on `data` (--data.* option, path pairs)
  // into `run`, from random weights with 4 layers (a pipeline of 2 stages splits them
  // evenly), logging every step and saving every `save_every`.
  static std::vector<std::string> train_args(
      const std::string& config, const std::vector<std::string>& data, const std::string& run,
      const std::string& save_every) {
    std::vector<std::string> w = {"train", "--config",
                                  source_path("experiments/configs/" + config)};
    w.insert(w.end(), data.begin(), data.end());
    w.insert(w.end(), {"--data.tokenizer", tokenizer(), "--train.init_from", "",
                       "--model.n_layers", "4", "--run.dir", run, "--train.log_every", "1",
                       "--train.save_every", save_every, "--quiet"});
    return w;
  }

  // The smoke config `config` for 6 steps of 4 windows, a checkpoint every 3, the
  // last_segment task on 4 windows at the end.
  static std::vector<std::string> smoke(const std::string& config, const std::string& run,
                                        const std::vector<std::string>& more = {}) {
    std::vector<std::string> w = train_args("autocompressor/" + config,
                                            {"--data.train", train(), "--data.valid", valid()},
                                            run, "3");
    const std::string method = config == "smoke.cfg" ? "autocompressor" : "rmt";
    w.insert(w.end(), {"--train.steps", "6", "--" + method + ".eval_windows", "4"});
    w.insert(w.end(), more.begin(), more.end());
    return w;
  }
  static CommandResult on_ranks(int ranks, const std::vector<std::string>& words) {
    std::vector<std::string> argv = mpirun_condense(ranks);
    argv.insert(argv.end(), words.begin(), words.end());
    return run_command(argv, dir_->path());
  }

  // FoT's smoke config for 10 steps, logging every step, a checkpoint every 5.
  static std::vector<std::string> fot_smoke(const std::string& run,
                                            const std::vector<std::string>& more = {}) {
    std::vector<std::string> w = train_args("fot/smoke.cfg", {"--data.train", passkey()}, run, "5");
    w.insert(w.end(), more.begin(), more.end());
    return w;
  }

  static void expect_same_losses(const std::string& run, const std::string& reference,
                                 size_t steps) {
    const auto got = logged_by_step(run, "loss"), want = logged_by_step(reference, "loss");
    EXPECT_EQ(want.size(), steps) << reference;
    for (const auto& [step, value] : want) {
      ASSERT_TRUE(got.count(step)) << run << " has no loss at step " << step;
      EXPECT_NEAR(got.at(step), value, kTolerance * value) << run << " step " << step;
    }
  }
  // The last_segment evaluation after step 6: every perplexity and NLL.
  static void expect_same_evaluation(const std::string& run, const std::string& reference) {
    const auto got = nlohmann::json::parse(slurp(run + "/eval/last_segment-6.json"));
    const auto want = nlohmann::json::parse(slurp(reference + "/eval/last_segment-6.json"));
    EXPECT_NEAR(got["ppl_none"].get<double>(), want["ppl_none"].get<double>(),
                kTolerance * want["ppl_none"].get<double>())
        << run;
    ASSERT_EQ(got["contexts"].size(), want["contexts"].size());
    for (size_t i = 0; i < want["contexts"].size(); ++i)
      for (const auto& [key, value] : want["contexts"][i].items()) {
        if (!value.is_number_float()) continue;
        EXPECT_NEAR(got["contexts"][i][key].get<double>(), value.get<double>(),
                    kTolerance * value.get<double>())
            << run << " context " << i << " " << key;
      }
  }

  static TempDir* dir_;
};

TempDir* MpiMethods::dir_ = nullptr;

TEST_F(MpiMethods, PipelineAndAResumeAtAnotherLayoutTrainAsOneRank) {
  for (const std::string config : {"smoke.cfg", "rmt_smoke.cfg"}) {
    const std::string single = dir_->file("single-" + config);
    auto r = run_condense(smoke(config, single), dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;

    const std::string pp = dir_->file("pp2-" + config);
    r = on_ranks(2, smoke(config, pp, {"--pp", "2", "--micro-batches", "2"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_same_losses(pp, single, 6);
    expect_same_evaluation(pp, single);

    // Three steps on the pipeline, then resumed from that checkpoint at tp=2.
    const std::string moved = dir_->file("pp2-then-tp2-" + config);
    r = on_ranks(
        2, smoke(config, moved, {"--pp", "2", "--micro-batches", "2", "--train.stop_at", "3"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = on_ranks(2, smoke(config, moved, {"--resume", "--tp", "2"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_same_losses(moved, single, 6);
    expect_same_evaluation(moved, single);
  }
}

TEST_F(MpiMethods, FotOnAPipelineAndResumedAtAnotherLayoutTrainsAsOneRank) {
  const std::string single = dir_->file("fot-single");
  auto r = run_condense(fot_smoke(single), dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string pp = dir_->file("fot-pp2");
  r = on_ranks(2, fot_smoke(pp, {"--pp", "2"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_losses(pp, single, 10);
  const std::string moved = dir_->file("fot-pp2-then-tp2");
  r = on_ranks(2, fot_smoke(moved, {"--pp", "2", "--train.stop_at", "5"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = on_ranks(2, fot_smoke(moved, {"--resume", "--tp", "2"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_losses(moved, single, 10);
  for (const std::string& run : {pp, moved})
    EXPECT_EQ(nlohmann::json::parse(slurp(run + "/eval/passkey-10.json"))["lengths"],
              nlohmann::json::parse(slurp(single + "/eval/passkey-10.json"))["lengths"])
        << run;
}

}  // namespace
}  // namespace condense::testing
