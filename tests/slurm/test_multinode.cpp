// condense across nodes: `slurm/local-cluster.sh start --nodes 2` brings up two SLURM
// nodes in network namespaces of their own (own address on a private /24, own
// hostname, own node-local tmpfs), and Open MPI between them uses TCP only.
// - tp2 x dp2 with 2 ranks per node, launched by srun (PMIx) and by mpirun --host,
//   gives the single rank's losses (1e-5 relative); its checkpoint, written by rank 0
//   on node1, resumes on node2 alone with the single rank's next losses;
// - a run directory that only one node sees ends the job with one line naming the node;
// - a sweep's array tasks run on both nodes (each task says where it ran);
// - a node that dies mid-step (slurmd, steps and ranks killed) ends the job within
//   30 s with a message naming the lost ranks and the host, and the last checkpoint
//   loads.
// Needs root, network namespaces and slurm-wlm + munge; skipped with the reason otherwise.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "tests/cli_test_util.h"
#include "tests/slurm/slurm_test_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kTolerance = 1e-5;

class MultiNode : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = slurm_unavailable();
    if (!skip_.empty()) return;
    dir_ = new TempDir;
    const auto r = cluster("start");
    // Without network namespaces (a container without CAP_SYS_ADMIN) `start` says so
    // in one line: that is a skip, anything else a failure.
    if (r.exit_code != 0 && r.err.find("network namespaces") != std::string::npos) {
      skip_ = trim(r.err);
      return;
    }
    started_ = true;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // "export NAME=value" lines: SLURM_CONF and Open MPI's TCP settings.
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      const size_t eq = line.find('=');
      ASSERT_EQ(line.rfind("export ", 0), 0u) << line;
      setenv(line.substr(7, eq - 7).c_str(), line.substr(eq + 1).c_str(), 1);
    }
    setenv("CONDENSE", CONDENSE_BINARY, 1);
    data_ = new SampleTrainingData(make_sample_training_data(*dir_));
  }
  static void TearDownTestSuite() {
    // Also run by CTest's cleanup fixture (tests/slurm/CMakeLists.txt) if this
    // process dies before getting here.
    if (started_) cluster("stop");
    delete data_;
    data_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_NE(data_, nullptr);
  }

  static CommandResult cluster(const std::string& action) {
    return run_shell(
        "bash " + shell_quote(source_path("slurm/local-cluster.sh")) + " " + action + " --nodes 2",
        dir_->path());
  }

  // Runs a shell command in the scratch directory (where the jobs' logs go).
  static CommandResult shell(const std::string& cmd) {
    return run_shell("cd " + shell_quote(dir_->path().string()) + " && " + cmd, dir_->path());
  }

  // `condense train` words for the small model: 6 steps, checkpoints every 3.
  static std::string train(const std::string& run_dir) {
    std::string words;
    for (const auto& w : small_train_args(*data_, run_dir)) words += shell_quote(w) + " ";
    return words +
           "--train.steps 6 --train.save_every 3 --train.keep_checkpoints 0 --optim.lr 1e-3 "
           "--optim.warmup_steps 2 --quiet";
  }

  // `sbatch --wait` of slurm/condense.sbatch with `sbatch_options`; the job's id.
  static std::string submit_and_wait(const std::string& sbatch_options, const std::string& words) {
    const auto r = shell("timeout 120 sbatch --parsable --wait " + sbatch_options + " " +
                         shell_quote(source_path("slurm/condense.sbatch")) + " " + words);
    EXPECT_EQ(r.exit_code, 0) << r.err << shell("tail -n 20 slurm-*.out").out;
    return trim(r.out);
  }

  // The job's record as scontrol shows it (kept MinJobAge = 300 s after it ends).
  static std::string job_field(const std::string& job, const std::string& field) {
    const std::string out = shell("scontrol -o show job " + job).out;
    const size_t at = out.find(" " + field + "=");
    if (at == std::string::npos) return "";
    const size_t begin = at + field.size() + 2;
    return out.substr(begin, out.find(' ', begin) - begin);
  }

  static void expect_losses(const std::string& run, const std::string& reference, int64_t first,
                            int64_t last) {
    std::map<int64_t, double> got, want;
    for (const auto& [s, l] : logged_losses(run)) got[s] = l;
    for (const auto& [s, l] : logged_losses(reference)) want[s] = l;
    for (int64_t s = first; s <= last; ++s) {
      ASSERT_TRUE(got.count(s) && want.count(s)) << "no loss at step " << s << " in " << run;
      EXPECT_NEAR(got[s], want[s], kTolerance * want[s]) << run << ", step " << s;
    }
  }

  static const std::string& reference() {
    static const std::string dir = [] {
      const std::string d = dir_->file("one-rank");
      const auto r = shell(CONDENSE_BINARY + std::string(" ") + train(d));
      EXPECT_EQ(r.exit_code, 0) << r.err;
      return d;
    }();
    return dir;
  }

  static TempDir* dir_;
  static SampleTrainingData* data_;
  static bool started_;
  static std::string skip_;
};

