// One pipeline stage running a step's micro-batches in a given order (see
// parallel/schedule.h): activations go forward and their gradients come back
// point-to-point between neighbouring stages; the loss is on the last stage.
#pragma once
#include <memory>
#include <vector>

#include "core/model.h"
#include "parallel/communicator.h"
#include "parallel/pass_graph.h"
#include "parallel/schedule.h"

namespace condense::parallel {

struct MicroBatch {
  ForwardArgs args;                     // ids [b,T] on every stage (for shapes and positions)
  Tensor targets;                       // [b,T] i32, read by the last stage
  double denominator;                   // the loss is sum over its tokens / denominator
  std::shared_ptr<const KVMix> kv_mix;  // what args.kv_mix points to, if anything
};

class PipelineStage {
 public:
  // `shard` holds this stage's layers. `activations` and `gradients` are two
  // communicators over the pipeline group (group rank = stage), one per
  // direction, so that a send one way never waits behind a receive the other way
  // (NCCL orders the operations of one communicator). `tp` is the
  // tensor-parallel group, for the vocab-parallel loss.
  PipelineStage(const Llama& shard, int stage, int stages, Communicator& activations,
                Communicator& gradients, Communicator& tp);

  // Runs `schedule` over `micro`. A forward takes its input from the previous stage
  // (the first embeds the tokens) and sends its output on (the last computes the
  // loss); a backward takes its output's gradient from the next stage (the last
  // starts from the loss) and sends its input's gradient back. Parameter gradients
  // accumulate. Returns the sum of the micro-batch losses on the last stage, 0
  // elsewhere. Without `train` no tape is kept and the schedule must be forwards.
  double run(const std::vector<PipelineAction>& schedule, const std::vector<MicroBatch>& micro,
             bool train, std::vector<TraceEvent>* trace);
  // Forward and backward of a pass graph (pipeline_graph.cpp): every pass forward in
  // graph order, then backward in reverse; the first stage fills a pass's inputs with
  // the hidden rows the last stage exported, and sends their gradients back. Each
  // pass's loss is its targets' summed cross-entropy over `global_targets`; returns the
  // sum of the losses on the last stage, 0 elsewhere. Trace events name passes by index.
  double run_graph(const PassGraph& graph, double global_targets, std::vector<TraceEvent>* trace);

 private:
  const Llama& shard_;
  int stage_, stages_;
  Communicator &activations_, &gradients_, &tp_;
};

}  // namespace condense::parallel
