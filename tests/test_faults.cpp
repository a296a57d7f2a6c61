// Faults injected into the real binary (core/fault.h, docs/TESTING.md): a NaN loss
// stops training with a one-line error and keeps the last good checkpoint; a kill -9 at
// any write point of a checkpoint, a dataset, a results table or a sweep point leaves
// the previous file intact and nothing half-written under the final name, and a rerun
// finishes the job; a full disk is a one-line error naming the path.
#include <gtest/gtest.h>

#include <sys/mount.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <tuple>

#include "core/checkpoint.h"
#include "core/sha256.h"
#include "datasets/token_dataset.h"
#include "datasets/tokenizer.h"
#include "experiments/model_dir.h"
#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

// `condense ARGS` with environment variables `env` ("NAME=value").
CommandResult run_with_env(const std::vector<std::string>& env,
                           const std::vector<std::string>& args, const fs::path& scratch) {
  std::string cmd;
  for (const std::string& e : env) cmd.append(e).append(" ");
  cmd.append(shell_quote(CONDENSE_BINARY));
  for (const std::string& a : args) cmd.append(" ").append(shell_quote(a));
  return run_shell(cmd, scratch);
}

// A run killed by SIGKILL: the shell reports 128 + 9, or the status is a signal.
bool killed(const CommandResult& r) {
  return r.exit_code == 137 || r.exit_code == -1;
}

std::string step_file(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step_%08lld.h5", static_cast<long long>(step));
  return name;
}

// Every checkpoint under the run's final names reads back whole.
void expect_checkpoints_whole(const std::string& run) {
  for (const auto& e : fs::directory_iterator(run + "/checkpoints")) {
    if (e.path().extension() != ".h5") continue;
    EXPECT_NO_THROW(read_checkpoint(e.path().string(), true)) << e.path();
  }
}

class Faults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    data_ = make_sample_training_data(*dir_);
  }
  static void TearDownTestSuite() { delete dir_; }

  // A small run of `steps` steps saving every 2 and keeping every checkpoint.
  static std::vector<std::string> train(const std::string& run, int steps) {
    std::vector<std::string> a = small_train_args(data_, run);
    a.insert(a.end(), {"--train.steps", std::to_string(steps), "--train.save_every", "2",
                       "--train.keep_checkpoints", "100", "--quiet"});
    return a;
  }

  static TempDir* dir_;
  static SampleTrainingData data_;
};
TempDir* Faults::dir_ = nullptr;
SampleTrainingData Faults::data_;

TEST_F(Faults, NanLossStopsTheRunAndTheNewestCheckpointIsTheLastGoodOne) {
  const std::string run = dir_->file("nan");
  const CommandResult r = run_with_env({"CONDENSE_FAULT_NAN_STEP=5"}, train(run, 6), dir_->path());
  expect_one_line_error(r, "train: loss became nan at step 5");
  EXPECT_EQ(exp::latest_checkpoint(run), run + "/checkpoints/" + step_file(4));
  EXPECT_FALSE(fs::exists(run + "/checkpoints/" + step_file(6)));
  expect_checkpoints_whole(run);
  // The run resumes from there, and finishes.
  std::vector<std::string> resume = train(run, 6);
  resume.push_back("--resume");
  const CommandResult again = run_condense(resume, dir_->path());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(read_checkpoint(run + "/checkpoints/" + step_file(6), false).meta.step, 6);
}

// Kills the second checkpoint's write at its n-th write point, for several n up to a
// write that completes: each time the first checkpoint is intact, nothing under the
// second's name is half-written, and --resume finishes the run.
TEST_F(Faults, KillDuringACheckpointWriteLosesNothing) {
  const std::string first = step_file(2), second = step_file(4);
  bool completed = false;
  for (int n : {1, 2, 3, 5, 9, 17, 33, 65, 129, 257}) {
    const std::string run = dir_->file("kill-ckpt-" + std::to_string(n));
    const CommandResult r = run_with_env(
        {"CONDENSE_FAULT_KILL=" + second + ":" + std::to_string(n)}, train(run, 4), dir_->path());
    if (r.exit_code == 0) {  // n is past the last write point
      completed = true;
      break;
    }
    ASSERT_TRUE(killed(r)) << "n " << n << ": " << r.err;
    EXPECT_NE(r.err.find("fault: killing the process at write point"), std::string::npos);
    const std::string sha_first = sha256_file(run + "/checkpoints/" + first);
    expect_checkpoints_whole(run);
    std::vector<std::string> resume = train(run, 4);
    resume.push_back("--resume");
    const CommandResult again = run_condense(resume, dir_->path());
    ASSERT_EQ(again.exit_code, 0) << "n " << n << ": " << again.err;
    EXPECT_EQ(sha256_file(run + "/checkpoints/" + first), sha_first);
    EXPECT_EQ(read_checkpoint(run + "/checkpoints/" + second, false).meta.step, 4);
  }
  EXPECT_TRUE(completed) << "every kill point tried was inside the write";
}

