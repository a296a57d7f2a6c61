// The parts of the parallel engine that need no MPI: the 1F1B schedule, the
// grid's rank arithmetic and the slicing of weights into tensor-parallel shards.
#include <gtest/gtest.h>

#include "core/model.h"
#include "parallel/process_grid.h"
#include "parallel/schedule.h"

namespace condense::testing {
namespace {

using parallel::Pass;

TEST(OneFOneB, KnownOrders) {
  // Megatron's picture for 4 stages and 8 micro-batches, stage 0 and the last.
  EXPECT_EQ(parallel::describe(parallel::one_f_one_b(0, 4, 8)),
            "F0 F1 F2 F3 B0 F4 B1 F5 B2 F6 B3 F7 B4 B5 B6 B7");
  EXPECT_EQ(parallel::describe(parallel::one_f_one_b(3, 4, 8)),
            "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5 F6 B6 F7 B7");
  // Fewer micro-batches than stages: all forwards, then all backwards.
  EXPECT_EQ(parallel::describe(parallel::one_f_one_b(0, 4, 2)), "F0 F1 B0 B1");
  EXPECT_EQ(parallel::describe(parallel::forward_only(3)), "F0 F1 F2");
  EXPECT_THROW(parallel::one_f_one_b(2, 2, 4), Error);
}

TEST(OneFOneB, PropertiesForManyShapes) {
  for (int p = 1; p <= 6; ++p)
    for (int m = 1; m <= 9; ++m)
      for (int s = 0; s < p; ++s) {
        const auto actions = parallel::one_f_one_b(s, p, m);
        ASSERT_EQ(static_cast<int>(actions.size()), 2 * m);
        const int warmup = std::min(p - s - 1, m);
        int f = 0, b = 0, max_in_flight = 0;
        for (size_t i = 0; i < actions.size(); ++i) {
          const auto& a = actions[i];
          if (a.pass == Pass::forward) {
            EXPECT_EQ(a.micro, f++);
          } else {
            EXPECT_EQ(a.micro, b++);
            EXPECT_LT(a.micro, f) << "backward before its forward";
          }
          max_in_flight = std::max(max_in_flight, f - b);
          if (static_cast<int>(i) < warmup) {
            EXPECT_EQ(a.pass, Pass::forward);
          }
        }
        // Activations held at once: the warm-up plus the one in the steady state.
        EXPECT_EQ(max_in_flight, std::min(p - s, m)) << "p " << p << " m " << m << " s " << s;
        if (warmup < m) {  // then the steady state starts with a forward and its backward
          EXPECT_EQ(actions[warmup].pass, Pass::forward);
          EXPECT_EQ(actions[warmup + 1].pass, Pass::backward);
        }
      }
}

TEST(Grid, RankArithmetic) {
  // tp fastest, then dp, then pp (Megatron's order).
  EXPECT_EQ(parallel::grid_coords(0, 2, 2), (parallel::GridCoords{0, 0, 0}));
  EXPECT_EQ(parallel::grid_coords(1, 2, 2), (parallel::GridCoords{1, 0, 0}));
  EXPECT_EQ(parallel::grid_coords(2, 2, 2), (parallel::GridCoords{0, 1, 0}));
  EXPECT_EQ(parallel::grid_coords(5, 2, 2), (parallel::GridCoords{1, 0, 1}));
  for (int tp : {1, 2, 4})
    for (int dp : {1, 3})
      for (int r = 0; r < tp * dp * 2; ++r)
        EXPECT_EQ(parallel::grid_rank(parallel::grid_coords(r, tp, dp), tp, dp), r);
}

TEST(ShardTensor, BlocksAlongAnyDimension) {
  std::vector<float> v(2 * 4 * 6);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  const Tensor t = Tensor::from_f32(v, {2, 4, 6});
  const Tensor rows = shard_tensor(t, 1, 1, 2);  // [2, 2, 6]: rows 2..3 of each block
  EXPECT_EQ(rows.shape(), (Shape{2, 2, 6}));
  EXPECT_EQ(rows.to_vector()[0], 12.0f);
  EXPECT_EQ(rows.to_vector()[12], 36.0f);
  const Tensor cols = shard_tensor(t, -1, 2, 3);  // [2, 4, 2]: columns 4..5
  EXPECT_EQ(cols.to_vector()[0], 4.0f);
  EXPECT_EQ(cols.to_vector()[1], 5.0f);
  EXPECT_EQ(cols.to_vector()[2], 10.0f);
  EXPECT_TRUE(shard_tensor(t, 0, 0, 1).same_storage(t));
  EXPECT_THROW(shard_tensor(t, 1, 0, 3), Error);
}

TEST(ModelShard, ShardsHoldSlicesOfTheWholeModel) {
  LlamaConfig c;
  c.vocab_size = 64;
  c.dim = 32;
  c.n_layers = 4;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 48;
  const Llama whole(c, 3);
  // Stage 1 of 2 (layers 2, 3) without tensor parallelism: same names and values.
  ModelShard stage;
  stage.layer_begin = 2;
  stage.layer_end = 4;
  const Llama last(c, 3, Device::cpu, stage);
  EXPECT_FALSE(last.first_stage());
  EXPECT_TRUE(last.last_stage());
  for (const Param& p : last.params())
    EXPECT_EQ(p.var.value().to_vector(),
              const_cast<Llama&>(whole).param(p.name).var.value().to_vector())
        << p.name;
  EXPECT_THROW(const_cast<Llama&>(last).param("model.embed_tokens.weight"), Error);
  // A tensor-parallel shard needs its communication hooks.
  ModelShard tp;
  tp.tp_size = 2;
  EXPECT_THROW(Llama(c, 3, Device::cpu, tp), Error);
}

}  // namespace
}  // namespace condense::testing
