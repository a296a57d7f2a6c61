// The gist sweep's tables (experiments/methods/gist/report.h) from fake run directories
// with several seeds: means ± standard errors over seeds and the differences to
// pos_control paired by seed equal the hand-computed table below. Also
// tools/gist_synth_ops.py, the exact match per synthetic operation of such runs.
#include <gtest/gtest.h>

#include <filesystem>

#include "eval/csv.h"
#include "experiments/methods/gist/report.h"
#include "tests/cli_test_util.h"
#include "tests/test_data_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

// A run evaluated at step 100 on validation_seen only, trained with train.seed = seed.
std::string fake_run(const TempDir& dir, const std::string& condition, int64_t seed, double em,
                     double rouge_l) {
  const std::string run = dir.file(condition + "-1-" + std::to_string(seed));
  fs::create_directories(run + "/eval");
  write_file(run + "/config.cfg",
             "method = gist\n\n[train]\nseed = " + std::to_string(seed) + "\n");
  write_file(run + "/eval/summary-100.json",
             nlohmann::json{{"condition", condition},
                            {"num_tokens", 1},
                            {"step", 100},
                            {"splits", {{"seen", {{"rougeL", rouge_l}, {"exact_match", em}}}}}}
                 .dump());
  return run;
}

TEST(GistReport, MeansOverSeedsAndPairedDifferencesToPosControl) {
  TempDir dir;
  // Listed out of order: the table sorts pos_control, gist by k, neg_control, by seed.
  const std::vector<std::string> runs = {
      fake_run(dir, "gist", 2, 71, 78), fake_run(dir, "neg_control", 1, 10, 20),
      fake_run(dir, "pos_control", 2, 80, 90), fake_run(dir, "gist", 1, 57, 66),
      fake_run(dir, "pos_control", 1, 60, 70)};
  std::vector<gist::ResultRow> rows;
  for (const std::string& r : runs) rows.push_back(*gist::read_run_result(r));
  gist::sort_rows(rows);
  // pos_control: EM 60, 80 -> 70 ± 10 (sd 14.14 / sqrt 2); gist: 57, 71 -> 64 ± 7;
  // paired gist - pos: -3, -9 -> -6 ± 3, 64 / 70 = 91%; neg_control has seed 1 only:
  // 10 - 60 = -50 with no standard error, 10 / 60 = 17%. ROUGE-L likewise.
  EXPECT_EQ(gist::results_markdown(rows),
            "| condition | k | seeds | steps | EM seen | EM unseen | EM human | ROUGE-L seen | "
            "ROUGE-L unseen | ROUGE-L human |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            "| pos_control | 1 | 2 | 100 | 70.00 ± 10.00 |  |  | 80.00 ± 10.00 |  |  |\n"
            "| gist | 1 | 2 | 100 | 64.00 ± 7.00 |  |  | 72.00 ± 6.00 |  |  |\n"
            "| neg_control | 1 | 1 | 100 | 10.00 |  |  | 20.00 |  |  |\n"
            "\nDifference to pos_control, paired by seed (± standard error over seeds; in "
            "brackets the condition's mean as % of pos_control's):\n\n"
            "| condition | k | EM seen | EM unseen | EM human | ROUGE-L seen | ROUGE-L unseen | "
            "ROUGE-L human |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|\n"
            "| gist | 1 | -6.00 ± 3.00 (91%) |  |  | -8.00 ± 4.00 (90%) |  |  |\n"
            "| neg_control | 1 | -50.00 (17%) |  |  | -50.00 (29%) |  |  |\n");

  gist::write_results_csv(dir.file("rouge.csv"), rows);
  const eval::CsvTable csv = eval::read_csv(dir.file("rouge.csv"));
  EXPECT_EQ(csv.header, (std::vector<std::string>{"condition", "num_gist_tokens", "steps", "seen",
                                                  "unseen", "human", "seed", "exact_match_seen",
                                                  "exact_match_unseen", "exact_match_human"}));
  ASSERT_EQ(csv.rows.size(), 5u);
  EXPECT_EQ(csv.rows[3], (std::vector<std::string>{"gist", "1", "100", "78.0000", "", "", "2",
                                                   "71.0000", "", ""}));
}

