// FoT crossbatch training (METHODS.md §4.2; long_llama FoT/cross_batch.py): in a memory
// layer, batch entry i attends in one softmax to its own tokens (causal, normal RoPE)
// and to every token of the `range` entries before it, i-1, ..., i-range, whose keys are
// rotated "as if first" (position 0) and keep their gradients. Entries of the same pack
// (k consecutive entries holding consecutive chunks of one document) are the positives,
// entries of earlier packs the negatives. Non-memory layers are per-entry attention.
#pragma once
#include <cstdint>
#include <vector>

#include "core/model.h"
#include "datasets/batch.h"
#include "parallel/pass_graph.h"

namespace condense::fot {

struct CrossbatchShape {
  int64_t batch = 0;  // entries of the batch (B)
  int64_t pack = 1;   // consecutive entries per document (k)
  int64_t range = 0;  // other entries a memory-layer query may see (d)
  bool stepping = true;
};

// Throws (one line) unless 0 <= range < batch, pack >= 1 divides batch.
void check_shape(const CrossbatchShape& s);

// How many earlier entries each entry sees. Without stepping (or with pack 1) every
// entry sees `range`; with stepping, entry i sees min((i mod k)·step, range), step =
// ceil((range + 1) / max(k − 1, 1)), so one batch mixes several d. Never more than i
// (no entry sees later ones, nor wraps around). B=8, range 6, k=4: 0,1,2,3,0,3,6,6.
std::vector<int64_t> visible_ranges(const CrossbatchShape& s);

// The d schedule (the paper's small models: d = 2 for most steps, then 64): `early`
// before `switch_step`, `late` from it on (late < 0: `early` throughout).
struct RangeSchedule {
  int64_t early = 1, late = -1, switch_step = 0;
  int64_t at(int64_t step) const { return late >= 0 && step >= switch_step ? late : early; }
};

// The model hooks of a crossbatch pass over B rows of T tokens: for each memory layer,
// a RowGather of the `range` previous entries' tokens (slot j of entry i = entry
// (i − j) mod B, at position 0) and a mask [B,T,range·T+T] opening slots j ≤ the entry's
// visible range and the causal local part; other layers get neither.
struct CrossbatchHooks {
  std::vector<RowGather> gather;
  std::vector<Tensor> mask;
};
CrossbatchHooks crossbatch_hooks(const CrossbatchShape& s, int64_t T,
                                 const std::vector<int64_t>& memory_layers, int64_t n_layers,
                                 Device device);

// A crossbatch training step: one pass per batch of `batches` (this rank's rows of it
// are one crossbatch group: each pack stays on one rank, and its negatives are the
// rank's other packs), in packs of `pack` at range `range`; without memory layers, plain
// passes.
parallel::PassGraph crossbatch_graph(const std::vector<data::TokenBatch>& batches, int64_t pack,
                                     int64_t range, bool stepping,
                                     const std::vector<int64_t>& memory_layers, int64_t n_layers,
                                     Device device);

}  // namespace condense::fot
