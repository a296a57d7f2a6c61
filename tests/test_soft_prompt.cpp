// Soft prompts through the model: input embeddings at chosen rows
// (ForwardArgs::embed_rows / embed_values) carry gradients back into whatever
// produced them, checked against finite differences of the loss.
#include <gtest/gtest.h>

#include "gradcheck.h"
#include "model_test_util.h"

namespace condense {
namespace {

using testing::check_against_differences;
using testing::lm_loss;
using testing::random_ids;
using testing::small_config;

// Soft-prompt rows made by a trainable projection of a trainable table.
TEST(SoftPrompt, GradientsReachAProducerOfTheEmbeddings) {
  Llama model(small_config(), 5);
  const Var table(testing::randn({3, 6}, 1), true), proj(testing::randn({16, 6}, 2, 0.3f), true);
  ForwardArgs a = ForwardArgs::tokens(random_ids(2, 5, 48, 3));
  a.embed_rows = Tensor::from_i32({0, 1, 6}, {3});  // rows 0, 1 of sequence 0; row 1 of sequence 1
  auto run = [&](Tape& tape) {
    ForwardArgs b = a;
    b.embed_values = ops::linear(tape, table, proj);
    return lm_loss(tape, model, b);
  };
  auto loss = [&] {
    Tape tape(false);
    return static_cast<double>(run(tape).value().to_vector()[0]);
  };
  Tape tape;
  tape.backward(run(tape));
  EXPECT_EQ(check_against_differences(loss, {{"table", table}, {"proj", proj}}, 1), 18 + 96);
}

// AutoCompressor-style: the final hidden states of a first segment's last two tokens
// become the soft prompt of a second segment, on one tape; the model's weights get
// gradients through both passes.
TEST(SoftPrompt, GradientsFlowThroughTheModelsOwnSummaryVectors) {
  Llama model(small_config(), 5);
  // Embeddings at unit scale: the differences' step is then small against them.
  Param& embed = model.param("model.embed_tokens.weight");
  embed.var.set_value(testing::randn(embed.var.shape(), 6));
  const Tensor first = random_ids(1, 6, 48, 4), second = random_ids(1, 5, 48, 5);
  auto run = [&](Tape& tape) {
    const Var h = model.hidden(tape, ForwardArgs::tokens(first));
    ForwardArgs b = ForwardArgs::tokens(second);
    b.embed_rows = Tensor::from_i32({0, 1}, {2});
    b.embed_values = ops::gather_rows(tape, h, Tensor::from_i32({4, 5}, {2}));
    return lm_loss(tape, model, b);
  };
  auto loss = [&] {
    Tape tape(false);
    return static_cast<double>(run(tape).value().to_vector()[0]);
  };
  Tape tape;
  tape.backward(run(tape));
  std::vector<std::pair<std::string, Var>> vars;
  for (const Param& p : model.params()) vars.emplace_back(p.name, p.var);
  EXPECT_GT(check_against_differences(loss, vars, 31), 80);
  // The first segment's tokens are reached only through the soft prompt.
  const std::vector<int32_t> ids = first.to_i32_vector();
  const std::vector<float> g = model.param("model.embed_tokens.weight").var.grad().to_vector();
  double first_only = 0;
  for (int32_t id : ids) {
    bool in_second = false;
    for (int32_t s : second.to_i32_vector()) in_second |= s == id;
    if (!in_second)
      for (int64_t d = 0; d < 16; ++d) first_only += std::abs(g[id * 16 + d]);
  }
  EXPECT_GT(first_only, 0.0);
}

}  // namespace
}  // namespace condense
