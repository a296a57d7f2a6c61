// The scripts in slurm/ on a real single-node SLURM (slurm/local-cluster.sh starts
// one when none answers, and stops it again afterwards):
// - slurm/sweep.sh runs the gisting smoke sweep as three dependent jobs
//   (prepare, an array task per grid point, the table): all complete, each array task
//   trains its own point, and the table job finds every run finished; the same script
//   runs a CCM grid (attention type x n_tok x sink) and an AutoCompressor grid (κ x
//   segments x accumulation), and resubmitting either skips every run, and FoT's grid
//   (memory layer x top-k, and the control) with every point in its table;
// - slurm/condense.sbatch with two tasks trains a grid point data-parallel over two
//   srun-launched MPI ranks with the losses of the array task's single rank (1e-5).
// Needs root and slurm-wlm + munge (tools/install-deps.sh); skipped otherwise.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/cli_test_util.h"
#include "tests/slurm/slurm_test_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

constexpr double kTolerance = 1e-5;

class SlurmJobs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = slurm_unavailable();
    if (!skip_.empty()) return;
    dir_ = new TempDir;
    const std::string script = shell_quote(source_path("slurm/local-cluster.sh"));
    started_ = run_shell("bash " + script + " status", dir_->path()).exit_code != 0;
    const auto r = run_shell("bash " + script + " start", dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // "export SLURM_CONF=..." for every sbatch/squeue below.
    const std::string line = trim(r.out);
    setenv("SLURM_CONF", line.substr(line.find('=') + 1).c_str(), 1);
    setenv("CONDENSE", CONDENSE_BINARY, 1);
  }
  static void TearDownTestSuite() {
    if (dir_ && started_)
      run_shell("bash " + shell_quote(source_path("slurm/local-cluster.sh")) + " stop",
                dir_->path());
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  // Runs a shell command in the scratch directory (where the jobs' logs go).
  static CommandResult shell(const std::string& cmd) {
    return run_shell("cd " + shell_quote(dir_->path().string()) + " && " + cmd, dir_->path());
  }

  // Waits until none of the jobs is pending or running; returns each one's state.
  static std::vector<std::string> wait_for(const std::vector<std::string>& jobs) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(4);
    std::string list;
    for (const auto& j : jobs) list += (list.empty() ? "" : ",") + j;
    while (std::chrono::steady_clock::now() < deadline &&
           !trim(shell("squeue -h -j " + list).out).empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::vector<std::string> states;
    for (const auto& j : jobs) {
      // An array's record names its tasks: every one must have completed.
      const std::string out = shell("scontrol -o show job " + j).out;
      std::string state = "COMPLETED";
      for (size_t at = out.find("JobState="); at != std::string::npos;
           at = out.find("JobState=", at + 1)) {
        const std::string s = out.substr(at + 9, out.find(' ', at) - at - 9);
        if (s != "COMPLETED") state = s;
      }
      if (out.find("JobState=") == std::string::npos) state = "unknown: " + out;
      states.push_back(state);
    }
    return states;
  }

  // Submits slurm/sweep.sh with `options` and waits for its three jobs (prepare, the
  // array of grid points, the table) to end, each expected COMPLETED; returns their ids.
  static std::vector<std::string> run_sweep(const std::string& options) {
    const auto submit = shell("bash " + shell_quote(source_path("slurm/sweep.sh")) + " " + options);
    EXPECT_EQ(submit.exit_code, 0) << submit.err;
    std::vector<std::string> jobs;
    std::istringstream ids(submit.out);
    for (std::string id; std::getline(ids, id);) jobs.push_back(id);
    EXPECT_EQ(jobs.size(), 3u) << submit.out;
    if (jobs.size() == 3) {
      EXPECT_EQ(wait_for(jobs), (std::vector<std::string>(3, "COMPLETED")))
          << shell("tail -n 5 slurm-*.out").out;
    }
    return jobs;
  }
  // Submits the sweep twice: the first submission trains each point in its own array
  // task, the second finds every point finished and skips it.
  static void submit_twice(const std::string& options, const std::vector<std::string>& points) {
    for (int round = 0; round < 2; ++round) {
      const std::vector<std::string> jobs = run_sweep(options);
      ASSERT_EQ(jobs.size(), 3u);
      for (size_t i = 0; i < points.size(); ++i) {
        const std::string log = point_log(jobs, i);
        EXPECT_NE(log.find(points[i] + (round == 0 ? ": starting" : ": finished, skipped")),
                  std::string::npos)
            << log;
      }
    }
  }

  // The log of task i of the sweep's array job (`jobs` from run_sweep).
  static std::string point_log(const std::vector<std::string>& jobs, size_t i) {
    return slurp(dir_->file("slurm-" + jobs[1] + "_" + std::to_string(i) + ".out"));
  }

  // The sweep's options: the smoke config, absolute paths (jobs run in the scratch dir).
  static std::string sweep_options() {
    return "--config " + shell_quote(source_path("experiments/configs/gist/smoke.cfg")) +
           " --data.dir " + shell_quote(dir_->file("data")) + " --sweep.dir " +
           shell_quote(dir_->file("sweep")) + " --prepare.train_json " +
           shell_quote(source_path(
               "tests/data/datasets/alpaca_plus/partial/alpaca_part_of_train_APPROX.json")) +
           " --prepare.valid_dir " + shell_quote(source_path("tests/data/datasets/alpaca_plus"));
  }

  static TempDir* dir_;
  static bool started_;
  static std::string skip_;
};

