// CCM through the `condense` binary: `data recall` writes the synthetic set,
// `train --method ccm --config experiments/configs/ccm/smoke.cfg` trains on it from
// stories260K (the loss falls, the frozen base leaves the run bit-identical, the run
// ends with the dialogue task, which `condense eval` reproduces), `sweep --method ccm`
// tabulates a grid and skips finished runs, and bad input is a one-line error that
// writes nothing.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/checkpoint.h"
#include "core/tensor.h"
#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

class CcmCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    auto r = import_stories260k(model(), dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_condense({"data", "recall", "--seed", "1", "--dialogues", "300", "--min_facts", "1",
                      "--max_facts", "4", "--tokenizer", tokenizer(), "--out", recall()},
                     dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_condense({"data", "recall", "--seed", "2", "--dialogues", "40", "--min_facts", "1",
                      "--max_facts", "4", "--tokenizer", tokenizer(), "--out", valid()},
                     dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model() { return dir_->file("model"); }
  static std::string tokenizer() { return model() + "/tokenizer.model"; }
  static std::string recall() { return dir_->file("recall.h5"); }
  static std::string valid() { return dir_->file("recall-valid.h5"); }

  // The smoke config with this suite's model, data and run directory.
  static std::vector<std::string> smoke(const std::string& run) {
    return {"train",
            "--config",
            source_path("experiments/configs/ccm/smoke.cfg"),
            "--data.train",
            recall(),
            "--data.valid",
            valid(),
            "--data.tokenizer",
            tokenizer(),
            "--train.init_from",
            model(),
            "--run.dir",
            run};
  }

  static TempDir* dir_;
};
TempDir* CcmCli::dir_ = nullptr;

TEST_F(CcmCli, SmokeConfigTrainsTheAdapterOverAFrozenBase) {
  const std::string run = dir_->file("run");
  const auto r = run_condense(smoke(run), dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ccm concat_recur n_tok 2"), std::string::npos) << r.err;
  const auto losses = logged_losses(run);
  ASSERT_EQ(losses.size(), 6u);
  EXPECT_LT(losses.back().second, losses.front().second - 0.5);
  // The base is the imported model, bit for bit; the adapter and the table were trained.
  const CheckpointContents start = read_checkpoint(model() + "/model.h5", false);
  const CheckpointContents end = read_checkpoint(run + "/checkpoints/step_00000030.h5", false);
  for (const auto& [name, t] : start.params) {
    ASSERT_TRUE(end.params.count(name)) << name;
    EXPECT_EQ(end.params.at(name).to_vector(), t.to_vector()) << name;
  }
  ASSERT_TRUE(end.params.count("ccm.comp_embed.weight"));
  EXPECT_EQ(end.params.at("ccm.comp_embed.weight").shape(), (Shape{2, 64}));
  // The run ends with the dialogue task: its summary, and the concat memory of 2 entries
  // per fact turn (1..4 of them).
  const auto j = nlohmann::json::parse(slurp(run + "/eval/dialogue-30.json"));
  EXPECT_EQ(j["dialogues"].get<int64_t>(), 40);
  EXPECT_GE(j["memory_entries"].get<double>(), 2.0);
  EXPECT_LE(j["memory_entries"].get<double>(), 8.0);
  EXPECT_GT(j["ppl"].get<double>(), 1.0);
  const size_t at = r.err.find("dialogue: ppl");
  ASSERT_NE(at, std::string::npos) << r.err;
  // `condense eval` on the finished run scores the same.
  const auto e = run_condense(
      {"eval", "--method", "ccm", "--task", "dialogue", "--run.dir", run, "--data.train", recall(),
       "--data.valid", valid(), "--data.tokenizer", tokenizer()},
      dir_->path());
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.out, r.err.substr(at, r.err.find('\n', at) - at) + "\n");
  const auto lora_b = end.params.at("model.layers.0.self_attn.q_proj.lora_B.weight").to_vector();
  EXPECT_NE(lora_b, std::vector<float>(lora_b.size(), 0.0f));
}

TEST_F(CcmCli, SweepTrainsEvaluatesTabulatesAndSkipsFinishedRuns) {
  const std::string sweep = dir_->file("sweep");
  std::vector<std::string> args = smoke(dir_->file("unused"));
  args[0] = "sweep";
  args.resize(args.size() - 2);  // the sweep names the runs' directories
  args.insert(args.end(), {"--train.steps", "3", "--train.save_every", "3", "--sweep.dir", sweep,
                           "--sweep.grid",
                           "ccm.attn=merge_recur ccm.n_tok=1; ccm.attn=neg_control ccm.n_tok=1"});
  auto r = run_condense(args, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string md = slurp(sweep + "/dialogue.md");
  EXPECT_NE(md.find("| merge_recur-1 | 3 | merge_recur | 1 | no |"), std::string::npos) << md;
  EXPECT_NE(md.find("| neg_control-1 | 3 | neg_control | 1 | no |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1.0 | "), std::string::npos) << md;     // merge: n_tok entries
  EXPECT_NE(md.find("| 0.0 | 0 |"), std::string::npos) << md;  // no context: nothing
  r = run_condense(args, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("merge_recur-1: finished, skipped"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(sweep + "/dialogue.md"), md);
}

TEST_F(CcmCli, BadInputIsAOneLineErrorThatWritesNothing) {
  // A dataset without turn offsets.
  const std::string text = dir_->file("text.h5");
  ASSERT_EQ(run_condense({"data", "text", "--input", source_path("tests/data/train_sample.txt"),
                          "--tokenizer", tokenizer(), "--out", text},
                         dir_->path())
                .exit_code,
            0);
  std::vector<std::string> args = smoke(dir_->file("bad1"));
  args.insert(args.end(), {"--data.train", text});
  args.erase(args.begin() + 3, args.begin() + 5);  // the suite's --data.train
  auto r = run_condense(args, dir_->path());
  expect_one_line_error(r, "not a dialogue dataset with turn offsets");
  EXPECT_FALSE(fs::exists(dir_->file("bad1")));
  // n_tok <= 0, an unknown attention type.
  args = smoke(dir_->file("bad2"));
  args.insert(args.end(), {"--ccm.n_tok", "0"});
  expect_one_line_error(run_condense(args, dir_->path()), "n_tok");
  EXPECT_FALSE(fs::exists(dir_->file("bad2")));
  args = smoke(dir_->file("bad3"));
  args.insert(args.end(), {"--ccm.attn", "mergee"});
  expect_one_line_error(run_condense(args, dir_->path()), "merge_recur");
  EXPECT_FALSE(fs::exists(dir_->file("bad3")));
  // Bad recall options.
  r = run_condense({"data", "recall", "--max_facts", "99", "--tokenizer", tokenizer(), "--out",
                    dir_->file("r.h5")},
                   dir_->path());
  expect_one_line_error(r, "--max_facts");
  EXPECT_FALSE(fs::exists(dir_->file("r.h5")));
}

}  // namespace
}  // namespace condense::testing
