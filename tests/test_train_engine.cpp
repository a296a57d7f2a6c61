// The single-rank training engine (exp::run_with_engine without a launcher): a
// method's model extension runs before the optimizer is built, set_weights leaves
// the method's parameters alone, and a step written as a pass graph (step_graph) is
// the plain step when it is one pass. The grid's side is in tests/mpi/test_mpi_methods.
#include <gtest/gtest.h>

#include "core/ops.h"
#include "experiments/train_engine.h"

namespace condense {
namespace {

LlamaConfig tiny() {
  LlamaConfig c;
  c.vocab_size = 32;
  c.dim = 16;
  c.n_layers = 2;
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.ffn_dim = 32;
  return c;
}

exp::EngineSetup setup() {
  exp::EngineSetup s;
  s.model = tiny();
  s.seed = 3;
  s.optim.lr = 1e-2f;
  return s;
}

data::TokenBatch batch() {
  data::TokenBatch b;
  b.rows = 2;
  b.T = 6;
  for (int32_t i = 0; i < 12; ++i) {
    b.inputs.push_back((5 * i + 1) % 32);
    b.targets.push_back((7 * i + 2) % 32);
  }
  b.targets[3] = -100;  // an ignored target is not counted
  return b;
}

std::vector<float> value(const Llama& m, const std::string& name) {
  return m.param(name).var.value().to_vector();
}

TEST(OneRankEngine, ExtensionRunsBeforeTheOptimizer) {
  exp::EngineSetup s = setup();
  s.extend = [](Llama& m) {
    ParamSpec table;
    table.name = "test.table.weight";
    table.value = Tensor::from_f32(std::vector<float>(4 * 16, 0.25f), {4, 16});
    m.add_param(table);
    m.set_trainable("model.embed_tokens.weight", false);
  };
  exp::run_with_engine(s, [&](exp::Engine& engine, int, int) {
    const Llama* m = engine.whole_model();
    const std::vector<float> embed = value(*m, "model.embed_tokens.weight");
    const std::vector<float> head = value(*m, "lm_head.weight");
    engine.step({batch()});
    EXPECT_EQ(value(*m, "model.embed_tokens.weight"), embed);  // frozen
    EXPECT_NE(value(*m, "lm_head.weight"), head);
    // A pretrained model without the method's table: its weights, the table kept.
    const Llama pretrained(tiny(), 99);
    engine.set_weights(pretrained);
    EXPECT_EQ(value(*m, "lm_head.weight"), value(pretrained, "lm_head.weight"));
    EXPECT_EQ(value(*m, "test.table.weight"), std::vector<float>(4 * 16, 0.25f));
    return 0;
  });
}

TEST(OneRankEngine, OnePassGraphEqualsThePlainStep) {
  std::pair<double, float> plain, passes;
  std::vector<float> plain_after, passes_after;
  exp::run_with_engine(setup(), [&](exp::Engine& engine, int, int) {
    plain = engine.step({batch()});
    plain_after = value(*engine.whole_model(), "model.layers.1.mlp.down_proj.weight");
    return 0;
  });
  exp::run_with_engine(setup(), [&](exp::Engine& engine, int, int) {
    const data::BatchTensors t = data::to_tensors(batch(), Device::cpu);
    parallel::PassGraph graph(1);
    graph[0].args = t.args;
    graph[0].targets = t.targets;
    EXPECT_EQ(parallel::graph_targets(graph), 11);
    passes = engine.step_graph("one-pass", graph);
    passes_after = value(*engine.whole_model(), "model.layers.1.mlp.down_proj.weight");
    // A step without a single target is an error naming the method.
    graph[0].targets = Tensor::from_i32(std::vector<int32_t>(12, -100), {2, 6});
    try {
      engine.step_graph("silent", graph);
      ADD_FAILURE() << "a step without a loss should throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("method silent"), std::string::npos) << e.what();
    }
    // A pass reading a pass that does not come before it is refused, naming both.
    graph[0].targets = t.targets;
    graph[0].inputs.push_back({0, {0}, {1}, false});
    try {
      engine.step_graph("loop", graph);
      ADD_FAILURE() << "a pass reading itself should throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("pass 0 reads pass 0"), std::string::npos) << e.what();
    }
    return 0;
  });
  EXPECT_NEAR(passes.first, plain.first, 1e-6 * plain.first);
  EXPECT_NEAR(passes.second, plain.second, 1e-5 * plain.second);
  ASSERT_EQ(passes_after.size(), plain_after.size());
  for (size_t i = 0; i < plain_after.size(); ++i)
    EXPECT_NEAR(passes_after[i], plain_after[i], 1e-6) << i;
}

}  // namespace
}  // namespace condense