TempDir* SlurmJobs::dir_ = nullptr;
bool SlurmJobs::started_ = false;
std::string SlurmJobs::skip_;

TEST_F(SlurmJobs, CcmGridRunsAsAnArrayAndAResubmissionSkipsFinishedRuns) {
  const std::string model = dir_->file("ccm-model"), recall = dir_->file("recall.h5");
  ASSERT_EQ(import_stories260k(model, dir_->path()).exit_code, 0);
  for (const std::string& out : {recall, dir_->file("recall-valid.h5")})
    ASSERT_EQ(run_condense({"data", "recall", "--dialogues", "60", "--max_facts", "3",
                            "--tokenizer", model + "/tokenizer.model", "--out", out},
                           dir_->path())
                  .exit_code,
              0);
  const std::string options =
      "--config " + shell_quote(source_path("experiments/configs/ccm/smoke.cfg")) +
      " --data.train " + shell_quote(recall) + " --data.valid " +
      shell_quote(dir_->file("recall-valid.h5")) + " --data.tokenizer " +
      shell_quote(model + "/tokenizer.model") + " --train.init_from " + shell_quote(model) +
      " --train.steps 4 --ccm.eval_dialogues 8 --sweep.dir " + shell_quote(dir_->file("ccm")) +
      " --sweep.grid 'ccm.attn=concat_recur,merge_recur ccm.n_tok=1 ccm.sink=false,true'";
  const std::vector<std::string> points = {"concat_recur-1-false", "concat_recur-1-true",
                                           "merge_recur-1-false", "merge_recur-1-true"};
  submit_twice(options, points);
  if (HasFatalFailure()) return;
  const std::string csv = slurp(dir_->file("ccm/dialogue.csv"));
  for (const auto& p : points) EXPECT_NE(csv.find("\n" + p + ","), std::string::npos) << csv;
}

TEST_F(SlurmJobs, GistSweepRunsAsDependentJobsAndRanksLaunchBySrun) {
  const std::vector<std::string> jobs = run_sweep(sweep_options());
  ASSERT_EQ(jobs.size(), 3u);

  // Each array task ran its own point; the table job only collected them.
  const std::vector<std::string> points = {"gist-1",  "gist-2",        "gist-5",
                                           "gist-10", "pos_control-1", "neg_control-1"};
  for (size_t i = 0; i < points.size(); ++i) {
    const std::string log = point_log(jobs, i);
    EXPECT_NE(log.find(points[i] + ": starting"), std::string::npos) << log;
    EXPECT_EQ(logged_losses(dir_->file("sweep/" + points[i])).size(), 2u) << points[i];
  }
  const std::string table_log = slurp(dir_->file("slurm-" + jobs[2] + ".out"));
  for (const auto& p : points)
    EXPECT_NE(table_log.find(p + ": finished, skipped"), std::string::npos) << table_log;
  const std::string csv = slurp(dir_->file("sweep/rouge.csv"));
  for (const auto& p : points) {
    const std::string row = p.substr(0, p.find('-')) + "," + p.substr(p.find('-') + 1) + ",";
    EXPECT_NE(csv.find("\n" + row), std::string::npos) << row << " in\n" << csv;
  }

  // gist-1 again, on two srun-launched ranks (data parallel), logging every step.
  const std::string run = dir_->file("dp2"), reference = dir_->file("one");
  const std::string gist1 = sweep_options() +
                            " --gist.num_tokens 1 --train.log_every 1 --train.steps 20 "
                            "--eval.max_examples 1 --run.dir ";
  const auto dp2 = shell("timeout 120 sbatch --parsable --wait -n 2 " +
                         shell_quote(source_path("slurm/condense.sbatch")) +
                         " train --method gist " + gist1 + shell_quote(run));
  ASSERT_EQ(dp2.exit_code, 0) << dp2.err << shell("cat slurm-*.out | tail -n 20").out;
  const std::string dp2_log = slurp(dir_->file("slurm-" + trim(dp2.out) + ".out"));
  EXPECT_NE(dp2_log.find("ranks dp 2 x pp 1 x tp 1"), std::string::npos) << dp2_log;
  const auto one = shell("timeout 120 sbatch --parsable --wait " +
                         shell_quote(source_path("slurm/condense.sbatch")) +
                         " train --method gist " + gist1 + shell_quote(reference));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const auto got = logged_losses(run), want = logged_losses(reference);
  ASSERT_EQ(got.size(), 20u);
  ASSERT_EQ(want.size(), 20u);
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[i].second, want[i].second, kTolerance * want[i].second)
        << "step " << want[i].first;
}

