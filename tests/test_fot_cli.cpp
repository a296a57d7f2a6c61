// FoT through the `condense` binary: `data passkey` writes training documents,
// `train --method fot --config experiments/configs/fot/smoke.cfg` fine-tunes stories260K
// with crossbatch (the loss falls) and ends with the passkey task (accuracy per length
// in run/eval/passkey-10.json), `eval --task passkey` scores the run again (dense and
// top-k), bad input is a one-line error that writes nothing (train and eval), `sweep`
// runs a grid and tabulates it, `bench` times the memory attention, and
// tools/fot_results.py builds the results table from run directories.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

class FotCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    auto r = import_stories260k(model(), dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_condense({"data", "passkey", "--lengths", "480", "--per-length", "64", "--seed", "1000",
                      "--tokenizer", model() + "/tokenizer.model", "--out", docs()},
                     dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model() { return dir_->file("model"); }
  static std::string docs() { return dir_->file("passkey.h5"); }

  static std::vector<std::string> smoke(const std::string& run) {
    return {"train",
            "--config",
            source_path("experiments/configs/fot/smoke.cfg"),
            "--data.train",
            docs(),
            "--data.tokenizer",
            model() + "/tokenizer.model",
            "--train.init_from",
            model(),
            "--run.dir",
            run};
  }
  static TempDir* dir_;
};
TempDir* FotCli::dir_ = nullptr;

TEST_F(FotCli, SmokeConfigTrainsWithCrossbatchAndScoresThePasskey) {
  const std::string run = dir_->file("run");
  auto r = run_condense(smoke(run), dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("fot memory layers 3, crossbatch d 1 then 3 from step 5"), std::string::npos)
      << r.err;
  const auto losses = logged_losses(run);
  ASSERT_EQ(losses.size(), 2u);
  EXPECT_LT(losses.back().second, losses.front().second);
  std::ifstream in(run + "/eval/passkey-10.json");
  ASSERT_TRUE(in) << r.err;
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["local_context"].get<int64_t>(), 192);
  ASSERT_EQ(j["lengths"].size(), 2u);
  EXPECT_EQ(j["lengths"][1]["length"].get<int64_t>(), 384);
  EXPECT_EQ(j["lengths"][1]["prompts"].get<int64_t>(), 2);
  // The run scored again, dense and with top-k memory attention whose k covers the memory.
  const std::vector<std::string> eval = {
      "eval",   "--method",         "fot",
      "--task", "passkey",          "--run.dir",
      run,      "--data.tokenizer", model() + "/tokenizer.model"};
  r = run_condense(eval, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string dense = r.out;
  std::vector<std::string> knn = eval;
  knn.insert(knn.end(), {"--fot.memory_attention", "knn", "--fot.knn_k", "1000"});
  r = run_condense(knn, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, dense);
  // The same through FAISS's exact index.
  knn.insert(knn.end(), {"--fot.knn_index", "faiss-flat"});
  r = run_condense(knn, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, dense);
  EXPECT_NE(dense.find("passkey accuracy: 1x"), std::string::npos) << dense;
}

TEST_F(FotCli, BadInputIsAOneLineErrorThatWritesNothing) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--fot.layers", "5"}, "memory layer 5 is out of range"},
      {{"--fot.layers", "1,-1"}, "memory layer -1 is out of range"},
      {{"--fot.range", "4"}, "crossbatch range 4"},
      {{"--fot.range_late", "7"}, "crossbatch range 7"},
      {{"--fot.pack", "3"}, "--fot.pack 3 does not divide"},
      {{"--fot.knn_k", "0"}, "--fot.knn_k must be positive"},
      {{"--fot.knn_k", "-3"}, "--fot.knn_k must be positive, got -3"},
      {{"--fot.pack", "8"}, "--fot.pack 8 does not divide"},
      {{"--fot.memory_attention", "faiss"}, "dense or knn"},
      {{"--fot.knn_index", "ivf"}, "--fot.knn_index must be exact, faiss-flat or faiss-hnsw"},
      {{"--fot.context", "100"}, "below the shortest prompt"},
  };
  int n = 0;
  for (const auto& [extra, needle] : cases) {
    const std::string run = dir_->file("bad" + std::to_string(n++));
    std::vector<std::string> args = smoke(run);
    args.insert(args.end(), extra.begin(), extra.end());
    expect_one_line_error(run_condense(args, dir_->path()), needle);
    EXPECT_FALSE(fs::exists(run)) << needle;
  }
}

