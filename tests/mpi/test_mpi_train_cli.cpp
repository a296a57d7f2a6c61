// `condense train` on a grid of ranks, end to end through mpirun: checkpoints
// move between layouts (tp=2 x pp=2 -> one rank and back) and the continued
// runs give the same losses; a rank that is killed, or that fails, ends the
// whole job with a non-zero exit and a message naming it, within 30 s.
// This binary is not itself run under mpirun: it starts mpirun.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kTolerance = 1e-5;

double loss_at(const std::string& run_dir, int64_t step) {
  for (const auto& [s, l] : logged_losses(run_dir))
    if (s == step) return l;
  ADD_FAILURE() << run_dir << " logged no loss at step " << step;
  return NAN;
}

class MpiTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = make_sample_training_data(dir_);
    ASSERT_FALSE(HasFailure());
  }

  // `condense train ...` words (without the binary) for a small model, 10 steps.
  std::vector<std::string> train(const std::string& run_dir) const {
    std::vector<std::string> args = small_train_args(data_, run_dir);
    args.insert(args.end(),
                {"--train.steps", "10", "--train.save_every", "5", "--train.keep_checkpoints", "0",
                 "--optim.lr", "1e-3", "--optim.warmup_steps", "2"});
    return args;
  }
  static std::vector<std::string> grid(int ranks, std::vector<std::string> words,
                                       std::vector<std::string> layout) {
    std::vector<std::string> argv = mpirun_condense(ranks);
    argv.insert(argv.end(), words.begin(), words.end());
    argv.insert(argv.end(), layout.begin(), layout.end());
    return argv;
  }
  static std::vector<std::string> one_rank(std::vector<std::string> words) {
    words.insert(words.begin(), CONDENSE_BINARY);
    return words;
  }
  static std::vector<std::string> with(std::vector<std::string> words,
                                       const std::vector<std::string>& more) {
    words.insert(words.end(), more.begin(), more.end());
    return words;
  }

  TempDir dir_;
  SampleTrainingData data_;
};

const std::vector<std::string> kTp2Pp2 = {"--tp", "2", "--pp", "2", "--micro-batches", "2"};

TEST_F(MpiTrain, CheckpointsMoveBetweenLayouts) {
  // The reference: one rank, 10 steps, checkpoints at 5 and 10.
  const std::string single = dir_.file("single");
  auto r = run_command(one_rank(train(single)), dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // tp=2 x pp=2 for 5 steps: the same losses as one rank.
  const std::string four = dir_.file("four");
  r = run_command(grid(4, with(train(four), {"--train.stop_at", "5"}), kTp2Pp2), dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int64_t s = 1; s <= 5; ++s)
    EXPECT_NEAR(loss_at(four, s), loss_at(single, s), kTolerance * loss_at(single, s))
        << "step " << s;

  // Its checkpoint, continued at one rank and at four: the next 5 losses agree.
  const std::string four_to_one = dir_.file("four_to_one");
  fs::copy(four, four_to_one, fs::copy_options::recursive);
  r = run_command(one_rank(with(train(four_to_one), {"--resume"})), dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command(grid(4, with(train(four), {"--resume"}), kTp2Pp2), dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int64_t s = 6; s <= 10; ++s)
    EXPECT_NEAR(loss_at(four_to_one, s), loss_at(four, s), kTolerance * loss_at(four, s))
        << "step " << s;

  // And the reverse: one rank's step-5 checkpoint continued at tp=2 x pp=2.
  const std::string one_to_four = dir_.file("one_to_four");
  fs::copy(single, one_to_four, fs::copy_options::recursive);
  fs::remove(one_to_four + "/checkpoints/step_00000010.h5");
  r = run_command(grid(4, with(train(one_to_four), {"--resume"}), kTp2Pp2), dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int64_t s = 6; s <= 10; ++s)
    EXPECT_NEAR(loss_at(one_to_four, s), loss_at(single, s), kTolerance * loss_at(single, s))
        << "step " << s;
}

// A started mpirun job: its pid, and its output files.
struct Job {
  pid_t pid = -1;
  fs::path out, err;
};

Job start(const std::vector<std::string>& argv, const fs::path& scratch) {
  Job job{-1, scratch / "job.out", scratch / "job.err"};
  job.pid = fork();
  if (job.pid == 0) {
    if (!freopen(job.out.c_str(), "w", stdout) || !freopen(job.err.c_str(), "w", stderr))
      _exit(127);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return job;
}

// Waits up to `limit` for the job to end; returns its exit status (-1: still running).
int wait_for(const Job& job, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(job.pid, &status, WNOHANG) == job.pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

// The process of world rank `rank` among mpirun's children.
pid_t rank_process(pid_t mpirun_pid, int rank) {
  const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::istringstream stat(slurp(e.path() / "stat"));
    std::string pid, comm, state;
    pid_t ppid = 0;
    stat >> pid >> comm >> state >> ppid;
    if (ppid != mpirun_pid) continue;
    const std::string env = slurp(e.path() / "environ");
    std::istringstream vars(env);
    for (std::string v; std::getline(vars, v, '\0');)
      if (v == want) return std::stoi(name);
  }
  return -1;
}

void stop(const Job& job) {
  if (wait_for(job, std::chrono::seconds(0)) == -1) {
    kill(job.pid, SIGKILL);
    waitpid(job.pid, nullptr, 0);
  }
}

TEST_F(MpiTrain, KilledRankEndsTheJob) {
  const std::string run_dir = dir_.file("killed");
  auto words = train(run_dir);
  words[std::find(words.begin(), words.end(), "--train.steps") - words.begin() + 1] = "100000";
  const Job job = start(grid(4, words, kTp2Pp2), dir_.path());
  // Wait until training runs (a step is logged), then kill world rank 2.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline && slurp(run_dir + "/metrics.jsonl").empty())
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const pid_t victim = rank_process(job.pid, 2);
  if (victim <= 0) stop(job);
  ASSERT_GT(victim, 0) << "no rank 2 among mpirun's children: " << slurp(job.err);
  const auto killed_at = Clock::now();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  const int status = wait_for(job, std::chrono::seconds(30));
  const double took = std::chrono::duration<double>(Clock::now() - killed_at).count();
  if (status == -1) stop(job);
  ASSERT_NE(status, -1) << "the job was still running 30 s after rank 2 was killed";
  EXPECT_NE(status, 0);
  EXPECT_NE(slurp(job.err).find("rank 2"), std::string::npos) << slurp(job.err);
  std::cout << "job ended " << took << " s after rank 2 was killed, exit status " << status
            << std::endl;
}

TEST_F(MpiTrain, FailingRankEndsTheJob) {
  // Rank 0 alone copies the tokenizer into the run directory; a directory in its
  // way makes it fail while the other ranks wait for it in the first step.
  const std::string run_dir = dir_.file("failing");
  fs::create_directories(run_dir + "/tokenizer.model/in_the_way");
  const auto begin = Clock::now();
  const Job job = start(grid(4, train(run_dir), kTp2Pp2), dir_.path());
  const int status = wait_for(job, std::chrono::seconds(60));
  if (status == -1) stop(job);
  ASSERT_NE(status, -1) << "the job did not end";
  EXPECT_NE(status, 0);
  const std::string err = slurp(job.err);
  EXPECT_NE(err.find("condense: error: rank 0 of 4: "), std::string::npos) << err;
  EXPECT_NE(err.find("tokenizer.model"), std::string::npos) << err;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - begin).count(), 30.0);
}

}  // namespace
}  // namespace condense::testing
