// Which piece of the model one process holds when the model is split across
// ranks: a tensor-parallel slice of every weight and a contiguous range of
// layers (a pipeline stage). parallel/ builds the grid and the communication;
// core only needs its own piece and someone to call at the edges of the
// tensor-parallel regions, so it stays free of MPI. The default is the whole model.
#pragma once
#include <cstdint>

#include "core/autograd.h"

namespace condense {

// The communication of a tensor-parallel shard (Megatron's f and g operators),
// implemented in parallel/ over the tensor-parallel group.
class TensorParallelHooks {
 public:
  virtual ~TensorParallelHooks() = default;
  // Forward identity, backward all-reduce: a replicated activation entering
  // column-parallel linears, whose input gradients are partial sums.
  virtual Var copy_to_tp_region(Tape& tape, const Var& x) const = 0;
  // Forward all-reduce, backward identity: partial sums leaving row-parallel linears.
  virtual Var reduce_from_tp_region(Tape& tape, const Var& x) const = 0;
  // ids [B,T] i32 looked up in `table` [V/tp,D], which holds vocabulary rows
  // [vocab_begin, vocab_begin + V/tp): the full embeddings [B,T,D] on every rank.
  virtual Var vocab_parallel_embedding(Tape& tape, const Var& table, const Tensor& ids,
                                       int64_t vocab_begin) const = 0;
};

struct ModelShard {
  int tp_rank = 0;
  int tp_size = 1;
  int64_t layer_begin = 0;
  int64_t layer_end = -1;                   // -1: through the last layer
  const TensorParallelHooks* tp = nullptr;  // needed when tp_size > 1; outlives the model
};

// Block `rank` of `size` equal blocks of `full` along `dim`, as a new tensor: the
// slice of a weight a tensor-parallel rank holds. size 1 returns `full` itself.
Tensor shard_tensor(const Tensor& full, int dim, int rank, int size);

}  // namespace condense