TempDir* MultiNode::dir_ = nullptr;
SampleTrainingData* MultiNode::data_ = nullptr;
bool MultiNode::started_ = false;
std::string MultiNode::skip_;

TEST_F(MultiNode, SrunTp2Dp2AcrossNodesGivesOneRanksLossesAndResumesOnOneNode) {
  const std::string run = dir_->file("srun");
  const std::string job = submit_and_wait("-N 2 -n 4", train(run) + " --tp 2 --train.stop_at 3");
  EXPECT_EQ(job_field(job, "NodeList"), "node[1-2]");
  EXPECT_EQ(job_field(job, "NumTasks"), "4");
  const std::string log = slurp(dir_->file("slurm-" + job + ".out"));
  EXPECT_NE(log.find("ranks dp 2 x pp 1 x tp 2"), std::string::npos) << log;
  expect_losses(run, reference(), 1, 3);

  // Rank 0 on node1 wrote the step-3 checkpoint; node2 alone continues it.
  const std::string resumed = submit_and_wait("-n 1 -w node2", train(run) + " --resume");
  EXPECT_EQ(job_field(resumed, "NodeList"), "node2");
  expect_losses(run, reference(), 4, 6);
}

TEST_F(MultiNode, MpirunHostTp2Dp2AcrossNodesGivesOneRanksLosses) {
  // Open MPI starts its daemons through slurm/node-exec.sh (OMPI_MCA_plm_rsh_agent)
  // and the ranks talk over TCP on the test subnet (OMPI_MCA_btl=tcp,self).
  const std::string run = dir_->file("mpirun");
  const auto r = shell("timeout 120 mpirun -n 4 --host node1:2,node2:2 --display-map " +
                       std::string(CONDENSE_BINARY) + " " + train(run) + " --tp 2");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Open MPI's map of the ranks names both nodes.
  EXPECT_NE(r.out.find("Data for node: node1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Data for node: node2"), std::string::npos) << r.out;
  expect_losses(run, reference(), 1, 6);
}

