#include "core/autograd.h"

#include "core/backend.h"

namespace condense {

Var::Var(Tensor value, bool requires_grad) : impl_(std::make_shared<VarImpl>()) {
  impl_->value = std::move(value);
  impl_->requires_grad = requires_grad;
}

const Tensor& Var::grad_buffer() const {
  if (!impl_->grad.defined())
    impl_->grad = Tensor::zeros(value().shape(), value().dtype(), value().device());
  return impl_->grad;
}

std::pair<Tensor, float> Var::gemm_grad_target() const {
  if (impl_->grad.defined()) return {impl_->grad, 1.0f};
  impl_->grad = Tensor::empty(value().shape(), value().dtype(), value().device());
  return {impl_->grad, 0.0f};
}

void Tape::record(std::function<void()> backward_step) {
  if (enabled_) steps_.push_back(std::move(backward_step));
}

void Tape::backward(const Var& loss, float seed) {
  if (loss.value().numel() != 1)
    fail("backward: the loss must have one element, got shape ", shape_str(loss.shape()));
  backward(loss, Tensor::from_f32({seed}, loss.shape(), loss.value().device()));
}

void Tape::backward(const Var& output, const Tensor& output_grad) {
  if (output_grad.shape() != output.shape())
    fail("backward: gradient ", shape_str(output_grad.shape()), " does not match output ",
         shape_str(output.shape()));
  backend_for(output_grad.device()).axpy(output.grad_buffer(), 1.0f, output_grad);
  for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  steps_.clear();
}

}  // namespace condense