// `condense data text` over an existing dataset, killed at each write point in turn:
// the file is the old one byte for byte, or (killed after the rename) the new one whole.
TEST_F(Faults, KillDuringADatasetWriteKeepsThePreviousFile) {
  const std::string out = dir_->file("kill-data.h5");
  const std::vector<std::string> args = {
      "data",        "text",          "--input", source_path("tests/data/valid_sample.txt"),
      "--tokenizer", data_.tokenizer, "--out",   out};
  const data::Tokenizer tok = data::Tokenizer::load(data_.tokenizer);
  const int64_t old_tokens = data::TokenDataset::open(data_.dataset, tok).num_tokens();
  int n = 1, replaced = 0;
  for (; n < 64; ++n) {
    fs::copy_file(data_.dataset, out, fs::copy_options::overwrite_existing);
    const std::string old_sha = sha256_file(out);
    const CommandResult r =
        run_with_env({"CONDENSE_FAULT_KILL=kill-data.h5:" + std::to_string(n)}, args, dir_->path());
    if (r.exit_code == 0) break;
    ASSERT_TRUE(killed(r)) << "n " << n << ": " << r.err;
    if (sha256_file(out) == old_sha) continue;
    ++replaced;
    const data::TokenDataset now = data::TokenDataset::open(out, tok);
    EXPECT_NE(now.num_tokens(), old_tokens) << "write point " << n;
  }
  EXPECT_GT(n, 4) << "a dataset write has the start, its datasets, the end and the rename";
  EXPECT_EQ(replaced, 1) << "only the point after the rename sees the new file";
  EXPECT_NE(data::TokenDataset::open(out, tok).num_tokens(), old_tokens);
}

// A CCM sweep of two points (the smoke config on a small recall set), killed while its
// second point writes its evaluation, then while the sweep writes its results table:
// the rerun skips the finished point and completes the other, and a killed table write
// leaves the previous table as it was.
TEST_F(Faults, KillDuringASweepPointAndItsTableThenTheRerunFinishes) {
  const std::string recall = dir_->file("recall.h5"), valid = dir_->file("recall-valid.h5");
  for (const auto& [seed, n, out] : {std::tuple{"1", "60", recall}, std::tuple{"2", "8", valid}}) {
    const CommandResult d =
        run_condense({"data", "recall", "--seed", seed, "--dialogues", n, "--max_facts", "3",
                      "--tokenizer", data_.tokenizer, "--out", out},
                     dir_->path());
    ASSERT_EQ(d.exit_code, 0) << d.err;
  }
  const std::string sweep = dir_->file("kill-sweep");
  const std::vector<std::string> args = {"sweep",
                                         "--config",
                                         source_path("experiments/configs/ccm/smoke.cfg"),
                                         "--data.train",
                                         recall,
                                         "--data.valid",
                                         valid,
                                         "--data.tokenizer",
                                         data_.tokenizer,
                                         "--train.init_from",
                                         data_.model_dir,
                                         "--train.steps",
                                         "2",
                                         "--train.save_every",
                                         "2",
                                         "--sweep.dir",
                                         sweep,
                                         "--sweep.grid",
                                         "ccm.attn=neg_control,no ccm.n_tok=1",
                                         "--quiet"};
  CommandResult r =
      run_with_env({"CONDENSE_FAULT_KILL=no-1/eval/dialogue-2.json:1"}, args, dir_->path());
  ASSERT_TRUE(killed(r)) << r.err;
  EXPECT_FALSE(fs::exists(sweep + "/no-1/eval/dialogue-2.json"));
  r = run_condense(args, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("neg_control-1: finished, skipped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no-1: resuming"), std::string::npos) << r.err;
  const std::string table = sweep + "/dialogue.md";
  const std::string whole = slurp(table);
  EXPECT_NE(whole.find("| no-1 | 2 | no |"), std::string::npos) << whole;
  for (int n : {1, 2, 3}) {
    r = run_with_env({"CONDENSE_FAULT_KILL=dialogue.md:" + std::to_string(n)}, args, dir_->path());
    ASSERT_TRUE(killed(r)) << "n " << n << ": " << r.err;
    EXPECT_EQ(slurp(table), whole) << "n " << n;
  }
}

// A 256 KiB tmpfs as a full disk: writing a checkpoint there is a one-line error
// naming the path, and nothing is left under the final name.
TEST_F(Faults, AFullDiskIsAOneLineErrorNamingThePath) {
  const std::string mnt = dir_->file("tiny");
  fs::create_directories(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
  const std::string run = mnt + "/run";
  const CommandResult r = run_condense(train(run, 2), dir_->path());
  expect_one_line_error(r, run + "/checkpoints/" + step_file(2));
  EXPECT_FALSE(fs::exists(run + "/checkpoints/" + step_file(2)));
  umount(mnt.c_str());
}

}  // namespace
}  // namespace condense::testing
