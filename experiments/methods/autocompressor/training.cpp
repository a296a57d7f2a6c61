#include "experiments/methods/autocompressor/training.h"

#include <numeric>
#include <utility>

#include "core/error.h"
#include "core/ops.h"
#include "experiments/methods/autocompressor/summary_passes.h"

namespace condense::autocompressor {
namespace {

constexpr int32_t kIgnoreIndex = -100;

}  // namespace

void apply_plan(data::TokenBatch& batch, const WindowPlan& plan) {
  const std::vector<int32_t> pos = segment_positions(plan);
  const auto used = static_cast<int64_t>(pos.size());
  CONDENSE_ASSERT(plan.begin + used == batch.T, "a plan of ", plan.begin, " + ", used,
                  " tokens for windows of ", batch.T);
  std::vector<int64_t> substep_ends;
  int64_t at = 0;
  for (const std::vector<int64_t>& s : plan.substeps)
    substep_ends.push_back(at += std::accumulate(s.begin(), s.end(), int64_t{0}));
  data::TokenBatch out;
  out.rows = batch.rows;
  out.T = used;
  for (int64_t r = 0; r < batch.rows; ++r) {
    const int64_t from = r * batch.T + plan.begin;
    out.inputs.insert(out.inputs.end(), batch.inputs.begin() + from,
                      batch.inputs.begin() + from + used);
    out.targets.insert(out.targets.end(), batch.targets.begin() + from,
                       batch.targets.begin() + from + used);
    for (int64_t end : substep_ends) out.targets[r * used + end - 1] = kIgnoreIndex;
    out.positions.insert(out.positions.end(), pos.begin(), pos.end());
  }
  batch = std::move(out);
}

parallel::PassStep training_passes(const std::vector<data::TokenBatch>& batches,
                                   const TrainingRule& rule) {
  return [&batches, rule](parallel::PassContext& ctx) {
    const Llama& model = ctx.model();
    Tape& tape = ctx.tape();
    const Var table = rule.summarize ? model.param(kTableName).var : Var();
    for (const data::TokenBatch& b : batches) {
      if (b.rows == 0) continue;
      const std::vector<int32_t> row0(b.positions.begin(), b.positions.begin() + b.T);
      const std::vector<std::vector<int64_t>> substeps =
          group_substeps(segments_of(row0), rule.substeps);
      const Tensor ids = Tensor::from_i32(b.inputs, {b.rows, b.T});
      const Tensor targets = Tensor::from_i32(b.targets, {b.rows, b.T});
      Var softprompt;
      int64_t at = 0;
      for (size_t i = 0; i < substeps.size(); ++i) {
        const int64_t len = std::accumulate(substeps[i].begin(), substeps[i].end(), int64_t{0});
        // The window's last segment needs no σ after it.
        const ChainOutput c =
            run_segments(tape, model, table, columns(ids, at, at + len), substeps[i], softprompt,
                         rule.accumulate, i + 1 < substeps.size(), true);
        for (size_t s = 0; s < c.hidden.size(); ++s) {
          ctx.loss_sum(c.hidden[s], columns(targets, at, at + substeps[i][s]).to(model.device()));
          at += substeps[i][s];
        }
        // The gradient stops between substeps.
        softprompt = c.softprompt.defined() ? ops::detach(c.softprompt) : Var();
      }
    }
  };
}

WindowBatches::WindowBatches(const data::DocumentWindows& windows, const Segmenting& segmenting,
                             int64_t batch_size, uint64_t seed, int dp_rank, int dp_size,
                             std::string method)
    : sampler_(windows, batch_size, seed, dp_rank, dp_size),
      segmenting_(segmenting),
      batch_size_(batch_size),
      seed_(seed),
      method_(std::move(method)) {}

data::TokenBatch WindowBatches::next(int64_t& tokens) {
  const int64_t index = position();
  data::TokenBatch b = sampler_.next();
  apply_plan(b, plan_window(b.T, segmenting_, batch_seed(seed_, index), method_));
  tokens += batch_size_ * b.T;
  return b;
}

}  // namespace condense::autocompressor
