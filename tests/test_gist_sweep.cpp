// The gisting smoke sweep (experiments/configs/gist/smoke.cfg) end to end through the
// `condense` binary: prepare, an interrupted run that the sweep resumes exactly,
// six trained and evaluated runs, the ROUGE table and plot, a second sweep that skips
// everything, and `eval --method gist --task rouge` on a finished run.
#include <gtest/gtest.h>

#include <filesystem>

#include "eval/csv.h"
#include "experiments/run_dir.h"
#include "tests/cli_test_util.h"
#include "tests/test_data_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

// The smoke config with its data in `data_dir`, built from the shipped Alpaca+ samples.
std::vector<std::string> smoke_data_args(const std::string& data_dir) {
  return {"--config",
          source_path("experiments/configs/gist/smoke.cfg"),
          "--data.dir",
          data_dir,
          "--prepare.train_json",
          source_path("tests/data/datasets/alpaca_plus/partial/alpaca_part_of_train_APPROX.json"),
          "--prepare.valid_dir",
          source_path("tests/data/datasets/alpaca_plus")};
}

TEST(GistSweep, SmokeSweepRunsResumesAndSkips) {
  TempDir dir;
  const std::string sweep_dir = dir.file("sweep"), data_dir = dir.file("data");
  const std::vector<std::string> common = smoke_data_args(data_dir);
  auto with = [&](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), common.begin(), common.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };

  auto prep = run_condense(with({"data", "instruct"}, {}), dir.path());
  ASSERT_EQ(prep.exit_code, 0) << prep.err;
  // An interrupted run (as if killed after its checkpoint at step 10) ...
  auto part = run_condense(
      with({"train", "--method", "gist"},
           {"--run.dir", sweep_dir + "/gist-1", "--gist.num_tokens", "1", "--train.stop_at", "10"}),
      dir.path());
  ASSERT_EQ(part.exit_code, 0) << part.err;
  // ... and an uninterrupted one to compare the resumed run with.
  auto whole = run_condense(
      with({"train", "--method", "gist"},
           {"--run.dir", dir.file("whole"), "--gist.num_tokens", "1", "--eval.max_examples", "1"}),
      dir.path());
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  auto sweep = run_condense(with({"sweep"}, {"--sweep.dir", sweep_dir}), dir.path());
  ASSERT_EQ(sweep.exit_code, 0) << sweep.err;
  EXPECT_NE(sweep.err.find("gist-1: resuming"), std::string::npos) << sweep.err;
  // The resumed run logs the same losses as the uninterrupted one (plus its stop at 10).
  std::map<int64_t, double> resumed = logged_by_step(sweep_dir + "/gist-1", "loss");
  resumed.erase(10);
  EXPECT_EQ(resumed, logged_by_step(dir.file("whole"), "loss"));

  const eval::CsvTable table = eval::read_csv(sweep_dir + "/rouge.csv");
  EXPECT_EQ(table.header, (std::vector<std::string>{"condition", "num_gist_tokens", "steps", "seen",
                                                    "unseen", "human", "seed", "exact_match_seen",
                                                    "exact_match_unseen", "exact_match_human"}));
  std::vector<std::string> rows;
  for (const auto& r : table.rows) rows.push_back(r[0] + "-" + r[1]);
  EXPECT_EQ(rows, (std::vector<std::string>{"pos_control-1", "gist-1", "gist-2", "gist-5",
                                            "gist-10", "neg_control-1"}));
  EXPECT_TRUE(fs::exists(sweep_dir + "/rouge.md"));
  EXPECT_NE(slurp(sweep_dir + "/rouge.svg").find("<svg"), std::string::npos);
  EXPECT_NE(sweep.out.find("| gist | 10 | 1 | 100 |"), std::string::npos) << sweep.out;
  for (const char* split : {"seen", "unseen", "human"}) {
    const eval::CsvTable out = eval::read_csv(sweep_dir + "/gist-5/eval/outputs-100-validation_" +
                                              std::string(split) + ".csv");
    EXPECT_EQ(out.header, (std::vector<std::string>{"x", "y_pred", "y_true"}));
    EXPECT_EQ(out.rows.size(), 8u);
    EXPECT_NE(out.rows[0][0].find("<GIST> <GIST> <GIST> <GIST> <GIST>\n"), std::string::npos);
  }

  auto again = run_condense(with({"sweep"}, {"--sweep.dir", sweep_dir}), dir.path());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  size_t skipped = 0;
  for (size_t at = 0; (at = again.err.find("finished, skipped", at)) != std::string::npos; ++at)
    ++skipped;
  EXPECT_EQ(skipped, 6u) << again.err;
  EXPECT_EQ(again.out, sweep.out);

  auto ev = run_condense(
      with({"eval", "--method", "gist", "--task", "rouge"}, {"--run.dir", sweep_dir + "/gist-2"}),
      dir.path());
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  EXPECT_EQ(ev.out.rfind("seen_rougeL=", 0), 0u) << ev.out;
  EXPECT_NE(ev.out.find("human_rougeL="), std::string::npos) << ev.out;
}

