// Communication ops on the autograd tape for tensor parallelism, named by what
// they do forward and backward (Megatron's mappings). `comm` is the
// tensor-parallel group; gather and scatter split the last dimension in rank order.
#pragma once
#include "core/model_shard.h"
#include "parallel/communicator.h"

namespace condense::parallel {

// Forward: identity. Backward: all-reduce (sum). Where a replicated activation
// enters column-parallel linears: each rank's input gradient is a partial sum.
Var copy_to_tp_region(Tape& tape, const Var& x, Communicator& comm);
// Forward: all-reduce (sum). Backward: identity. Where row-parallel linears'
// partial outputs are summed.
Var reduce_from_tp_region(Tape& tape, const Var& x, Communicator& comm);
// Forward: all-gather [..., n] -> [..., n*size]. Backward: this rank's slice.
Var gather_from_tp_region(Tape& tape, const Var& x, Communicator& comm);
// Forward: this rank's slice [..., n*size] -> [..., n]. Backward: all-gather.
Var scatter_to_tp_region(Tape& tape, const Var& x, Communicator& comm);

// The whole tensor from every rank's equal block along `dim` (the inverse of
// core's shard_tensor), on every rank.
Tensor all_gather_shards(const Tensor& shard, int dim, Communicator& comm);

// The hooks core's Llama calls in a tensor-parallel shard (core/model_shard.h).
class TensorParallelRegion : public TensorParallelHooks {
 public:
  explicit TensorParallelRegion(Communicator& comm) : comm_(&comm) {}
  Var copy_to_tp_region(Tape& tape, const Var& x) const override;
  Var reduce_from_tp_region(Tape& tape, const Var& x) const override;
  Var vocab_parallel_embedding(Tape& tape, const Var& table, const Tensor& ids,
                               int64_t vocab_begin) const override;

 private:
  Communicator* comm_;
};

}  // namespace condense::parallel