TEST(GistReport, MeanSe) {
  const gist::MeanSe m = gist::mean_se({1, 2, 6});  // mean 3, sd sqrt(7), se sqrt(7/3)
  EXPECT_DOUBLE_EQ(m.mean, 3.0);
  EXPECT_NEAR(m.se, std::sqrt(7.0 / 3.0), 1e-12);
  EXPECT_EQ(m.n, 3);
  EXPECT_EQ(gist::mean_se({4}).se, 0.0);
  EXPECT_EQ(gist::mean_se({}).n, 0);
}

// A run with outputs on validation_seen: the answers `preds` to the targets `truths`,
// its summary claiming exact match `em`.
std::string run_with_outputs(const TempDir& dir, const std::string& condition, int64_t seed,
                             const std::vector<std::string>& preds,
                             const std::vector<std::string>& truths, double em) {
  const std::string run = fake_run(dir, condition, seed, em, 0);
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < preds.size(); ++i) rows.push_back({"prompt", preds[i], truths[i]});
  eval::write_csv(run + "/eval/outputs-100-validation_seen.csv", {"x", "y_pred", "y_true"}, rows);
  return run;
}

TEST(GistReport, ExactMatchPerSyntheticOperation) {
  TempDir dir;
  const std::vector<std::string> truths = {"3", "5", "a b c"};
  write_file(dir.file("alpaca_plus_validation_seen.json"),
             R"([{"instruction": "How many items are in the list?", "input": "c b a",
                  "output": "3", "source": "synthetic:count"},
                 {"instruction": "How many items are in the list?", "input": "e d c b a",
                  "output": "5", "source": "synthetic:count"},
                 {"instruction": "Sort the list in alphabetical order.", "input": "c b a",
                  "output": "a b c", "source": "synthetic:sort"}])");
  const std::string tool = "python3 " + shell_quote(source_path("tools/gist_synth_ops.py")) +
                           " --json " + shell_quote(dir.path().string()) + " --out " +
                           shell_quote(dir.file("ops.md"));
  const std::vector<std::string> runs = {
      run_with_outputs(dir, "gist", 1, {"3", "4", "c b a"}, truths, 100.0 / 3),
      run_with_outputs(dir, "pos_control", 1, {" 3\n", "4", "a b c"}, truths, 200.0 / 3),
      run_with_outputs(dir, "gist", 2, {"3", "5", "a b"}, truths, 200.0 / 3)};
  std::string args;
  // append(), not " " + s: GCC 12 warns falsely (-Wstringop-overflow) on the latter.
  for (const std::string& r : runs) args.append(" ").append(shell_quote(r));
  const CommandResult ok = run_shell(tool + args, dir.path());
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  // gist: count 1/2 (seed 1) and 2/2 (seed 2) -> 75.0; sort 0 and 0.
  EXPECT_EQ(slurp(dir.file("ops.md")),
            "validation_seen (examples per operation in brackets):\n\n"
            "| condition | k | seeds | count (2) | sort (1) |\n"
            "|---|---:|---:|---:|---:|\n"
            "| pos_control | 1 | 1 | 50.0 | 100.0 |\n"
            "| gist | 1 | 2 | 75.0 | 0.0 |\n");

  // A summary that counts other answers than the outputs: one line naming the file.
  const std::string wrong = run_with_outputs(dir, "neg_control", 1, {"3", "4", "x"}, truths, 50);
  const CommandResult bad =
      run_shell(std::string(tool).append(" ").append(shell_quote(wrong)), dir.path());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(bad.err, "gist_synth_ops: " + wrong +
                         "/eval/outputs-100-validation_seen.csv: exact match 0.3333333333333333 "
                         "but the summary says 0.5\n");
}

}  // namespace
}  // namespace condense::testing
