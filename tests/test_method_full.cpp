// The full-context method's inference through the method interface: on a real
// pretrained model (llama2.c's stories260K), answer(compress(context), query) for a
// batch of instruction records of different lengths gives, token for token, what
// greedy decoding of each whole prompt alone gives (eval/generate.h, no batching, no
// padding, no cache built by the method).
#include <gtest/gtest.h>

#include <set>

#include "core/llama2c.h"
#include "eval/generate.h"
#include "experiments/methods/registry.h"
#include "experiments/tasks/instruct.h"
#include "tests/test_data_util.h"

namespace condense::testing {
namespace {

TEST(MethodFull, BatchedCompressThenAnswerEqualsWholePromptDecoding) {
  TempDir dir;
  instruct::PrepareOptions p;
  p.train_json =
      source_path("tests/data/datasets/alpaca_plus/partial/alpaca_part_of_train_APPROX.json");
  p.valid_dir = source_path("tests/data/datasets/alpaca_plus");
  p.tokenizer = tok512_path();
  p.max_train = 8;
  p.out = dir.file("data");
  const instruct::DataFiles files = instruct::prepare(p);

  const std::unique_ptr<methods::Method> full = methods::make("full");
  cli::po::options_description desc;
  full->add_options(desc);
  cli::po::variables_map vm;
  ASSERT_TRUE(cli::parse("test", desc, {"--data.dir", p.out}, vm));
  full->open(exp::TrainLoopOptions{}, false);

  const Llama model = read_llama2c_checkpoint(source_path("tests/data/tinyllamas/stories260K.bin"));
  const instruct::Split human =
      instruct::load_split(files.eval[2], tok512(), instruct::Template::make(tok512()));
  methods::Records batch;
  for (size_t i = 0; i < 8; ++i) batch.push_back(&human.examples[i * 7]);
  eval::BatchGenerateConfig cfg;
  cfg.max_new_tokens = 12;
  cfg.stop_ids = {tok512().eos_id()};
  const eval::BatchGenerateResult got =
      full->answer(model, full->compress(model, batch), batch, cfg);

  ASSERT_EQ(got.tokens.size(), batch.size());
  std::set<size_t> lengths;
  for (size_t i = 0; i < batch.size(); ++i) {
    std::vector<int32_t> prompt = batch[i]->instruction;
    prompt.insert(prompt.end(), batch[i]->suffix.begin(), batch[i]->suffix.end());
    EXPECT_EQ(static_cast<int64_t>(prompt.size()), full->prompt_length(*batch[i]));
    eval::SamplingConfig one;
    one.max_new_tokens = cfg.max_new_tokens;
    one.stop_ids = cfg.stop_ids;
    EXPECT_EQ(got.tokens[i], eval::generate(model, prompt, one)) << "record " << i;
    lengths.insert(prompt.size());
  }
  // The batch really mixed prompt lengths (so padding and per-row positions mattered).
  EXPECT_GT(lengths.size(), 3u);
}

}  // namespace
}  // namespace condense::testing
