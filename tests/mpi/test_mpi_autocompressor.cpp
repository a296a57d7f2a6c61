// AutoCompressor and RMT training steps (experiments/methods/autocompressor/training.h)
// on a layout from the command line against one rank computed in-process on world
// rank 0: over 5 steps of windows with random segmenting (2 substeps, σ accumulated)
// and fixed segmenting (1 substep, σ replaced), the loss and the gradient norm match
// within 1e-5 relative and every gradient (the summary table's included) within 5e-5.
// On a pipeline each rank's rows run as --micro-batches chains of segments, σ sent
// from the last stage to the first and its gradient back.
#include <gtest/gtest.h>

#include <map>

#include "core/optim.h"
#include "experiments/methods/autocompressor/summary_passes.h"
#include "experiments/methods/autocompressor/training.h"
#include "parallel/trainer.h"
#include "tests/mpi/mpi_test_util.h"

namespace condense::testing {
namespace {

using namespace condense::autocompressor;

constexpr double kTolerance = 1e-5;
// Per-tensor gradients pass through up to three segments in a row (σ of one feeds the
// next), which gathers more float rounding from the tensor-parallel reductions than
// the loss: measured up to 2.4e-5 at tp 2 by step 5, so they get a looser bound.
constexpr double kGradTolerance = 5e-5;
constexpr int64_t kRows = 4, kWindow = 24, kKappa = 2;
constexpr uint64_t kSeed = 5;

const AdamWConfig kOptim = adamw_config(/*grad_clip=*/0.5f);

// The method's table, as extend() adds it: replicated, on the first stage.
void add_table(Llama& m) {
  ParamSpec table;
  table.name = kTableName;
  std::vector<float> v(static_cast<size_t>(kKappa * small_model_config().dim));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.02f * static_cast<float>(i % 17) - 0.15f;
  table.value = Tensor::from_f32(v, {kKappa, small_model_config().dim});
  m.add_param(table);
}

struct Case {
  const char* name;
  Segmenting segmenting;
  TrainingRule rule;
};

std::vector<Case> cases() {
  Case ac{"autocompressor", {}, {}};
  ac.segmenting.substeps = 2;
  ac.segmenting.segments = 2;
  ac.segmenting.max_segment = 10;
  ac.rule.substeps = 2;
  Case rmt{"rmt", {}, {}};
  rmt.segmenting.substeps = 1;
  rmt.segmenting.fixed = {5, 6, 7};
  rmt.segmenting.max_segment = 10;
  rmt.rule.substeps = 1;
  rmt.rule.accumulate = false;
  return {ac, rmt};
}

// A global batch of windows cut as the method's batches are (step `step`'s seed).
data::TokenBatch window_batch(const Segmenting& s, int step) {
  data::TokenBatch b = random_batch(kRows, kWindow, small_model_config().vocab_size, 40 + step);
  // Targets are the next tokens of the window, as the sampler gives them.
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t t = 0; t + 1 < kWindow; ++t)
      b.targets[r * kWindow + t] = b.inputs[r * kWindow + t + 1];
  apply_plan(b, plan_window(kWindow, s, batch_seed(kSeed, step), "test"));
  return b;
}

TEST(AutoCompressorGrid, TrainingStepsEqualOneRank) {
  parallel::ProcessGrid grid(layout().tp, layout().pp);
  for (const Case& c : cases()) {
    parallel::ParallelOptions options;
    options.timeout_s = 60;
    parallel::ParallelTrainer trainer(grid, small_model_config(), kSeed, kOptim, options,
                                      Device::cpu, add_table);
    std::unique_ptr<Llama> single;
    std::unique_ptr<AdamW> single_opt;
    if (grid.rank() == 0) {
      single = std::make_unique<Llama>(small_model_config(), kSeed);
      add_table(*single);
      single_opt = std::make_unique<AdamW>(single->params(), kOptim);
    }
    for (int step = 1; step <= 5; ++step) {
      const data::TokenBatch global = window_batch(c.segmenting, step);
      const parallel::PassGraph mine = training_graph({share(grid, global)}, c.rule,
                                                      layout().micro_batches, kKappa, Device::cpu);
      const double loss = trainer.forward_backward_graph(c.name, mine);
      const Values grads = as_map(trainer.gather(parallel::Gathered::grad));
      const float norm = trainer.optimizer_step();
      trainer.zero_grad();
      if (!single) continue;
      Tape tape;
      parallel::PassContext ctx(*single, tape, nullptr);
      const parallel::PassGraph all = training_graph({global}, c.rule, 1, kKappa, Device::cpu);
      parallel::sequential_step(all)(ctx);
      const double ref_loss =
          parallel::backward_mean(ctx, static_cast<double>(ctx.total().targets), c.name);
      const Values ref = grads_of(*single);
      const float ref_norm = single_opt->step();
      single_opt->zero_grad();
      const std::string at = std::string(c.name) + " step " + std::to_string(step);
      EXPECT_NEAR(loss, ref_loss, kTolerance * ref_loss) << at;
      EXPECT_NEAR(norm, ref_norm, kTolerance * ref_norm) << at;
      ASSERT_EQ(grads.size(), ref.size()) << at;
      expect_close(grads, ref, kGradTolerance, at);
      double table = 0;
      for (float g : ref.at(kTableName)) table += std::abs(g);
      EXPECT_GT(table, 0) << at;
    }
  }
}

}  // namespace
}  // namespace condense::testing
