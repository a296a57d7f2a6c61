// CCM's one-pass batches: every time step of every row in one forward pass, with the
// block mask, skip positions, the conditional-LoRA mask (1 at <COMP>/<SUM>) and the
// merge terms of METHODS.md §2.3, as a data::TokenBatch (so they follow rows through
// data-parallel shares and micro-batches), <COMP>/<SUM> embeddings included.
#pragma once
#include <cstdint>
#include <vector>

#include "core/autograd.h"
#include "datasets/batch.h"
#include "experiments/methods/ccm/layout.h"

namespace condense::ccm {

// Rows right-padded with `pad_id` to the longest: a pad query sees only itself, no
// real query sees a pad, pads carry no target. The input id at a <COMP>/<SUM> token
// (lora_mask = from_table = 1) is its row of the model's table kTableName (the
// batch's embed_table): the vocabulary row there is never used, so the batch alone
// says which table row goes where, through data-parallel shares and pipeline
// micro-batches alike, and the model's first stage embeds it (core's TableInputs).
data::TokenBatch one_pass_batch(const Layout& l, const std::vector<Sequence>& rows, int32_t pad_id);

// The forward arguments and targets of `b` on `device`, with the rows of `table` ([n or
// 2n, D], given apart from the model: a table on another device, or not the model's)
// as the embeddings of its <COMP>/<SUM> tokens (recorded on `tape`, so the table gets
// gradients). data::to_tensors takes them from the model's own table instead.
data::BatchTensors one_pass_tensors(Tape& tape, const data::TokenBatch& b, const Var& table,
                                    Device device);

}  // namespace condense::ccm
