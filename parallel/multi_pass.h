// A training step as forward passes on one tape: how a pass graph (pass_graph.h)
// runs without a pipeline, each pass feeding later ones, with ops::detach where the
// gradient should stop. The engine (parallel::ParallelTrainer on a tensor/data-parallel
// grid, the single-rank engine of experiments/) hands the step a context, the step
// runs its passes and asks the context for the loss of each, and the engine turns the
// losses into the mean over all targets of the global batch and runs one backward.
#pragma once
#include <functional>
#include <string>

#include "core/model.h"
#include "parallel/communicator.h"

namespace condense::parallel {

// The summed cross-entropy of some targets and how many there are.
struct LossSum {
  Var sum;              // [1]
  int64_t targets = 0;  // targets other than the ignore index
};

class PassContext {
 public:
  // `tp`: the tensor-parallel group when `model` is a tensor-parallel shard, else nullptr.
  PassContext(Llama& model, Tape& tape, Communicator* tp);

  // This rank's model: the whole model at one rank, its tensor-parallel shard on a
  // grid without a pipeline. Forward passes over it record on tape(); set
  // ForwardArgs::training in them.
  Llama& model() { return model_; }
  Tape& tape() { return tape_; }

  // hidden [B,T,D] final-norm hidden states (Llama::hidden) and targets [B,T] i32
  // -> the sum of the targets' cross-entropies (vocabulary-parallel on a
  // tensor-parallel shard, where every rank gets the same sum). It counts toward
  // the step's loss: the sum of every loss_sum of the step over the number of
  // their targets in the whole global batch.
  LossSum loss_sum(const Var& hidden, const Tensor& targets);
  // Every loss_sum of the step so far, added up.
  const LossSum& total() const { return total_; }

 private:
  Llama& model_;
  Tape& tape_;
  Communicator* tp_;
  LossSum total_;
};

using PassStep = std::function<void(PassContext&)>;

// Runs the backward of `ctx`'s total loss, scaled by 1 / global_targets (the
// targets of the global batch, at least 1 so that a batch without targets gives
// zeros), and returns this rank's part of the mean loss: total sum / global_targets.
// Throws naming `method` when its step computed no loss.
double backward_mean(PassContext& ctx, double global_targets, const std::string& method);

}  // namespace condense::parallel
