// `condense train` end to end on a small model: the loss falls, and an
// interrupted + resumed run gives exactly the losses of an uninterrupted one.
#include <gtest/gtest.h>

#include "tests/cli_test_util.h"
#include "tests/test_data_util.h"

namespace condense::testing {
namespace {

// The losses a run logged, in step order.
std::vector<double> losses(const std::string& run_dir) {
  std::vector<double> out;
  for (const auto& [step, loss] : logged_losses(run_dir)) out.push_back(loss);
  return out;
}

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    // A tokenizer (llama2.c's 512-token one) and a dataset of shipped text.
    data_ = make_sample_training_data(dir_);
    ASSERT_FALSE(HasFailure());
  }

  std::vector<std::string> train_args(const std::string& run) const {
    std::vector<std::string> args = small_train_args(data_, run);
    args.insert(args.end(),
                {"--train.steps", "100", "--optim.lr", "3e-3", "--optim.warmup_steps", "10"});
    return args;
  }

  TempDir dir_;
  SampleTrainingData data_;
};

TEST_F(TrainCli, ResumedRunEqualsUninterruptedRun) {
  const std::string full = dir_.file("full"), split = dir_.file("split");
  auto a = run_condense(train_args(full), dir_.path());
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto args = train_args(split);
  args.insert(args.end(), {"--train.stop_at", "50"});
  auto b1 = run_condense(args, dir_.path());
  ASSERT_EQ(b1.exit_code, 0) << b1.err;
  ASSERT_EQ(losses(split).size(), 50u);
  auto resume = train_args(split);
  resume.push_back("--resume");
  auto b2 = run_condense(resume, dir_.path());
  ASSERT_EQ(b2.exit_code, 0) << b2.err;
  const auto la = losses(full), lb = losses(split);
  ASSERT_EQ(la.size(), 100u);
  ASSERT_EQ(lb.size(), 100u);
  for (size_t i = 0; i < la.size(); ++i) EXPECT_EQ(la[i], lb[i]) << "step " << i + 1;
  // And the model learned something: the last losses are well below the first.
  EXPECT_LT(la.back(), la.front() - 1.0);
}

TEST_F(TrainCli, ExistingRunWithoutResumeIsRefused) {
  const std::string run = dir_.file("run");
  auto args = train_args(run);
  args.insert(args.end(), {"--train.stop_at", "2"});
  ASSERT_EQ(run_condense(args, dir_.path()).exit_code, 0);
  expect_one_line_error(run_condense(args, dir_.path()), run);
}

TEST_F(TrainCli, BadInputsGiveOneLineErrors) {
  const std::string run = dir_.file("bad");
  // Unknown option, non-numeric value.
  auto args = train_args(run);
  args.insert(args.end(), {"--train.bogus", "1"});
  expect_one_line_error(run_condense(args, dir_.path()), "--train.bogus");
  args = train_args(run);
  args.insert(args.end(), {"--train.steps", "many"});
  expect_one_line_error(run_condense(args, dir_.path()), "train.steps");
  // A dataset made with another tokenizer.
  ASSERT_EQ(
      run_condense({"data", "tokenizer", "--input", source_path("tests/data/train_sample.txt"),
                    "--vocab-size", "600", "--out", dir_.file("other")},
                   dir_.path())
          .exit_code,
      0);
  args = train_args(run);
  args[4] = dir_.file("other.model");
  expect_one_line_error(run_condense(args, dir_.path()), data_.dataset);
  // A missing dataset.
  args = train_args(run);
  args[2] = dir_.file("missing.h5");
  expect_one_line_error(run_condense(args, dir_.path()), "missing.h5");
}

TEST_F(TrainCli, BadCheckpointsGiveOneLineErrors) {
  const std::string ckpt = data_.model_dir + "/model.h5";
  const std::string bytes = slurp(ckpt);
  auto generate = [&](const std::string& dir) {
    return run_condense({"generate", "--model", dir, "--max-new-tokens", "4"}, dir_.path());
  };
  // Truncated.
  std::filesystem::create_directories(dir_.file("trunc"));
  std::filesystem::copy_file(data_.tokenizer, dir_.file("trunc/tokenizer.model"));
  std::ofstream(dir_.file("trunc/model.h5"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_one_line_error(generate(dir_.file("trunc")), "trunc/model.h5");
  // Corrupt: bytes flipped in the middle of the weights (HDF5 Fletcher32 catches it).
  std::filesystem::create_directories(dir_.file("corrupt"));
  std::filesystem::copy_file(data_.tokenizer, dir_.file("corrupt/tokenizer.model"));
  std::string flipped = bytes;
  for (size_t i = flipped.size() / 2; i < flipped.size() / 2 + 64; ++i) flipped[i] ^= 0x5a;
  std::ofstream(dir_.file("corrupt/model.h5"), std::ios::binary) << flipped;
  expect_one_line_error(generate(dir_.file("corrupt")), "corrupt/model.h5");
  // Missing.
  std::filesystem::create_directories(dir_.file("empty"));
  std::filesystem::copy_file(data_.tokenizer, dir_.file("empty/tokenizer.model"));
  expect_one_line_error(generate(dir_.file("empty")), "empty");
  // Shapes that don't match the configured model: start training from it with another dim.
  auto args = train_args(dir_.file("mismatch"));
  args.insert(args.end(), {"--train.init_from", data_.model_dir});
  expect_one_line_error(run_condense(args, dir_.path()), "model.h5");
  // Nothing half-written anywhere.
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path()))
    EXPECT_NE(e.path().extension(), ".tmp") << e.path();
}

}  // namespace
}  // namespace condense::testing
