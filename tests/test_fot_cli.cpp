// FoT through the `condense` binary: `data passkey` writes training documents,
// `train --method fot --config experiments/configs/fot/smoke.cfg` fine-tunes stories260K
// with crossbatch (the loss falls) and ends with the passkey task (accuracy per length
// in run/eval/passkey-10.json), `eval --task passkey` scores the run again (dense and
// top-k), and bad input is a one-line error that writes nothing.
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

}  // namespace
}  // namespace condense::testing
