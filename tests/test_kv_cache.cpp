// Generation's preallocated KV cache (eval/generate.h): appending in place gives the
// keys/values that concatenating the steps' own gives, the views grow with the cache
// while the buffers stay put, and a step past the capacity is refused. Batched
// generation refuses to run past the model's max_seq_len.
#include <gtest/gtest.h>

#include <numeric>

#include "core/ops.h"
#include "eval/batch_generate.h"
#include "eval/generate.h"
#include "tests/model_test_util.h"

namespace condense {
namespace {

// The keys/values of running `ids` at positions from `first` after `prefix`.
std::vector<LayerKV> step_kv(const Llama& model, const std::vector<int32_t>& ids, int32_t first,
                             const std::vector<LayerKV>* prefix) {
  Tape no_grad(false);
  const auto T = static_cast<int64_t>(ids.size());
  std::vector<int32_t> pos(ids.size());
  std::iota(pos.begin(), pos.end(), first);
  std::vector<LayerKV> fresh;
  ForwardArgs args;
  args.ids = Tensor::from_i32(ids, {1, T});
  args.pos = Tensor::from_i32(pos, {1, T});
  args.prefix = prefix;
  args.kv_out = &fresh;
  model.hidden(no_grad, args);
  return fresh;
}

TEST(KvCache, InPlaceAppendEqualsConcatenationAndRefusesPastCapacity) {
  const Llama model(testing::small_config(), 7);
  eval::KVCache cache(model.config().n_layers, 8);
  const std::vector<LayerKV> a = step_kv(model, {1, 5, 9, 3, 7}, 0, nullptr);
  cache.append(a);
  const void* buffer = cache.layers()[0].k.value().raw();
  const std::vector<LayerKV> b = step_kv(model, {4, 2, 8}, 5, &cache.layers());
  cache.append(b);
  EXPECT_EQ(cache.length(), 8);
  EXPECT_EQ(cache.layers()[0].k.value().raw(), buffer) << "the cache was reallocated";
  Tape no_grad(false);
  for (size_t l = 0; l < a.size(); ++l) {
    const Tensor k = ops::concat(no_grad, {a[l].k, b[l].k}, 1).value();
    const Tensor v = ops::concat(no_grad, {a[l].v, b[l].v}, 1).value();
    EXPECT_EQ(cache.layers()[l].k.value().shape(), k.shape());
    EXPECT_EQ(cache.layers()[l].k.value().to_vector(), k.to_vector()) << "layer " << l;
    EXPECT_EQ(cache.layers()[l].v.value().to_vector(), v.to_vector()) << "layer " << l;
  }
  const std::vector<LayerKV> c = step_kv(model, {6}, 8, &cache.layers());
  EXPECT_EQ(testing::error_of([&] { cache.append(c); }),
            "kv cache: 9 positions, more than its capacity 8");
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