// An AutoCompressor grid over κ × segments × accumulation (accumulate=false passes on
// only the last segment's summary vectors, as RMT) as an array: every point trains and
// is scored by the last_segment task in its own task, the table job tabulates them all,
// and a resubmission skips every point.
TEST_F(SlurmJobs, AutoCompressorGridRunsAsAnArrayAndAResubmissionSkipsFinishedRuns) {
  const std::string model = dir_->file("ac-model"), train = dir_->file("ac-train.h5"),
                    valid = dir_->file("ac-valid.h5"), tok = model + "/tokenizer.model";
  ASSERT_EQ(import_stories260k(model, dir_->path()).exit_code, 0);
  ASSERT_EQ(run_condense({"data", "text", "--input", source_path("tests/data/train_sample.txt"),
                          "--tokenizer", tok, "--out", train},
                         dir_->path())
                .exit_code,
            0);
  const std::string book =
      source_path("tests/data/datasets/books/gutenberg/pg98_a_tale_of_two_cities.txt");
  ASSERT_EQ(run_condense({"data", "books", "--format", "gutenberg", "--input", book, "--tokenizer",
                          tok, "--out", valid},
                         dir_->path())
                .exit_code,
            0);
  const std::string options =
      "--config " + shell_quote(source_path("experiments/configs/autocompressor/smoke.cfg")) +
      " --data.train " + shell_quote(train) + " --data.valid " + shell_quote(valid) +
      " --data.tokenizer " + shell_quote(tok) + " --train.init_from " + shell_quote(model) +
      " --train.steps 2 --train.save_every 2 --autocompressor.eval_windows 4 --sweep.dir " +
      shell_quote(dir_->file("ac")) +
      " --sweep.grid 'autocompressor.kappa=2 autocompressor.segments=1,2 "
      "autocompressor.accumulate=true,false'";
  const std::vector<std::string> points = {"2-1-true", "2-1-false", "2-2-true", "2-2-false"};
  submit_twice(options, points);
  if (HasFatalFailure()) return;
  // Every point in the table, with the σ its target read at the 128-token budget:
  // κ per compressed segment of 64 accumulated (4), the last segment's κ replaced (2).
  const std::string csv = slurp(dir_->file("ac/last_segment.csv"));
  for (const auto& p : points) {
    const bool accumulated = p.size() > 4 && p.substr(p.size() - 4) == "true";
    const std::string row =
        "\n" + p + ",2,autocompressor,compress,2," + (accumulated ? "1" : "0") + ",128,64,";
    const size_t at = csv.find(row);
    ASSERT_NE(at, std::string::npos) << row << " in\n" << csv;
    const std::string line = csv.substr(at + 1, csv.find('\n', at + 1) - at - 1);
    EXPECT_EQ(line.substr(line.rfind(',') + 1), accumulated ? "4" : "2") << line;
  }
}

// FoT's grid (memory layer x top-k, and the control) as a SLURM array: each task trains
// and scores its own point, and the table job writes passkey.csv with every point.
TEST_F(SlurmJobs, FotGridRunsAsAnArray) {
  const std::string model = dir_->file("fot-model"), docs = dir_->file("fot-passkey.h5");
  ASSERT_EQ(import_stories260k(model, dir_->path()).exit_code, 0);
  ASSERT_EQ(run_condense({"data", "passkey", "--lengths", "480", "--per-length", "16", "--seed",
                          "1000", "--tokenizer", model + "/tokenizer.model", "--out", docs},
                         dir_->path())
                .exit_code,
            0);
  const std::string options =
      "--config " + shell_quote(source_path("experiments/configs/fot/smoke.cfg")) +
      " --data.train " + shell_quote(docs) + " --data.tokenizer " +
      shell_quote(model + "/tokenizer.model") + " --train.init_from " + shell_quote(model) +
      " --train.steps 2 --fot.passkey_lengths 1 --fot.passkey_per_length 1 --sweep.dir " +
      shell_quote(dir_->file("fot")) +
      " --sweep.grid 'fot.layers=2,3 fot.memory_attention=knn fot.knn_k=8; fot.layers=none'";
  const std::vector<std::string> jobs = run_sweep(options);
  ASSERT_EQ(jobs.size(), 3u);
  const std::vector<std::string> points = {"2-knn-8", "3-knn-8", "none"};
  for (size_t i = 0; i < points.size(); ++i) {
    const std::string log = point_log(jobs, i);
    EXPECT_NE(log.find(points[i] + ": starting"), std::string::npos) << log;
  }
  const std::string csv = slurp(dir_->file("fot/passkey.csv"));
  for (const auto& p : points) EXPECT_NE(csv.find("\n" + p + ",2,"), std::string::npos) << csv;
}

}  // namespace
}  // namespace condense::testing
