// Input embeddings from a table the model holds (core's TableInputs, a TokenBatch's
// from_table / embed_table): what lets CCM train with the engine's plain step on any
// layout. A CCM merge batch through data::to_tensors (the model's first stage gathers
// the <COMP>/<SUM> rows) gives bit-identical logits and gradients to the explicit
// embed_rows / embed_values path built from the sequences; the marks follow rows
// through rows_of; bad marks are one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/ops.h"
#include "experiments/methods/ccm/adapter.h"
#include "experiments/methods/ccm/batch.h"
#include "experiments/methods/ccm/layout.h"
#include "tests/model_test_util.h"

namespace condense {
namespace {

struct Fixture {
  Fixture() : model(testing::small_config(), 3) {
    layout.attn = ccm::Attn::merge_recur;
    layout.n_tok = 2;
    ccm::AdapterOptions o;
    o.lora_r = 2;
    ccm::extend_model(model, testing::randn({4, model.config().dim}, 9, 1.0f), o);
    uint32_t seed = 20;
    for (Param& p : model.params())
      if (p.name.find("lora_B") != std::string::npos)
        p.var.set_value(testing::randn(p.var.shape(), seed++, 0.3f));
    const std::vector<int32_t> a = {5, 6}, b = {7}, c = {8, 9, 10}, x = {11}, y = {12, 13};
    seqs = {ccm::build_sequence(layout, {a, b, c}, x, y), ccm::build_sequence(layout, {b}, x, y)};
    batch = ccm::one_pass_batch(layout, seqs, 0);
  }
  // Logits and every trainable gradient of one forward/backward over `bt`.
  std::vector<std::vector<float>> run(const std::function<data::BatchTensors(Tape&)>& tensors) {
    for (Param& p : model.params()) p.var.zero_grad();
    Tape tape;
    const data::BatchTensors bt = tensors(tape);
    const Var logits = model.forward(tape, bt.args);
    tape.backward(ops::cross_entropy(tape, logits, bt.targets));
    std::vector<std::vector<float>> out{logits.value().to_vector()};
    for (const Param& p : model.params())
      if (p.trainable)  // none for the table when no token reads it
        out.push_back(p.var.grad().defined() ? p.var.grad().to_vector() : std::vector<float>{});
    return out;
  }
  Llama model;
  ccm::Layout layout;
  std::vector<ccm::Sequence> seqs;
  data::TokenBatch batch;
};

TEST(TableInputs, PlainBatchEqualsExplicitEmbeddingRowsBitForBit) {
  Fixture f;
  ASSERT_EQ(f.batch.embed_table, ccm::kTableName);
  int marked = 0;
  for (uint8_t m : f.batch.from_table) marked += m;
  EXPECT_EQ(marked, (3 + 1) * 2 * 2);  // (3 + 1 contexts) x (<COMP>, <SUM>) x n_tok
  const auto plain = f.run([&](Tape&) { return data::to_tensors(f.batch, Device::cpu); });
  // The reference: the batch without marks, its <COMP>/<SUM> rows put in from the
  // sequences' own tokens through embed_rows / embed_values.
  const Var& table = f.model.param(ccm::kTableName).var;
  const auto explicit_rows = f.run([&](Tape& tape) {
    data::TokenBatch unmarked = f.batch;
    unmarked.from_table.clear();
    data::BatchTensors bt = data::to_tensors(unmarked, Device::cpu);
    std::vector<int32_t> rows, ids;
    for (size_t r = 0; r < f.seqs.size(); ++r)
      for (size_t i = 0; i < f.seqs[r].tokens.size(); ++i)
        if (f.seqs[r].tokens[i].kind != ccm::Kind::text) {
          rows.push_back(
              static_cast<int32_t>(static_cast<int64_t>(r) * f.batch.T + static_cast<int64_t>(i)));
          ids.push_back(static_cast<int32_t>(f.seqs[r].tokens[i].table_row(f.layout.n_tok)));
        }
    const auto P = static_cast<int64_t>(rows.size());
    bt.args.embed_rows = Tensor::from_i32(rows, {P});
    bt.args.embed_values = ops::gather_rows(tape, table, Tensor::from_i32(ids, {P}));
    return bt;
  });
  // ccm::one_pass_tensors, the same with a table given apart from the model.
  const auto given =
      f.run([&](Tape& tape) { return ccm::one_pass_tensors(tape, f.batch, table, Device::cpu); });
  EXPECT_EQ(given, explicit_rows);
  ASSERT_EQ(plain.size(), explicit_rows.size());
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(plain[i], explicit_rows[i]) << i;
  // The table's <COMP> rows are in it: their gradient is not zero.
  const std::vector<float> g = table.grad().to_vector();
  double comp = 0;
  for (int64_t i = 0; i < 2 * f.model.config().dim; ++i) comp += std::abs(g[i]);
  EXPECT_GT(comp, 1e-6);
  // Without the table the batch's marked tokens are plain vocabulary ids: other logits.
  data::TokenBatch unmarked = f.batch;
  unmarked.from_table.clear();
  const auto vocab = f.run([&](Tape&) { return data::to_tensors(unmarked, Device::cpu); });
  EXPECT_NE(vocab[0], plain[0]);
}

TEST(TableInputs, MarksFollowRows) {
  Fixture f;
  const data::TokenBatch second = data::rows_of(f.batch, 1, 2);
  EXPECT_EQ(second.embed_table, ccm::kTableName);
  EXPECT_EQ(second.from_table,
            std::vector<uint8_t>(f.batch.from_table.begin() + f.batch.T, f.batch.from_table.end()));
  // The second row's marked tokens, in the second row's own numbering.
  const data::BatchTensors t = data::to_tensors(second, Device::cpu);
  std::vector<int32_t> rows;
  for (int64_t i = 0; i < second.T; ++i)
    if (second.from_table[i]) rows.push_back(static_cast<int32_t>(i));
  EXPECT_EQ(t.args.table_inputs.rows.to_i32_vector(), rows);
}

TEST(TableInputs, BadMarksAreOneLineErrors) {
  Fixture f;
  auto batch_error = [&](const std::function<void(data::TokenBatch&)>& change) {
    data::TokenBatch b = f.batch;
    change(b);
    return testing::error_of([&] { data::to_tensors(b, Device::cpu); });
  };
  auto forward_error = [&](const std::string& table) {
    data::TokenBatch b = f.batch;
    b.embed_table = table;
    return testing::error_of([&] {
      Tape tape(false);
      f.model.forward(tape, data::to_tensors(b, Device::cpu).args);
    });
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {batch_error([](data::TokenBatch& b) { b.embed_table.clear(); }), "embed_table names none"},
      {batch_error([](data::TokenBatch& b) { b.from_table.pop_back(); }),
       "lora_mask/from_table sizes"},
      {forward_error("no.such.table"), "no.such.table is not a parameter of the first stage"},
      {forward_error("model.norm.weight"), "model.norm.weight is [16], expected [rows,16]"}};
  for (const auto& [message, expected] : cases) {
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace condense