TEST_F(MultiNode, ARunDirectoryOnlyOneNodeSeesIsAOneLineError) {
  // $CONDENSE_SLURM_DIR/local is each node's own tmpfs (its /tmp, as it were).
  const std::string local = std::string(getenv("CONDENSE_SLURM_DIR")) + "/local/run";
  const auto r = shell("timeout 60 sbatch --parsable --wait -N 2 -n 2 " +
                       shell_quote(source_path("slurm/condense.sbatch")) + " " + train(local));
  EXPECT_NE(r.exit_code, 0);
  const std::string log = slurp(dir_->file("slurm-" + trim(r.out) + ".out"));
  EXPECT_NE(log.find("condense.sbatch: node2 cannot see " + local +
                     " as the first node does (the run directory must be on a filesystem "
                     "every node mounts, not a node-local one)"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("condense: "), std::string::npos) << "condense ran: " << log;
}

TEST_F(MultiNode, SweepArrayRunsItsPointsOnBothNodes) {
  // Two points, each task a whole node (SBATCH_EXCLUSIVE): one runs on each node.
  std::string options;
  for (const auto& w : small_train_args(*data_, "unused")) options += shell_quote(w) + " ";
  options = options.substr(options.find("'--data.train'"));
  options.replace(options.find("'--run.dir' 'unused' "), 21, "");
  options += "--train.steps 3 --quiet --sweep.dir " + shell_quote(dir_->file("sweep")) +
             " --sweep.grid 'optim.lr=1e-3,2e-3'";
  const auto submit = shell("SBATCH_EXCLUSIVE=exclusive bash " +
                            shell_quote(source_path("slurm/sweep.sh")) + " " + options);
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  std::vector<std::string> jobs;
  std::istringstream ids(submit.out);
  for (std::string id; std::getline(ids, id);) jobs.push_back(id);
  ASSERT_EQ(jobs.size(), 3u) << submit.out;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline &&
         !trim(shell("squeue -h -j " + jobs[0] + "," + jobs[1] + "," + jobs[2]).out).empty())
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  std::set<std::string> nodes;
  const std::vector<std::string> points = {"1e-3", "2e-3"};
  for (size_t i = 0; i < points.size(); ++i) {
    const std::string log =
        slurp(dir_->file("slurm-" + jobs[1] + "_" + std::to_string(i) + ".out"));
    const std::string said = "sweep_point.sbatch: grid point " + points[i] + " on ";
    const size_t at = log.find(said);
    ASSERT_NE(at, std::string::npos) << log;
    const std::string node = log.substr(at + said.size(), log.find('\n', at) - at - said.size());
    std::cout << "point " << points[i] << " ran on " << node << std::endl;
    nodes.insert(node);
    EXPECT_EQ(logged_losses(dir_->file("sweep/" + points[i])).size(), 3u) << points[i];
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"node1", "node2"}));
  EXPECT_EQ(job_field(jobs[2], "JobState"), "COMPLETED")
      << slurp(dir_->file("slurm-" + jobs[2] + ".out"));
}

// Last: it leaves node2 dead (the suite's teardown removes the cluster).
TEST_F(MultiNode, ANodeThatDiesEndsTheJobNamingItsRanksAndTheLastCheckpointLoads) {
  const std::string run = dir_->file("dies");
  std::string words = train(run) + " --tp 2";
  words.replace(words.find("--train.steps 6 --train.save_every 3"), 36,
                "--train.steps 100000 --train.save_every 2");
  const auto submit = shell("sbatch --parsable -N 2 -n 4 " +
                            shell_quote(source_path("slurm/condense.sbatch")) + " " + words);
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string job = trim(submit.out);
  // Wait until step 5 is logged (checkpoints at 2 and 4 are written), then kill node2.
  auto deadline = Clock::now() + std::chrono::seconds(90);
  while (Clock::now() < deadline && logged_losses(run).size() < 5)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_GE(logged_losses(run).size(), 5u) << slurp(dir_->file("slurm-" + job + ".out"));
  const auto killed_at = Clock::now();
  ASSERT_EQ(cluster("kill node2").exit_code, 0);
  deadline = killed_at + std::chrono::seconds(30);
  while (Clock::now() < deadline && !trim(shell("squeue -h -j " + job).out).empty())
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double took = std::chrono::duration<double>(Clock::now() - killed_at).count();
  const std::string log = slurp(dir_->file("slurm-" + job + ".out"));
  ASSERT_TRUE(trim(shell("squeue -h -j " + job).out).empty())
      << "the job still runs 30 s after node2 died:\n"
      << log;
  std::cout << "the job ended " << took << " s after node2 died:\n" << log << std::endl;
  EXPECT_NE(log.find("condense.sbatch: node node2 is lost (State=DOWN"), std::string::npos) << log;
  EXPECT_NE(log.find("), and with it ranks 2-3\n"), std::string::npos) << log;

  // The newest checkpoint continues on one rank (here, outside the cluster).
  const int64_t last = logged_losses(run).back().first;
  std::string resume = train(run) + " --resume";
  resume.replace(resume.find("--train.steps 6"), 15, "--train.steps " + std::to_string(last + 1));
  const auto r = shell(CONDENSE_BINARY + std::string(" ") + resume);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(logged_losses(run).back().first, last + 1);
}

}  // namespace
}  // namespace condense::testing
