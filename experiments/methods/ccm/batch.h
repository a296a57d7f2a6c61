// CCM's one-pass batches: every time step of every row in one forward pass, with the
// block mask, skip positions, the conditional-LoRA mask (1 at <COMP>/<SUM>) and the
// merge terms of METHODS.md §2.3, as a data::TokenBatch (so they follow rows through
// data-parallel shares and micro-batches), plus where the <COMP>/<SUM> embeddings go.
#pragma once
#include <cstdint>
#include <vector>

#include "core/autograd.h"
#include "datasets/batch.h"
#include "experiments/methods/ccm/layout.h"

namespace condense::ccm {

struct OnePassBatch {
  // Rows right-padded with `pad_id` to the longest: a pad query sees only itself, no
  // real query sees a pad, pads carry no target.
  data::TokenBatch batch;
  std::vector<int32_t> embed_rows;  // flattened [rows*T] indices of the <COMP>/<SUM> tokens
  std::vector<int32_t> table_rows;  // the embedding-table row each of them takes
};

OnePassBatch one_pass_batch(const Layout& l, const std::vector<Sequence>& rows, int32_t pad_id);

// The forward arguments and targets of `b` on `device`, with the embeddings of `table`
// ([n or 2n, D], the method's parameter) at its <COMP>/<SUM> tokens (recorded on
// `tape`, so the table gets gradients).
data::BatchTensors one_pass_tensors(Tape& tape, const OnePassBatch& b, const Var& table,
                                    Device device);

}  // namespace condense::ccm
