// `condense report` over fake but valid run directories: the task table equals a
// hand-written one (latest step, rows by metric then memory, a row for a run whose
// method has no record of the task), and bad input (a run without results.jsonl, a
// half-written line, runs of different bases, an argument that is no run, an unknown
// option) is a one-line error naming it that writes nothing. Also: append_result
// replaces a record of the same slot, and the Pareto front of a few points.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "eval/csv.h"
#include "eval/pareto_plot.h"
#include "experiments/result_record.h"
#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A run directory: config.cfg naming `method`, base.json with `base` (none if ""), and
// results.jsonl lines.
std::string make_run(const fs::path& dir, const std::string& method, const std::string& base,
                     const std::vector<std::string>& results) {
  write(dir / "config.cfg", "method = " + method + "\n[train]\nsteps = 10\n");
  if (!base.empty()) write(dir / "base.json", "{\"id\": \"" + base + "\"}\n");
  std::string lines;
  for (const std::string& r : results) lines += r + "\n";
  if (!results.empty()) write(dir / "results.jsonl", lines);
  return dir.string();
}

std::string record(const std::string& task, const std::string& condition, const std::string& metric,
                   double value, double se, int64_t step, double vectors, double bytes,
                   double context, double flops, double seconds, int64_t train_tokens) {
  const nlohmann::json j = {{"task", task},
                            {"condition", condition},
                            {"metric", metric},
                            {"higher_is_better", true},
                            {"value", value},
                            {"std_error", se},
                            {"n", 20},
                            {"step", step},
                            {"memory_vectors", vectors},
                            {"memory_bytes", bytes},
                            {"context_tokens", context},
                            {"flops_per_query", flops},
                            {"seconds_per_query", seconds},
                            {"train_tokens", train_tokens}};
  return j.dump();
}

class Report : public ::testing::Test {
 protected:
  void SetUp() override {
    // A sweep directory with a gist run and a full run (and the data directory a sweep
    // keeps beside them), and a FoT run on its own.
    sweep_ = dir_.file("sweep");
    fs::create_directories(dir_.path() / "sweep" / "data");
    make_run(
        dir_.path() / "sweep" / "a", "gist", "sha256:abc",
        {record("instruct_seen", "gist", "exact_match", 0.1, 0, 5, 1, 256, 12, 0, 0.03, 2560),
         record("instruct_seen", "gist", "exact_match", 0.5, 0.1118, 10, 1, 256, 12, 0, 0.0213,
                5120),
         record("instruct_seen", "gist", "rouge_l", 0.75, 0.05, 10, 1, 256, 12, 0, 0.0213, 5120)});
    make_run(
        dir_.path() / "sweep" / "b", "full", "sha256:abc",
        {record("instruct_seen", "full", "rouge_l", 0.8, 0, 10, 12, 3072, 12, 1.5e6, 0.05, 0),
         record("instruct_seen", "full", "exact_match", 0.6, 0, 10, 12, 3072, 12, 1.5e6, 0.05, 0)});
    fot_ = make_run(dir_.path() / "c", "fot", "sha256:abc",
                    {record("passkey_64", "dense", "accuracy", 1, 0, 10, 40, 8192, 64, 0, 0.5, 0)});
  }

  CommandResult report(std::vector<std::string> args) {
    args.insert(args.begin(), "report");
    args.insert(args.end(), {"--out", out()});
    return run_condense(args, dir_.path());
  }
  std::string out() const { return dir_.file("report"); }

  TempDir dir_;
  std::string sweep_, fot_;
};

