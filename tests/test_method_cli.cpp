// The method interface through the `condense` binary: `--method full` (full-context
// fine-tuning, the minimal method) trains, resumes exactly and is evaluated; bad
// method input (an unknown --method, another method's option, a task the method does
// not have) is a one-line error that writes nothing. The evaluation also writes result
// records, which `condense report` tabulates.
#include <gtest/gtest.h>

#include <filesystem>

#include "eval/csv.h"
#include "experiments/result_record.h"
#include "experiments/run_base.h"
#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

class MethodCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const auto r = run_condense(
        {"data", "instruct", "--data.dir", data(), "--prepare.vocab_size", "400",
         "--prepare.train_json",
         source_path("tests/data/datasets/alpaca_plus/partial/alpaca_part_of_train_APPROX.json"),
         "--prepare.valid_dir", source_path("tests/data/datasets/alpaca_plus")},
        dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string data() { return dir_->file("data"); }

  // `train --method full` on a d32 model, batch 4 x 128, logging every step.
  static std::vector<std::string> full_train(const std::string& run, const std::string& steps) {
    return {"train", "--method",
            "full",  "--data.dir",
            data(),  "--run.dir",
            run,     "--model.dim",
            "32",    "--model.n_layers",
            "2",     "--model.n_heads",
            "4",     "--model.n_kv_heads",
            "2",     "--model.ffn_dim",
            "64",    "--train.batch_size",
            "4",     "--train.seq_len",
            "128",   "--train.log_every",
            "1",     "--train.steps",
            steps,   "--optim.lr",
            "3e-3",  "--train.save_every",
            "5",     "--eval.max_examples",
            "3",     "--eval.max_new_tokens",
            "4"};
  }

  // The run directories the bad inputs must not have created.
  static void expect_nothing_written(const std::string& run) {
    EXPECT_FALSE(fs::exists(run)) << run;
    for (const auto& e : fs::recursive_directory_iterator(dir_->path()))
      EXPECT_NE(e.path().extension(), ".tmp") << e.path();
  }

  static TempDir* dir_;
};

TempDir* MethodCli::dir_ = nullptr;

TEST_F(MethodCli, FullContextFineTuningTrainsResumesAndEvaluates) {
  const std::string whole = dir_->file("full"), split = dir_->file("split");
  auto a = run_condense(full_train(whole, "10"), dir_->path());
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const auto losses = logged_by_step(whole, "loss");
  ASSERT_EQ(losses.size(), 10u);
  EXPECT_LT(losses.at(10), losses.at(1));
  // No <GIST> row: the model's vocabulary is the tokenizer's.
  EXPECT_NE(a.err.find("vocab 400\n"), std::string::npos) << a.err;
  // Evaluated at the end: outputs of the plain prompt, and the summary line.
  const eval::CsvTable out = eval::read_csv(whole + "/eval/outputs-10-validation_human.csv");
  ASSERT_EQ(out.rows.size(), 3u);
  EXPECT_EQ(out.rows[0][0].rfind("Instruction: ", 0), 0u) << out.rows[0][0];
  EXPECT_EQ(out.rows[0][0].find("<GIST>"), std::string::npos) << out.rows[0][0];
  EXPECT_NE(a.err.find("step 10 seen_rougeL="), std::string::npos) << a.err;
  // ... and its result records: ROUGE-L and exact match per split, of 3 examples each,
  // the memory the whole instruction's KV entries (2 layers x 2 x 2 heads x 8 x 4 bytes
  // per entry), the tokens trained on, and the time per query.
  const std::vector<exp::ResultRecord> records = exp::read_results(whole);
  ASSERT_EQ(records.size(), 6u);
  const double tokens = logged_by_step(whole, "tokens").at(10);
  for (const exp::ResultRecord& r : records) {
    EXPECT_EQ(r.task.rfind("instruct_", 0), 0u) << r.task;
    EXPECT_TRUE(r.metric == "rouge_l" || r.metric == "exact_match") << r.metric;
    EXPECT_EQ(r.condition, "full");
    EXPECT_EQ(r.step, 10);
    EXPECT_EQ(r.n, 3);
    EXPECT_GT(r.memory_vectors, 0);
    EXPECT_EQ(r.memory_vectors, r.context_tokens);
    EXPECT_DOUBLE_EQ(r.memory_bytes, r.memory_vectors * 256);
    EXPECT_EQ(static_cast<double>(r.train_tokens), tokens);
    EXPECT_GT(r.seconds_per_query, 0);
  }
  EXPECT_EQ(exp::read_base_id(whole), "random:d32-l2-h4-kv2-ffn64");

  // Stopped at 5 and resumed: the same losses as the uninterrupted run.
  auto args = full_train(split, "10");
  args.insert(args.end(), {"--train.stop_at", "5"});
  ASSERT_EQ(run_condense(args, dir_->path()).exit_code, 0);
  args = full_train(split, "10");
  args.push_back("--resume");
  auto b = run_condense(args, dir_->path());
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(logged_by_step(split, "loss"), losses);

  // `eval --task rouge` on the finished run rescores its outputs: the same line.
  auto ev = run_condense({"eval", "--method", "full", "--task", "rouge", "--data.dir", data(),
                          "--run.dir", whole, "--eval.max_examples", "3"},
                         dir_->path());
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  const std::string line = a.err.substr(a.err.find("step 10 seen_rougeL=") + 8);
  EXPECT_EQ(ev.out, line.substr(0, line.find('\n') + 1));
  // The re-scored records replaced the first ones: the same values, and the time of the
  // evaluation that generated the outputs.
  const std::vector<exp::ResultRecord> rescored = exp::read_results(whole);
  ASSERT_EQ(rescored.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(rescored[i].value, records[i].value) << rescored[i].task << " " << rescored[i].metric;
    EXPECT_EQ(rescored[i].seconds_per_query, records[i].seconds_per_query) << rescored[i].task;
  }

  // `condense report` tabulates the run: one table per split.
  const std::string report = dir_->file("report");
  auto rep = run_condense({"report", whole, "--out", report}, dir_->path());
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  EXPECT_NE(rep.out.find("| full | full | full | exact_match | "), std::string::npos) << rep.out;
  for (const char* f : {"instruct_seen.md", "instruct_unseen.md", "instruct_human.md", "README.md"})
    EXPECT_TRUE(fs::exists(fs::path(report) / f)) << f;
}