// `condense eval` refuses the same bad options on a finished run, before scoring: no
// evaluation is written.
TEST_F(FotCli, EvalRefusesBadOptionsAndWritesNoEvaluation) {
  const std::string run = dir_->file("eval-bad");
  std::vector<std::string> train = smoke(run);
  train.insert(train.end(), {"--train.steps", "2", "--fot.passkey_lengths", "1",
                             "--fot.passkey_per_length", "1"});
  ASSERT_EQ(run_condense(train, dir_->path()).exit_code, 0);
  const auto evals = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(run + "/eval"))
      names.push_back(e.path().filename().string());
    return names;
  };
  const std::vector<std::string> before = evals();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--fot.layers", "7"}, "memory layer 7 is out of range: the model has layers 0..4"},
      {{"--fot.range", "8"}, "crossbatch range 8"},  // eval's batch is 8 entries
      {{"--fot.pack", "3"}, "--fot.pack 3 does not divide"},
      {{"--fot.memory_attention", "knn", "--fot.knn_k", "0"}, "--fot.knn_k must be positive"},
  };
  for (const auto& [extra, needle] : cases) {
    std::vector<std::string> args = {"eval",   "--method",         "fot",
                                     "--task", "passkey",          "--run.dir",
                                     run,      "--data.tokenizer", model() + "/tokenizer.model"};
    args.insert(args.end(), extra.begin(), extra.end());
    expect_one_line_error(run_condense(args, dir_->path()), needle);
    EXPECT_EQ(evals(), before) << needle;
  }
}

// `condense sweep` over memory layer × top-k plus the control: every point trains and
// scores, and passkey.csv / .md hold each run's newest evaluation exactly.
TEST_F(FotCli, SweepTrainsEachPointAndTabulatesItsPasskeyScores) {
  const std::string sweep = dir_->file("sweep");
  std::vector<std::string> args = smoke(sweep + "/unused");
  args[0] = "sweep";
  args.insert(args.end(), {"--sweep.dir", sweep, "--sweep.grid",
                           "fot.layers=2,3 fot.memory_attention=knn fot.knn_k=4,1000; "
                           "fot.layers=none fot.range=0",
                           "--train.steps", "2", "--fot.passkey_per_length", "1"});
  const auto r = run_condense(args, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> points = {"2-knn-4", "2-knn-1000", "3-knn-4", "3-knn-1000",
                                           "none-0"};
  const std::string csv = slurp(sweep + "/passkey.csv");
  for (const std::string& p : points) {
    const std::string eval =
        sweep + "/" + p + "/eval/" +
        (p == "none-0" ? "passkey-2.json" : "passkey_knn" + p.substr(p.rfind('-') + 1) + "-2.json");
    std::ifstream in(eval);
    ASSERT_TRUE(in) << eval;
    const nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& l : j["lengths"]) {
      char row[256];
      std::snprintf(row, sizeof row, "\n%s,2,%s,%lld,%s,%lld,%lld,%lld,%lld,1,%.4f\n", p.c_str(),
                    p == "none-0" ? "none" : p.substr(0, 1).c_str(),
                    static_cast<long long>(p == "none-0" ? 0 : 1), p == "none-0" ? "dense" : "knn",
                    static_cast<long long>(p == "none-0" ? 0 : std::stoll(p.substr(6))),
                    static_cast<long long>(l["multiple_of_context"].get<int64_t>()),
                    static_cast<long long>(l["length"].get<int64_t>()),
                    static_cast<long long>(l["correct"].get<int64_t>()),
                    l["accuracy"].get<double>());
      EXPECT_NE(csv.find(row), std::string::npos) << row << " in\n" << csv;
    }
  }
  const std::string md = slurp(sweep + "/passkey.md");
  EXPECT_NE(md.find("| run | step | memory layers | d | attention | 1× C | 2× C |\n"
                    "|---|---|---|---|---|---|---|\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 3-knn-1000 | 2 | 3 | 1 | knn k 1000 |"), std::string::npos) << md;
  // The default grid: memory layer × d × k, and the control.
  const auto list =
      run_condense({"sweep", "--method", "fot", "--data.tokenizer", model() + "/tokenizer.model",
                    "--train.steps", "1", "--sweep.list"},
                   dir_->path());
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out,
            "2-1-knn-16\n2-1-knn-128\n2-3-knn-16\n2-3-knn-128\n3-1-knn-16\n3-1-knn-128\n"
            "3-3-knn-16\n3-3-knn-128\nnone-0\n");
}

