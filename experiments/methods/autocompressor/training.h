// AutoCompressor / RMT training: windows of long documents (never crossing one) as
// batches that carry their segmenting, and the step's forward passes over them.
//
// A batch row is a window's used tokens (segmenting.h: fixed lengths use the last
// ones), with positions restarting at 0 at every segment (how the plan travels with
// the rows through data-parallel shares) and targets the next token within a substep:
// the last token of a substep predicts nothing, since the next substep is a separate
// pass from a detached σ (the authors' substeps each shift their own labels), while
// the last token of a segment predicts the next segment's first.
//
// The step: each substep's segments run one after another, σ passed on (gradients
// flow through the summary vectors), and σ is detached before the next substep.
// Every segment's loss counts toward the step's mean over all its targets. The authors run one
// backward per substep of its mean loss divided by the gradient-accumulation count; with substeps
// of equal target counts that is this mean times the number of substeps, a constant factor AdamW's
// update does not see (except through epsilon and the clipping threshold).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/batch.h"
#include "datasets/doc_windows.h"
#include "experiments/methods/autocompressor/segmenting.h"
#include "experiments/methods/method.h"
#include "parallel/pass_graph.h"

namespace condense::autocompressor {

// `batch` (rows of windows: inputs = window tokens, targets = the next ones) cut as
// `plan` says: its first plan.begin columns dropped, positions within segments,
// no target at a substep's last token.
void apply_plan(data::TokenBatch& batch, const WindowPlan& plan);

struct TrainingRule {
  int64_t substeps = 2;
  bool accumulate = true;
  bool summarize = true;  // false: the full-attention reference (no <Sum>, no table)
};

// The passes of one training step over this rank's rows of `batches` (apply_plan's
// shape), as a pass graph (parallel/pass_graph.h) on `device`, with `kappa` <Sum>
// rows (the summary table's). Each batch's rows are
// cut into `chains` groups of consecutive rows (fewer when it has fewer rows); pass
// (chain, segment s) reads σ from the summary rows its chain's earlier segments export
// (detached across a substep boundary), and the passes come segment by segment: s of
// every chain before s + 1 of any, so a pipeline works on other chains while one's
// summary vectors travel from the last stage to the first.
parallel::PassGraph training_graph(const std::vector<data::TokenBatch>& batches,
                                   const TrainingRule& rule, int chains, int64_t kappa,
                                   Device device);

// Global batches of `batch_size` windows in WindowSampler's seeded, resumable order,
// batch i cut by plan_window(seed = batch_seed(seed, i)): the same on every rank.
// `method` names the method in errors.
class WindowBatches : public methods::BatchSource {
 public:
  WindowBatches(const data::DocumentWindows& windows, const Segmenting& segmenting,
                int64_t batch_size, uint64_t seed, int dp_rank, int dp_size, std::string method);
  data::TokenBatch next(int64_t& tokens) override;
  int64_t position() const override { return sampler_.position() / batch_size_; }
  void set_position(int64_t batches_served) override {
    sampler_.set_position(batches_served * batch_size_);
  }

 private:
  data::WindowSampler sampler_;
  Segmenting segmenting_;
  int64_t batch_size_;
  uint64_t seed_;
  std::string method_;
};

}  // namespace condense::autocompressor
