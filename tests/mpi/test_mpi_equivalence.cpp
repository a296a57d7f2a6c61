// A parallel layout (from the command line: --tp, --pp, --micro-batches,
// --zero1, --tied; dp = world / (tp pp)) against one rank, over 5 optimizer
// steps of a small LLaMA: the loss, every parameter's gradient (gathered to
// full logical shapes), the global gradient norm and, at the end, every
// parameter within 1e-5 relative (||parallel - single|| / ||single|| per tensor).
// On pipeline layouts, the recorded event trace must be the 1F1B order.
#include <gtest/gtest.h>

#include <map>

#include "core/ops.h"
#include "parallel/trainer.h"
#include "tests/mpi/mpi_test_util.h"

namespace condense::testing {
namespace {

constexpr double kTolerance = 1e-5;
constexpr int kSteps = 5;
constexpr int64_t kRows = 8, kT = 16;

LlamaConfig model_config() {
  LlamaConfig c;
  c.vocab_size = 96;
  c.dim = 32;
  c.n_layers = 4;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 64;
  c.tie_embeddings = layout().tied;
  return c;
}

// The learning rate bounds how far float rounding can push the two runs apart:
// Adam divides by sqrt(v), so an element whose gradient is near eps turns a
// rounding difference dg into an update difference of about lr dg / eps. At lr
// 1e-2 that alone moves some tensors by 1e-5 in one step although every gradient
// agrees to 4e-7; at 1e-3 the runs stay within 2e-6 over the 5 steps.
AdamWConfig optim_config() {
  AdamWConfig o;
  o.lr = 1e-3f;
  o.warmup_steps = 2;
  o.total_steps = kSteps;
  o.weight_decay = 0.1f;
  o.grad_clip = 0.5f;  // small enough to clip: the global norm must be right
  return o;
}

// What one step of the single-rank run gives.
struct Reference {
  double loss;
  float norm;
  std::map<std::string, std::vector<float>> grads;
};

class Equivalence : public ::testing::Test {
 protected:
  void SetUp() override {
    const Layout& l = layout();
    grid_ = std::make_unique<parallel::ProcessGrid>(l.tp, l.pp);
    parallel::ParallelOptions o;
    o.micro_batches = l.micro_batches;
    o.zero1 = l.zero1;
    o.bucket_bytes = 8192;  // several buckets even for this small model
    o.timeout_s = 60;
    trainer_ =
        std::make_unique<parallel::ParallelTrainer>(*grid_, model_config(), 7, optim_config(), o);
    if (grid_->rank() == 0) {
      single_ = std::make_unique<Llama>(model_config(), 7);
      single_opt_ = std::make_unique<AdamW>(single_->params(), optim_config());
    }
  }

  Reference single_step(const data::TokenBatch& b) {
    Tape tape;
    Var logits =
        single_->forward(tape, ForwardArgs::tokens(Tensor::from_i32(b.inputs, {b.rows, b.T})));
    Var loss = ops::cross_entropy(tape, logits, Tensor::from_i32(b.targets, {b.rows, b.T}));
    tape.backward(loss);
    Reference r;
    r.loss = loss.value().to_vector()[0];
    for (const Param& p : single_->params()) r.grads[p.name] = p.var.grad().to_vector();
    r.norm = single_opt_->step();
    single_opt_->zero_grad();
    return r;
  }

  std::unique_ptr<parallel::ProcessGrid> grid_;
  std::unique_ptr<parallel::ParallelTrainer> trainer_;
  std::unique_ptr<Llama> single_;
  std::unique_ptr<AdamW> single_opt_;
};

TEST_F(Equivalence, LossAndGradientsEqualOneRank) {
  const int dp = grid_->dp_size(), dp_rank = grid_->dp_rank();
  for (int step = 1; step <= kSteps; ++step) {
    const data::TokenBatch global = random_batch(kRows, kT, model_config().vocab_size, 100 + step);
    const data::TokenBatch mine =
        rows_of(global, data::shard_begin(kRows, dp_rank, dp), data::shard_end(kRows, dp_rank, dp));
    const double loss = trainer_->forward_backward({mine});
    const auto grads = trainer_->gather(parallel::Gathered::grad);
    const float norm = trainer_->optimizer_step();
    trainer_->zero_grad();
    if (grid_->rank() != 0) continue;
    const Reference ref = single_step(global);

    EXPECT_NEAR(loss, ref.loss, kTolerance * ref.loss) << "step " << step;
    EXPECT_NEAR(norm, ref.norm, kTolerance * ref.norm) << "step " << step;
    EXPECT_GT(ref.norm, optim_config().grad_clip) << "clipping should be active";
    ASSERT_EQ(grads.size(), ref.grads.size());
    double worst = 0;
    for (const auto& [name, g] : grads) {
      ASSERT_TRUE(ref.grads.count(name)) << name;
      const double e = relative_error(g.to_vector(), ref.grads.at(name));
      worst = std::max(worst, e);
      EXPECT_LT(e, kTolerance) << name << " at step " << step;
    }
    std::cout << "step " << step << " loss " << loss << " (single " << ref.loss << ") norm " << norm
              << " worst gradient error " << worst << std::endl;
  }
  const auto values = trainer_->gather(parallel::Gathered::value);
  if (grid_->rank() != 0) return;
  ASSERT_EQ(values.size(), single_->params().size());
  for (const auto& [name, v] : values)
    EXPECT_LT(relative_error(v.to_vector(), single_->param(name).var.value().to_vector()),
              kTolerance)
        << name << " after " << kSteps << " steps";
}

TEST_F(Equivalence, PipelineRunsOneForwardOneBackward) {
  const int dp = grid_->dp_size();
  const data::TokenBatch global = random_batch(kRows, kT, model_config().vocab_size, 1);
  // Two batches per step: the schedule covers 2 m micro-batches.
  const data::TokenBatch mine = rows_of(global, data::shard_begin(kRows, grid_->dp_rank(), dp),
                                        data::shard_end(kRows, grid_->dp_rank(), dp));
  trainer_->forward_backward({mine, mine});
  const int p = grid_->pp_size(), s = grid_->pp_rank(), m = 2 * layout().micro_batches;
  const auto& trace = trainer_->trace();
  ASSERT_EQ(static_cast<int>(trace.size()), 2 * m);
  // Warm-up: min(p - s - 1, m) forwards; then forward/backward pairs; then the
  // cool-down backwards; micro-batches in order within each kind of pass.
  const int warmup = std::min(p - s - 1, m);
  int forwards = 0, backwards = 0;
  for (size_t i = 0; i < trace.size(); ++i) {
    const parallel::TraceEvent& e = trace[i];
    EXPECT_EQ(e.stage, s);
    const int k = static_cast<int>(i);
    parallel::Pass want;
    if (k < warmup)
      want = parallel::Pass::forward;
    else if (k < warmup + 2 * (m - warmup))
      want = (k - warmup) % 2 == 0 ? parallel::Pass::forward : parallel::Pass::backward;
    else
      want = parallel::Pass::backward;
    EXPECT_EQ(e.pass, want) << "event " << i << " of stage " << s;
    EXPECT_EQ(e.micro, e.pass == parallel::Pass::forward ? forwards++ : backwards++);
    EXPECT_LE(e.begin_s, e.end_s);
    if (i > 0) {
      EXPECT_GE(e.begin_s, trace[i - 1].end_s);
    }
    // At most p - s micro-batches are in flight (activations held) on stage s.
    EXPECT_LE(forwards - backwards, p - s);
  }
  trainer_->zero_grad();
}

}  // namespace
}  // namespace condense::testing
