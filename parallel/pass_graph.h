// A training step written as forward passes over the whole model, some of whose
// input rows are the final-norm hidden states of earlier passes: a recurrent
// method's memory, such as summary vectors that become the next segment's soft
// prompt. The step is data, so two executors run the same description:
//   - in order on one tape (one rank, and tensor/data-parallel grids):
//     sequential_step() turns it into a PassStep (multi_pass.h);
//   - through a pipeline (PipelineStage::run_graph): the first stage embeds a pass
//     once the last stage has sent the hidden rows it reads, and the gradients of
//     those rows go back from the first stage to the last.
// Each pass's loss is the cross-entropy of its targets; the step's loss is their sum
// over the number of targets of the whole global batch.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/model.h"
#include "parallel/multi_pass.h"

namespace condense::parallel {

// Rows of a pass's input that take hidden states an earlier pass exported.
struct PassInput {
  int from = 0;                   // the earlier pass (an index into the graph)
  std::vector<int32_t> exported;  // indices into that pass's `exports`, one per row below
  std::vector<int32_t> rows;      // rows of this pass's flattened [B*T] input embeddings
  bool detach = false;            // no gradient goes back into `from`
};

struct GraphPass {
  // ids [B,T] (placeholders where inputs replace the embeddings), positions, masks,
  // a method table's rows, per-layer hooks. embed_rows/embed_values stay unset: the
  // executors fill them from `inputs`.
  ForwardArgs args;
  Tensor targets;  // [B,T] i32 on the host, -100: none
  std::vector<int32_t>
      exports;  // rows of the flattened [B*T] final hidden states later passes read
  std::vector<PassInput> inputs;     // in the order their rows' embeddings are concatenated
  std::shared_ptr<const void> keep;  // what args' pointers refer to (hooks), kept alive here
};

// Every input points back to an earlier pass and within its exports; rows lie within
// the pass. Throws one line naming the pass otherwise.
using PassGraph = std::vector<GraphPass>;
void check_graph(const PassGraph& graph);

// Targets other than -100: of one pass (a pass without any has no loss), and of every
// pass (this rank's share of the step's denominator).
int64_t pass_targets(const GraphPass& pass);
int64_t graph_targets(const PassGraph& graph);

// The graph's passes in order on ctx's tape, each pass's loss through ctx.loss_sum.
// `graph` must outlive the returned step.
PassStep sequential_step(const PassGraph& graph);

}  // namespace condense::parallel