TEST_F(Report, TaskTableEqualsTheHandWrittenOne) {
  const CommandResult r = report({sweep_, fot_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string expected =
      "## instruct_seen\n\n"
      "Rows by metric, then memory: the key/value entries per layer (or soft-prompt vectors) an "
      "answer reads of its context, and their bytes; compression = context tokens / memory "
      "vectors; — = not known.\n\n"
      "| run | method | condition | metric | value ± s.e. | n | memory vectors | memory bytes | "
      "compression | FLOPs/query | s/query | train tokens |\n"
      "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
      "| a | gist | gist | exact_match | 0.500 ± 0.112 | 20 | 1 | 256 B | 12.0× | — | 0.0213 | "
      "5120 |\n"
      "| b | full | full | exact_match | 0.600 | 20 | 12 | 3.07 kB | 1.0× | 1.5e+06 | 0.05 | — |\n"
      "| a | gist | gist | rouge_l | 0.750 ± 0.050 | 20 | 1 | 256 B | 12.0× | — | 0.0213 | 5120 |\n"
      "| b | full | full | rouge_l | 0.800 | 20 | 12 | 3.07 kB | 1.0× | 1.5e+06 | 0.05 | — |\n"
      "| c | fot | not scored: method fot has tasks passkey |  |  |  |  |  |  |  |  |  |\n";
  EXPECT_EQ(slurp(out() + "/instruct_seen.md"), expected);
  EXPECT_NE(r.out.find(expected), std::string::npos) << r.out;
  // The other task, and its row for the runs whose methods do not score it.
  const std::string passkey = slurp(out() + "/passkey_64.md");
  EXPECT_NE(passkey.find("| c | fot | dense | accuracy | 1.000 | 20 | 40 | 8.19 kB | 1.6× | — | "
                         "0.5 | — |\n"),
            std::string::npos)
      << passkey;
  EXPECT_NE(passkey.find("| a | gist | not scored: method gist has tasks rouge |"),
            std::string::npos)
      << passkey;
  for (const char* f :
       {"instruct_seen.csv", "instruct_seen.svg", "passkey_64.csv", "passkey_64.svg", "README.md"})
    EXPECT_TRUE(fs::exists(fs::path(out()) / f)) << f;
  const eval::CsvTable csv = eval::read_csv(out() + "/instruct_seen.csv");
  ASSERT_EQ(csv.rows.size(), 5u);
  EXPECT_EQ(csv.rows[1][csv.column("memory_bytes")], "3072");
  EXPECT_EQ(csv.rows[1][csv.column("train_tokens")], "");
  EXPECT_NE(slurp(out() + "/README.md").find("| a | gist | sha256:abc | 10 |"), std::string::npos);
  // --step picks an older evaluation: the gist run's step 5; the full run has none.
  const CommandResult old = report({dir_.file("sweep/a"), "--step", "5"});
  ASSERT_EQ(old.exit_code, 0) << old.err;
  EXPECT_NE(old.out.find("| a | gist | gist | exact_match | 0.100 | 20 |"), std::string::npos);
  expect_one_line_error(report({sweep_, "--step", "5"}), "no result at step 5 (it has steps 10)");
}

// The bad inputs: the last stderr line names the thing, and --out stays unwritten.
TEST_F(Report, BadInputIsAOneLineErrorThatWritesNothing) {
  const std::string bare = make_run(dir_.path() / "bare", "gist", "sha256:abc", {});
  expect_one_line_error(report({sweep_, bare}), "run " + bare + ": no results.jsonl");
  EXPECT_FALSE(fs::exists(out()));

  const std::string half = make_run(dir_.path() / "half", "full", "sha256:abc", {});
  write(fs::path(half) / "results.jsonl",
        record("instruct_seen", "full", "rouge_l", 0.8, 0, 10, 12, 3072, 12, 0, 0, 0) +
            "\n{\"task\": \"instruct_seen\", \"condi\n");
  expect_one_line_error(report({half}), half + "/results.jsonl:2: not a result record");
  EXPECT_FALSE(fs::exists(out()));

  const std::string other =
      make_run(dir_.path() / "other", "full", "",
               {record("instruct_seen", "full", "rouge_l", 0.8, 0, 10, 12, 3072, 12, 0, 0, 0)});
  expect_one_line_error(report({sweep_, other}),
                        "runs a (base sha256:abc) and other (base unknown) start from different "
                        "models; --allow-mixed-base");
  EXPECT_FALSE(fs::exists(out()));

  expect_one_line_error(report({dir_.file("sweep/data")}),
                        dir_.file("sweep/data") +
                            " is neither a run directory (with config.cfg) nor a directory of run "
                            "directories");
  expect_one_line_error(report({sweep_, "--bogus"}), "report: unknown option --bogus");
  EXPECT_FALSE(fs::exists(out()));

  // Mixed bases on request: both tabulated, each base in the index.
  const CommandResult mixed = report({sweep_, other, "--allow-mixed-base"});
  ASSERT_EQ(mixed.exit_code, 0) << mixed.err;
  EXPECT_NE(slurp(out() + "/README.md").find("| other | full | unknown | 10 |"), std::string::npos);
}

TEST(ResultRecords, AppendReplacesTheSameSlot) {
  TempDir dir;
  exp::ResultRecord r;
  r.task = "passkey_64";
  r.condition = "dense";
  r.metric = "accuracy";
  r.step = 10;
  r.value = 0.25;
  exp::append_result(dir.path().string(), r);
  r.metric = "ppl";
  exp::append_result(dir.path().string(), r);
  r.metric = "accuracy";
  r.value = 0.75;  // re-scored: replaces the first
  exp::append_result(dir.path().string(), r);
  const std::vector<exp::ResultRecord> all = exp::read_results(dir.path().string());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].metric, "ppl");
  EXPECT_EQ(all[1].metric, "accuracy");
  EXPECT_EQ(all[1].value, 0.75);
}

TEST(ParetoFront, KeepsThePointsNoneBeats) {
  const std::vector<eval::PlotPoint> p = {{0, 0.1, "none"},
                                          {256, 0.5, "gist"},
                                          {512, 0.4, "worse"},
                                          {3072, 0.6, "full"},
                                          {3072, 0.6, "tie"}};
  EXPECT_EQ(eval::pareto_front(p, true), (std::vector<size_t>{0, 1, 3}));
  // Lower is better (perplexity): only the cheapest point of the lowest value so far.
  EXPECT_EQ(eval::pareto_front(p, false), (std::vector<size_t>{0}));
}

}  // namespace
}  // namespace condense::testing
