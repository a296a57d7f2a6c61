#include "core/linear_layer.h"

#include "core/ops.h"

namespace condense {

LoraGate LoraGate::from_mask(const Tensor& mask, int64_t B, int64_t T, Device device) {
  LoraGate gate;
  if (!mask.defined()) return gate;
  if (mask.dtype() != DType::u8 || mask.shape() != Shape{B, T})
    fail("LoRA mask must be [B,T] u8 = ", shape_str({B, T}), ", got ", shape_str(mask.shape()), " ",
         dtype_name(mask.dtype()));
  std::vector<int32_t> rows;
  const std::vector<float> m = mask.to_vector();
  for (size_t i = 0; i < m.size(); ++i)
    if (m[i] != 0) rows.push_back(static_cast<int32_t>(i));
  if (static_cast<int64_t>(rows.size()) == B * T) return gate;
  gate.all = false;
  gate.rows = Tensor::from_i32(rows, {static_cast<int64_t>(rows.size())}, device);
  return gate;
}

void LinearLayer::set_lora(Var a, Var b, float scale) {
  lora_a_ = std::move(a);
  lora_b_ = std::move(b);
  lora_scale_ = scale;
}

Var LinearLayer::add_adapter(Tape& tape, const Var& y, const Var& x, const LoraGate& gate) const {
  if (!has_lora() || (!gate.all && gate.rows.numel() == 0)) return y;
  const Var xs = gate.all ? x : ops::gather_rows(tape, x, gate.rows);
  Var h = ops::linear(tape, xs, lora_a_);
  if (tp_)
    h = split_ == TpSplit::column ? tp_->copy_to_tp_region(tape, h)
                                  : tp_->reduce_from_tp_region(tape, h);
  const Var delta = ops::scale(tape, ops::linear(tape, h, lora_b_), lora_scale_);
  if (gate.all) return ops::add(tape, y, delta);
  const int64_t out = y.shape().back();
  const Var flat = ops::reshape(tape, y, {y.value().numel() / out, out});
  const Var rows = ops::add(tape, ops::gather_rows(tape, flat, gate.rows), delta);
  return ops::reshape(tape, ops::replace_rows(tape, flat, gate.rows, rows), y.shape());
}

Var LinearLayer::column(Tape& tape, const Var& x, const Var& x_tp, const LoraGate& gate) const {
  CONDENSE_ASSERT(split_ == TpSplit::column);
  return add_adapter(tape, ops::linear(tape, x_tp, weight_), x, gate);
}

Var LinearLayer::row(Tape& tape, const Var& x, const LoraGate& gate) const {
  CONDENSE_ASSERT(split_ == TpSplit::row);
  Var y = ops::linear(tape, x, weight_);
  if (tp_) y = tp_->reduce_from_tp_region(tape, y);
  return add_adapter(tape, y, x, gate);
}

}  // namespace condense