TEST_F(MethodCli, UnknownMethodIsAOneLineError) {
  auto args = full_train(dir_->file("unknown"), "2");
  args[2] = "fullish";
  const auto r = run_condense(args, dir_->path());
  expect_one_line_error(r, "fullish");
  EXPECT_NE(r.err.find("gist, full"), std::string::npos) << r.err;  // and lists the known
  expect_nothing_written(dir_->file("unknown"));
  expect_one_line_error(
      run_condense({"sweep", "--method", "ccm!", "--train.steps", "1"}, dir_->path()), "ccm!");
}

TEST_F(MethodCli, AnotherMethodsOptionIsAOneLineError) {
  // On the command line ...
  auto args = full_train(dir_->file("foreign"), "2");
  args.insert(args.end(), {"--gist.num_tokens", "2"});
  auto r = run_condense(args, dir_->path());
  expect_one_line_error(r, "--gist.num_tokens belongs to method gist");
  expect_nothing_written(dir_->file("foreign"));
  // ... and in a config file.
  const std::string cfg = dir_->file("foreign.cfg");
  std::ofstream(cfg) << "[gist]\ncondition = gist\n";
  args = full_train(dir_->file("foreign"), "2");
  args.insert(args.end(), {"--config", cfg});
  expect_one_line_error(run_condense(args, dir_->path()), "gist.condition");
  expect_nothing_written(dir_->file("foreign"));
  // ... and as a sweep's grid axis (before any data are built or runs start).
  expect_one_line_error(
      run_condense({"sweep", "--method", "full", "--data.dir", data(), "--train.steps", "1",
                    "--sweep.dir", dir_->file("foreign"), "--sweep.grid", "gist.num_tokens=1,2"},
                   dir_->path()),
      "gist.num_tokens");
  expect_nothing_written(dir_->file("foreign"));
  // The method's own options are known to it only: gist's are not lm's.
  expect_one_line_error(run_condense({"train", "--gist.num_tokens", "1", "--data.train", "x.h5",
                                      "--data.tokenizer", "x.model", "--run.dir", dir_->file("lm")},
                                     dir_->path()),
                        "--method lm");
  expect_nothing_written(dir_->file("lm"));
}

TEST_F(MethodCli, TaskTheMethodLacksIsAOneLineError) {
  expect_one_line_error(run_condense({"eval", "--method", "full", "--task", "passkey", "--data.dir",
                                      data(), "--run.dir", dir_->file("none")},
                                     dir_->path()),
                        "passkey");
  expect_one_line_error(run_condense({"bench", "--method", "full"}, dir_->path()),
                        "method full has no benchmark");
}

}  // namespace
}  // namespace condense::testing
