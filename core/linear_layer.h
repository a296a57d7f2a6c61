// One linear of the decoder, y = x W^T (W [Out, In], Hugging Face layout), with its
// tensor-parallel split (Megatron's column- and row-parallel linears) and an
// optional LoRA adapter gated per token:
//   y = W x + m ⊙ (B A x) · alpha / rank
// where m is 1 at the tokens of a LoraGate. Tokens with m = 0 get exactly the base
// output: the adapter is computed on the gated rows only and added into them.
//
// Under tensor parallelism no replicated parameter gets a partial gradient:
// - column-parallel (q, k, v, gate, up; W split by rows): A [r, In] replicated,
//   B split by rows. The adapter reads the replicated input before
//   copy_to_tp_region, so its input gradient is counted once, and its hidden
//   h = A x passes copy_to_tp_region before B, whose backward all-reduces dh:
//   A's gradient is complete on every rank.
// - row-parallel (o, down; W split by columns): A split by columns, B replicated.
//   h = reduce_from_tp_region(A x_shard) is complete, and B h is added after the
//   base output's reduction.
#pragma once
#include "core/autograd.h"
#include "core/model_shard.h"

namespace condense {

// The tokens a LoRA adapter applies to in one forward pass.
struct LoraGate {
  bool all = true;  // every token
  Tensor rows;      // else: [P] i32 rows of the flattened [B*T] tokens where m = 1
  // From a [B,T] u8 mask (undefined: every token); rows on `device`.
  static LoraGate from_mask(const Tensor& mask, int64_t B, int64_t T, Device device);
};

enum class TpSplit { column, row };

class LinearLayer {
 public:
  LinearLayer() = default;
  // `tp` is the shard's communication, nullptr without tensor parallelism.
  LinearLayer(Var weight, TpSplit split, const TensorParallelHooks* tp)
      : weight_(std::move(weight)), split_(split), tp_(tp) {}
  const Var& weight() const { return weight_; }
  TpSplit split() const { return split_; }
  bool has_lora() const { return lora_a_.defined(); }
  // A [rank, In] and B [Out, rank] as this rank holds them (see above); scale = alpha / rank.
  void set_lora(Var a, Var b, float scale);

  // Column-parallel: this rank's output features [..., Out/tp] of a replicated input
  // `x` [..., In]; `x_tp` is x after copy_to_tp_region (x itself without tensor
  // parallelism), one copy shared by every linear that reads x.
  Var column(Tape& tape, const Var& x, const Var& x_tp, const LoraGate& gate) const;
  // Row-parallel: `x` [..., In/tp] is this rank's slice of the input features; the
  // output [..., Out] is complete on every rank.
  Var row(Tape& tape, const Var& x, const LoraGate& gate) const;

 private:
  // y plus scale * B A x at the gated rows, A x crossing the tensor-parallel edge of
  // this linear's split.
  Var add_adapter(Tape& tape, const Var& y, const Var& x, const LoraGate& gate) const;

  Var weight_;
  TpSplit split_ = TpSplit::column;
  const TensorParallelHooks* tp_ = nullptr;
  Var lora_a_, lora_b_;
  float lora_scale_ = 0;
};

}  // namespace condense
