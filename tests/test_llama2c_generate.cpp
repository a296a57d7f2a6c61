// Real weights: llama2.c's stories260K imported and decoded greedily from BOS
// must reproduce the temperature-0 sample documented for that model in
// llama2.c's doc/stories260K.md, token for token.
#include <gtest/gtest.h>

#include "tests/cli_test_util.h"
#include "tests/test_data_util.h"

namespace condense::testing {
namespace {

// From llama2.c doc/stories260K.md (`./run stories260K.bin -z tok512.bin -t 0.0`).
const char* kDocumentedSample =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n"
    "Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. "
    "She said, \"I want to play with your ball, but I can't find it.\"\n"
    "Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to "
    "do.\"\n"
    "Lily didn't want to help her mom, so she said, \"I'm sorry, mom. I didn't know what to do.\" "
    "Her mom said, \"Don't worry, Lily. We can help you.";

TEST(Llama2c, GreedyFromBosReproducesTheDocumentedSample) {
  TempDir dir;
  const std::string model = dir.file("stories260K");
  auto imp = import_stories260k(model, dir.path());
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  auto gen = run_condense({"generate", "--model", model, "--prompt", "", "--max-new-tokens", "256",
                           "--temperature", "0"},
                          dir.path());
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  std::string text = gen.out;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  // 256 tokens cover the documented text (which is itself cut at llama2.c's default of 256 steps).
  const std::string want = kDocumentedSample;
  ASSERT_GE(text.size(), want.size()) << text;
  EXPECT_EQ(text.substr(0, want.size()), want);

  // Token for token: the same text re-encoded is at least 100 tokens long.
  const data::Tokenizer tok = data::Tokenizer::load(model + "/tokenizer.model");
  EXPECT_GE(tok.encode(want, false, false).size(), 100u);
}

TEST(Llama2c, PromptIsEchoedThenContinued) {
  TempDir dir;
  const std::string model = dir.file("m");
  ASSERT_EQ(import_stories260k(model, dir.path()).exit_code, 0);
  auto gen = run_condense({"generate", "--model", model, "--prompt", "Once upon a time",
                           "--max-new-tokens", "8", "--temperature", "0"},
                          dir.path());
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_EQ(gen.out.rfind("Once upon a time", 0), 0u) << gen.out;
  EXPECT_GT(gen.out.size(), std::string("Once upon a time\n").size());
}

// stories260K has 512 positions: 513 new tokens after BOS need 513, one too many.
TEST(Llama2c, GenerationPastTheModelsContextIsRefused) {
  TempDir dir;
  const std::string model = dir.file("m");
  ASSERT_EQ(import_stories260k(model, dir.path()).exit_code, 0);
  auto gen = run_condense({"generate", "--model", model, "--max-new-tokens", "513"}, dir.path());
  expect_one_line_error(gen,
                        "--max-new-tokens 513 need 513 positions, more than the model's "
                        "max_seq_len 512");
  gen = run_condense({"generate", "--model", model, "--max-new-tokens", "512"}, dir.path());
  EXPECT_EQ(gen.exit_code, 0) << gen.err;
}

}  // namespace
}  // namespace condense::testing
