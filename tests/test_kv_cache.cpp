// Generation's key/value cache written in place (core/model.h InPlaceKV): step by step
// it gives the logits of the concatenating prefix path, its buffers are allocated once,
// and a pass past its capacity or with gradients is refused. Batched generation refuses
// to run past the model's max_seq_len.
#include <gtest/gtest.h>

#include <numeric>

#include "core/ops.h"
#include "eval/batch_generate.h"
#include "tests/model_test_util.h"

namespace condense {
namespace {

ForwardArgs step_args(const std::vector<int32_t>& ids, int32_t first) {
  std::vector<int32_t> pos(ids.size());
  std::iota(pos.begin(), pos.end(), first);
  ForwardArgs args;
  const auto T = static_cast<int64_t>(ids.size());
  args.ids = Tensor::from_i32(ids, {1, T});
  args.pos = Tensor::from_i32(pos, {1, T});
  return args;
}

TEST(KvCache, InPlaceStepsEqualThePrefixPathAndRefusePastCapacity) {
  const Llama model(testing::small_config(), 7);
  Tape no_grad(false);
  const std::vector<std::vector<int32_t>> steps = {{1, 5, 9, 3, 7}, {4}, {2, 8}, {6}};
  InPlaceKV cache;
  cache.capacity = 9;
  std::vector<LayerKV> prefix;  // the reference: keys/values concatenated step by step
  int32_t at = 0;
  const void* buffer = nullptr;
  for (const auto& ids : steps) {
    ForwardArgs in_place = step_args(ids, at), reference = step_args(ids, at);
    in_place.in_place = &cache;
    std::vector<LayerKV> fresh;
    reference.prefix = prefix.empty() ? nullptr : &prefix;
    reference.kv_out = &fresh;
    const std::vector<float> got = model.forward(no_grad, in_place).value().to_vector();
    const std::vector<float> want = model.forward(no_grad, reference).value().to_vector();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-5f) << "position " << at << ", logit " << i;
    cache.length += static_cast<int64_t>(ids.size());
    at += static_cast<int32_t>(ids.size());
    if (prefix.empty()) {
      prefix = fresh;
      buffer = cache.layers[0].k.value().raw();
    } else {
      for (size_t l = 0; l < prefix.size(); ++l) {
        prefix[l].k = ops::concat(no_grad, {prefix[l].k, fresh[l].k}, 1);
        prefix[l].v = ops::concat(no_grad, {prefix[l].v, fresh[l].v}, 1);
      }
    }
    EXPECT_EQ(cache.layers[0].k.value().raw(), buffer) << "the buffers were reallocated";
  }
  ForwardArgs past = step_args({3, 3}, at);
  past.in_place = &cache;
  EXPECT_EQ(testing::error_of([&] { model.forward(no_grad, past); }),
            "in-place key/value cache: 11 positions, more than its capacity 9");
  Tape grad;
  ForwardArgs with_grad = step_args({3}, at);
  with_grad.in_place = &cache;
  EXPECT_EQ(testing::error_of([&] { model.forward(grad, with_grad); }),
            "in-place key/value cache: inference only (no gradients)");
}

TEST(KvCache, BatchGenerationPastMaxSeqLenIsRefused) {
  LlamaConfig c = testing::small_config();
  c.max_seq_len = 16;
  const Llama model(c, 3);
  const eval::PromptBatch p =
      eval::causal_batch({{1, 4, 5, 6, 7}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, {}, 0, Device::cpu);
  eval::BatchGenerateConfig cfg;
  cfg.max_new_tokens = 7;  // the longer row's last run token sits at position 15
  EXPECT_EQ(eval::generate_batch(model, nullptr, p, cfg).tokens[1].size(), 7u);
  cfg.max_new_tokens = 8;
  EXPECT_EQ(testing::error_of([&] { eval::generate_batch(model, nullptr, p, cfg); }),
            "generate: --max-new-tokens 8 after prompts at positions up to 9 need position 16, "
            "beyond the model's max_seq_len 16");
}

}  // namespace
}  // namespace condense
