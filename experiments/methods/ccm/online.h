// CCM online inference (METHODS.md §2.6): each row of a batch keeps its own compressed
// context memory. compress() runs a new context c(t) (after BOS at t = 1, after the
// separator later) and its n <COMP> tokens against the row's memory Mem(t-1), at skip
// positions that continue the row's text, and takes the <COMP> keys/values (after
// RoPE) of every layer: concat_recur appends them (n·t entries), merge_recur averages
// them in, Mem(t) = (1 - 1/t) Mem(t-1) + (1/t) h(t) (n entries). With sink the BOS
// entry of the first step stays at the front of the memory. answer() then reads
// only the memory: the query rows attend to its entries and to themselves.
//
// Rows may be at different time steps: a compress() call advances the rows given a
// context and leaves the others as they are. Batches are left-padded (memory and
// tokens), so every row's <COMP> tokens are its last n columns.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/model.h"
#include "eval/batch_generate.h"
#include "experiments/methods/ccm/layout.h"

namespace condense::ccm {

struct RowMemory {
  // Per layer, the entries' keys (after RoPE) and values, entries × Hkv × Dh floats.
  std::vector<std::vector<float>> k, v;
  int64_t entries = 0;  // key/value entries kept (the sink's included)
  int64_t steps = 0;    // contexts compressed so far
  int32_t offset = 0;   // text tokens so far: the position of the row's next text token
};

using OnlineMemory = std::vector<RowMemory>;  // one per batch row

// Compresses contexts[r] into mem[r] for every row r whose context is not null (at
// least one). `table` is the <COMP>/<SUM> embedding table [rows, D]. Only
// concat_recur and merge_recur compress online; another type is an error.
void compress(const Llama& model, const Tensor& table, const Layout& l, OnlineMemory& mem,
              const std::vector<const std::vector<int32_t>*>& contexts, int32_t pad_id);

// The tokens that follow the memory of a row for query x: the separator (when a
// context was compressed; BOS when none was), x, the separator.
std::vector<int32_t> query_tokens(const Layout& l, const RowMemory& row,
                                  std::span<const int32_t> x);

// The memory as a left-padded per-layer prefix [B, M, Hkv, Dh], M = the most entries
// of a row (empty vector when M = 0).
std::vector<LayerKV> memory_prefix(const OnlineMemory& mem, const LlamaConfig& c, Device device);

// Rows of text tokens that continue the memory: left-padded with `pad_id`, each row
// at positions from its offset on, seeing its memory's entries and its own tokens
// (pad queries see nothing).
eval::PromptBatch memory_prompt(const OnlineMemory& mem,
                                const std::vector<std::vector<int32_t>>& rows, int32_t pad_id,
                                Device device);

// Logits [B,T,V] of `rows` (text tokens after the memory, as memory_prompt lays them
// out), the adapter off: teacher-forced scoring of targets.
Tensor forward_with_memory(const Llama& model, const OnlineMemory& mem,
                           const std::vector<std::vector<int32_t>>& rows, int32_t pad_id);

// Greedy answers to `queries` (the rows' tokens from query_tokens) read from the memory,
// with a key/value cache over memory + query; the adapter is off for all of them.
eval::BatchGenerateResult answer(const Llama& model, const OnlineMemory& mem,
                                 const std::vector<std::vector<int32_t>>& queries, int32_t pad_id,
                                 const eval::BatchGenerateConfig& cfg, bool keep_logits = false);

}  // namespace condense::ccm
