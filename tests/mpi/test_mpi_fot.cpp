// FoT crossbatch training steps (experiments/methods/fot/crossbatch.h) on a layout from
// the command line against one rank computed in-process on world rank 0: over 5 steps
// of packed batches (packs of 2, range 3 with stepping, memory layer 1), the loss and
// the gradient norm match within 1e-5 relative and every gradient within 5e-5. A
// rank's rows are one crossbatch group (packs stay whole on a data-parallel rank, and
// their negatives are the rank's other packs), so the single-rank reference runs each
// data-parallel share as its own crossbatch pass.
#include <gtest/gtest.h>

#include "core/optim.h"
#include "experiments/methods/fot/crossbatch.h"
#include "parallel/trainer.h"
#include "tests/mpi/mpi_test_util.h"

namespace condense::testing {
namespace {

constexpr double kTolerance = 1e-5;
// Gradients reach other entries' keys and values through the memory layer's gather,
// which sums more float rounding than the loss does.
constexpr double kGradTolerance = 5e-5;
constexpr int64_t kRows = 8, kT = 12, kPack = 2, kRange = 3;
constexpr uint64_t kSeed = 11;
const std::vector<int64_t> kMemoryLayers = {1};

parallel::PassGraph graph_of(const std::vector<data::TokenBatch>& shares) {
  return fot::crossbatch_graph(shares, kPack, kRange, true, kMemoryLayers,
                               small_model_config().n_layers, Device::cpu);
}

TEST(FotGrid, CrossbatchStepsEqualOneRank) {
  parallel::ProcessGrid grid(layout().tp, layout().pp);
  const AdamWConfig optim = adamw_config(/*grad_clip=*/0.5f);
  parallel::ParallelOptions options;
  options.timeout_s = 60;
  parallel::ParallelTrainer trainer(grid, small_model_config(), kSeed, optim, options);
  std::unique_ptr<Llama> single;
  std::unique_ptr<AdamW> single_opt;
  if (grid.rank() == 0) {
    single = std::make_unique<Llama>(small_model_config(), kSeed);
    single_opt = std::make_unique<AdamW>(single->params(), optim);
  }
  for (int step = 1; step <= 5; ++step) {
    const data::TokenBatch global =
        random_batch(kRows, kT, small_model_config().vocab_size, 60 + step);
    const parallel::PassGraph mine = graph_of({share(grid, global)});
    const double loss = trainer.forward_backward_graph("fot", mine);
    const Values grads = as_map(trainer.gather(parallel::Gathered::grad));
    const float norm = trainer.optimizer_step();
    trainer.zero_grad();
    if (!single) continue;
    std::vector<data::TokenBatch> shares;
    for (int r = 0; r < grid.dp_size(); ++r)
      shares.push_back(rows_of(global, data::shard_begin(kRows, r, grid.dp_size()),
                               data::shard_end(kRows, r, grid.dp_size())));
    Tape tape;
    parallel::PassContext ctx(*single, tape, nullptr);
    const parallel::PassGraph all = graph_of(shares);
    parallel::sequential_step(all)(ctx);
    const double ref_loss =
        parallel::backward_mean(ctx, static_cast<double>(ctx.total().targets), "fot");
    const Values ref = grads_of(*single);
    const float ref_norm = single_opt->step();
    single_opt->zero_grad();
    const std::string at = "step " + std::to_string(step);
    EXPECT_NEAR(loss, ref_loss, kTolerance * ref_loss) << at;
    EXPECT_NEAR(norm, ref_norm, kTolerance * ref_norm) << at;
    ASSERT_EQ(grads.size(), ref.size()) << at;
    expect_close(grads, ref, kGradTolerance, at);
  }
}

}  // namespace
}  // namespace condense::testing
