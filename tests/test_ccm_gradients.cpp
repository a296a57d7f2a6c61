// Gradients of CCM's one-pass training loss (issue 12, done-when 2: gradcheck of the
// merge hook) against central differences: the <COMP>/<SUM> table and the LoRA pairs.
// Under merge_recur the targets see the contexts only through the <SUM> keys/values,
// which the merge hook replaces by means of <COMP> keys/values, so the <COMP> rows'
// gradient is all carried by the hook; the frozen base gets none.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/ops.h"
#include "experiments/methods/ccm/adapter.h"
#include "experiments/methods/ccm/batch.h"
#include "tests/gradcheck.h"
#include "tests/model_test_util.h"

namespace condense::ccm {
namespace {

TEST(CcmGradients, TableAndLoraThroughTheMergeHookMatchDifferences) {
  Layout l;
  l.attn = Attn::merge_recur;
  l.n_tok = 2;
  l.bos = 1;
  l.eos = 2;
  l.sep = {3};
  Llama model(testing::small_config(), 9);
  AdapterOptions o;
  o.lora_r = 2;
  extend_model(model,
               comp_table_init(model.param("model.embed_tokens.weight").var.value(),
                               table_rows(l.attn, l.n_tok)),
               o);
  uint32_t seed = 40;
  for (Param& p : model.params())
    if (p.name.find("lora_B") != std::string::npos)
      p.var.set_value(testing::randn(p.var.shape(), seed++, 0.3f));
  // Rows of unit scale: the initial means of many embedding rows are so small that the
  // RMSNorm after them would be far from linear over the difference step.
  model.param(kTableName).var.set_value(testing::randn({4, 16}, seed, 1.0f));
  const std::vector<int32_t> a = {5, 6}, b = {7}, c = {8, 9, 10}, x = {11}, y = {12, 13};
  const std::vector<Sequence> seqs = {build_sequence(l, {a, b, c}, x, y),
                                      build_sequence(l, {b, a}, x, y)};
  const data::TokenBatch batch = one_pass_batch(l, seqs, 0);
  ASSERT_FALSE(batch.kv_mix.empty());
  Var table = model.param(kTableName).var;
  auto loss = [&](Tape& tape) {
    const data::BatchTensors bt = one_pass_tensors(tape, batch, table, Device::cpu);
    return ops::cross_entropy(tape, model.forward(tape, bt.args), bt.targets);
  };
  for (Param& p : model.params()) p.var.zero_grad();
  Tape tape;
  tape.backward(loss(tape));
  const std::string lora_b = "model.layers.0.self_attn.v_proj.lora_B.weight";
  const std::string lora_a = "model.layers.1.self_attn.k_proj.lora_A.weight";
  const int checked = testing::check_against_differences(
      [&] {
        Tape t(false);
        return static_cast<double>(loss(t).value().to_vector()[0]);
      },
      {{"table", table}, {lora_b, model.param(lora_b).var}, {lora_a, model.param(lora_a).var}}, 1);
  EXPECT_GT(checked, 100);
  // The <COMP> rows (0, 1) get a real gradient, carried by the merged <SUM> keys/values.
  const std::vector<float> g = table.grad().to_vector();
  double comp = 0;
  for (int64_t i = 0; i < 2 * 16; ++i) comp += std::fabs(g[i]);
  EXPECT_GT(comp, 1e-4);
  // The frozen base records none.
  EXPECT_FALSE(model.param("model.layers.0.self_attn.q_proj.weight").var.grad().defined());
  EXPECT_FALSE(model.param("model.embed_tokens.weight").var.grad().defined());
}

}  // namespace
}  // namespace condense::ccm