// condense bench --method fot: a row per memory size and mode, the memory store's size
// from the shapes (M tokens x 2 KV heads x 32 dims x K and V x 4 bytes), and the prefill.
TEST_F(FotCli, BenchTimesEachModeAtEachMemorySize) {
  const auto r = run_condense({"bench", "--method", "fot", "--bench.memory", "1024,4096",
                               "--bench.window", "32", "--bench.repeats", "1", "--bench.prefill",
                               "256", "--fot.knn_k", "8", "--fot.memory_chunk", "512"},
                              dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string mode : {"dense", "dense chunked", "knn exact", "knn faiss-flat"}) {
    EXPECT_NE(r.out.find("| 1024 | " + mode + " |"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("| 4096 | " + mode + " |"), std::string::npos) << r.out;
  }
  EXPECT_NE(r.out.find(" | 0.5 | "), std::string::npos) << r.out;  // 1024 tokens: 0.5 MiB
  EXPECT_NE(r.out.find(" | 2.0 | "), std::string::npos) << r.out;  // 4096 tokens: 2 MiB
  EXPECT_NE(r.out.find("\n| knn faiss-flat | "), std::string::npos) << r.out;  // the prefill
  expect_one_line_error(
      run_condense({"bench", "--method", "fot", "--bench.layer", "4"}, dir_->path()),
      "--bench.layer 4 is out of range: the model has layers 0..3");
}

// tools/fot_results.py builds the results table from run directories: a row per
// evaluation (dense and top-k of one run, the control), each cell the evaluation's own
// count, and the runs' files copied beside it.
TEST_F(FotCli, ResultsToolTabulatesEveryEvaluation) {
  const std::string fot = dir_->file("res-fot"), control = dir_->file("res-control");
  const std::vector<std::string> few = {"--train.steps", "2", "--fot.passkey_per_length", "2"};
  std::vector<std::string> args = smoke(fot);
  args.insert(args.end(), few.begin(), few.end());
  ASSERT_EQ(run_condense(args, dir_->path()).exit_code, 0);
  args = smoke(control);
  args.insert(args.end(), few.begin(), few.end());
  args.insert(args.end(), {"--fot.layers", "none", "--fot.range", "0"});
  ASSERT_EQ(run_condense(args, dir_->path()).exit_code, 0);
  const auto knn =
      run_condense({"eval", "--method", "fot", "--task", "passkey", "--run.dir", fot,
                    "--data.tokenizer", model() + "/tokenizer.model", "--fot.passkey_per_length",
                    "2", "--fot.memory_attention", "knn", "--fot.knn_k", "1000"},
                   dir_->path());
  ASSERT_EQ(knn.exit_code, 0) << knn.err;
  const std::string out = dir_->file("results");
  const CommandResult t =
      run_shell("python3 " + shell_quote(source_path("tools/fot_results.py")) + " build --out " +
                    shell_quote(out) + " " + shell_quote(fot) + " " + shell_quote(control),
                dir_->path());
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const std::string csv = slurp(out + "/results.csv");
  const std::vector<std::pair<std::string, std::string>> evals = {
      {"res-fot: memory layer 3, dense", fot + "/eval/passkey-2.json"},
      {"res-fot: memory layer 3, kNN k=1000", fot + "/eval/passkey_knn1000-2.json"},
      {"res-control: no memory", control + "/eval/passkey-2.json"}};
  for (const auto& [name, path] : evals) {
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    const nlohmann::json j = nlohmann::json::parse(in);
    ASSERT_EQ(j["lengths"].size(), 2u);
    for (const auto& l : j["lengths"]) {
      char row[256];
      std::snprintf(row, sizeof row, ",%lld,%lld,%lld,2,%.4f\n",
                    static_cast<long long>(l["multiple_of_context"].get<int64_t>()),
                    static_cast<long long>(l["length"].get<int64_t>()),
                    static_cast<long long>(l["correct"].get<int64_t>()),
                    l["accuracy"].get<double>());
      const size_t at = csv.find("\"" + name + "\",");
      ASSERT_NE(at, std::string::npos) << name << " in\n" << csv;
      EXPECT_NE(csv.find(row, at), std::string::npos) << row << " in\n" << csv;
    }
    EXPECT_TRUE(fs::exists(out + "/runs/" +
                           fs::path(path).parent_path().parent_path().filename().string() +
                           "/eval/" + fs::path(path).filename().string()));
  }
  EXPECT_NE(slurp(out + "/results.md").find("| condition | step | training s | 1× C | 2× C |"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(out + "/results.svg"));
}

}  // namespace
}  // namespace condense::testing
