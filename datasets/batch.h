// A batch of next-token-prediction rows, as the loaders hand it to training/eval.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/model.h"

namespace condense::data {

// One term of a key/value mix (core's KVMix) inside one row of a batch: the key and
// value at token `target` of row `row` become sum over its terms of weight * the key
// and value at token `source` of the same row. Stored per row so that it follows
// the row through data-parallel shares and pipeline micro-batches.
struct KVMixTerm {
  int64_t row = 0;
  int32_t target = 0;
  int32_t source = 0;
  float weight = 0;
};

// rows × T inputs and targets, row-major; targets[r][t] is the token after inputs[r][t].
// Targets equal to `ignore_index` (padding) carry no loss. Methods whose rows are
// not plain causal text add what their forward pass needs; each is empty unless
// the method sets it:
// - positions: RoPE positions (gist: left padding, CCM: skip positions); empty: 0..T-1;
// - mask: the attention mask, 1 = may attend (gist, CCM block masks); empty: causal;
// - lora_mask: 1 where LoRA applies (CCM's conditional LoRA); empty: every token;
// - kv_mix: key/value rows replaced by mixes of other rows (CCM-merge); empty: none;
// - from_table: 1 where the input id is a row of the model parameter `embed_table` (a
//   method's own embedding table: CCM's <COMP>/<SUM>), not a vocabulary id (core's
//   TableInputs); empty: none.
struct TokenBatch {
  int64_t rows = 0;
  int64_t T = 0;
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;
  std::vector<int32_t> positions;   // rows × T
  std::vector<uint8_t> mask;        // rows × T × T
  std::vector<uint8_t> lora_mask;   // rows × T
  std::vector<KVMixTerm> kv_mix;    // terms in any order; rows within [0, rows)
  std::vector<uint8_t> from_table;  // rows × T
  std::string embed_table;          // the table's parameter name, with from_table
};

// Rows [begin, end) of a batch, with everything the rows carry (kv_mix terms of
// those rows, renumbered from 0).
TokenBatch rows_of(const TokenBatch& b, int64_t begin, int64_t end);

// A batch as the model takes it: ForwardArgs (ids, and pos / mask / lora_mask /
// kv_mix / table_inputs when the batch has them) and the targets, on `device`.
// args.kv_mix points into `kv_mix`, which moves with the BatchTensors (keep it while
// args is used).
struct BatchTensors {
  ForwardArgs args;
  Tensor targets;
  std::shared_ptr<const KVMix> kv_mix;
};
// Throws (one line) when a field's size does not match rows × T, a kv_mix term
// points outside the batch, or from_table comes without embed_table.
BatchTensors to_tensors(const TokenBatch& b, Device device);

// The KVMix of a batch's terms over the flattened [rows*T] keys/values: one replaced
// row per distinct (row, target), in increasing order, weights [P, rows*T] (terms of
// the same (row, target, source) add up).
KVMix kv_mix_tensors(const std::vector<KVMixTerm>& terms, int64_t rows, int64_t T, Device device);

// Rows [r * B / world, (r + 1) * B / world) of a global batch of B rows: the share of
// data-parallel rank r, so that the global batch is the same for any world size.
inline int64_t shard_begin(int64_t B, int rank, int world) {
  return B * rank / world;
}
inline int64_t shard_end(int64_t B, int rank, int world) {
  return B * (rank + 1) / world;
}

}  // namespace condense::data