// Fine-tuning a pretrained model: llama2.c's stories260K (vocab 512) gets a 513th,
// mean-initialised row for <GIST> and trains on data tokenized with its own tokenizer.
TEST(GistSweep, FineTunesAnImportedCheckpoint) {
  TempDir dir;
  const std::string model = dir.file("stories"), data_dir = dir.file("data");
  auto imp = run_condense(
      {"import", "llama2c", "--model", source_path("tests/data/tinyllamas/stories260K.bin"),
       "--tokenizer", source_path("tests/data/tinyllamas/tok512.bin"), "--out", model},
      dir.path());
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  auto prep = run_condense(
      {"data", "instruct", "--data.dir", data_dir, "--prepare.tokenizer",
       model + "/tokenizer.model", "--prepare.train_json",
       source_path("tests/data/datasets/alpaca_plus/partial/alpaca_part_of_train_APPROX.json"),
       "--prepare.valid_dir", source_path("tests/data/datasets/alpaca_plus")},
      dir.path());
  ASSERT_EQ(prep.exit_code, 0) << prep.err;
  auto train = run_condense({"train",
                             "--method",
                             "gist",
                             "--data.dir",
                             data_dir,
                             "--run.dir",
                             dir.file("run"),
                             "--train.init_from",
                             model,
                             "--train.steps",
                             "3",
                             "--train.batch_size",
                             "4",
                             "--train.seq_len",
                             "256",
                             "--gist.num_tokens",
                             "2",
                             "--eval.max_examples",
                             "2",
                             "--eval.max_new_tokens",
                             "4"},
                            dir.path());
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.err.find("vocab 513 (<GIST> = 512)"), std::string::npos) << train.err;
  EXPECT_TRUE(fs::exists(dir.file("run") + "/eval/outputs-3-validation_human.csv"));
}

// A grid that varies the method: gist and its full-context reference in one sweep, each
// run trained with its own --method and scored by its own table.
TEST(GistSweep, GridVariesTheMethod) {
  TempDir dir;
  const std::string sweep_dir = dir.file("sweep"), data_dir = dir.file("data");
  const std::vector<std::string> data = smoke_data_args(data_dir);
  auto with_grid = [&](const std::string& grid) {
    std::vector<std::string> a = {"sweep"};
    a.insert(a.end(), data.begin(), data.end());
    a.insert(a.end(), {"--sweep.dir", sweep_dir, "--train.steps", "10", "--eval.max_examples",
                       "2", "--eval.max_new_tokens", "4", "--sweep.grid", grid});
    return a;
  };
  // A grid over methods builds no data: each method's must exist.
  std::vector<std::string> prep_args = {"data", "instruct"};
  prep_args.insert(prep_args.end(), data.begin(), data.end());
  auto prep = run_condense(prep_args, dir.path());
  ASSERT_EQ(prep.exit_code, 0) << prep.err;
  auto foreign = run_condense(with_grid("method=full gist.num_tokens=1"), dir.path());
  expect_one_line_error(foreign, "gist.num_tokens is not an option of --method full");
  auto unknown = run_condense(with_grid("method=gist,telepathy"), dir.path());
  expect_one_line_error(unknown, "telepathy");

  auto sweep = run_condense(with_grid("method=gist gist.num_tokens=2; method=full"), dir.path());
  ASSERT_EQ(sweep.exit_code, 0) << sweep.err;
  EXPECT_EQ(exp::read_run_config(sweep_dir + "/gist-2", "gist").method, "gist");
  EXPECT_EQ(exp::read_run_config(sweep_dir + "/full", "full").method, "full");
  EXPECT_EQ(slurp(sweep_dir + "/configs/full.cfg").rfind("method = full\n", 0), 0u);
  for (const char* m : {"gist", "full"}) {
    const eval::CsvTable table =
        eval::read_csv(sweep_dir + "/tables/" + std::string(m) + "/rouge.csv");
    ASSERT_EQ(table.rows.size(), 1u) << m;
  }
  auto again = run_condense(with_grid("method=gist gist.num_tokens=2; method=full"), dir.path());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("[2/2] full: finished, skipped"), std::string::npos) << again.err;
}

TEST(GistSweep, BadConditionIsAOneLineError) {
  TempDir dir;
  auto r = run_condense(
      {"train", "--method", "gist", "--config", source_path("experiments/configs/gist/smoke.cfg"),
       "--data.dir", dir.file("none"), "--run.dir", dir.file("run"), "--gist.condition",
       "half_gist"},
      dir.path());
  expect_one_line_error(r, "half_gist");
}

}  // namespace
}  // namespace condense::testing
