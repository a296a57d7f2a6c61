// Reverse-mode autograd on a tape. Each op (core/ops.h) computes its forward
// with the backend and, when any input needs a gradient, records a closure that
// turns its output's gradient into its inputs' gradients. Tape::backward runs the
// closures newest first. Gradients accumulate, so a tensor used twice, a
// parameter shared across segments, or several micro-batches add up naturally;
// `detach` cuts the chain where a method says (AutoCompressor substeps).
#pragma once
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace condense {

struct VarImpl {
  Tensor value;
  Tensor grad;  // undefined until a gradient arrives
  bool requires_grad = false;
};

// A value in the graph: a tensor plus (maybe) its gradient. Copies share.
class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false);
  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const { return impl_->value; }
  const Shape& shape() const { return impl_->value.shape(); }
  int64_t dim(int i) const { return impl_->value.dim(i); }
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  void set_requires_grad(bool on) { impl_->requires_grad = on; }
  // The gradient, or an undefined tensor if none has arrived.
  const Tensor& grad() const { return impl_->grad; }
  // The gradient buffer, created as zeros on first use (for accumulation).
  const Tensor& grad_buffer() const;
  // For an op that writes its gradient with a GEMM (C = A B + beta C): the buffer and
  // the beta to use, 0 when the buffer is new (left uninitialised: the GEMM overwrites
  // it, saving a pass that zeroes it), 1 when a gradient has arrived already.
  std::pair<Tensor, float> gemm_grad_target() const;
  void zero_grad() const { impl_->grad = Tensor(); }
  // Replaces the value (e.g. loading a checkpoint); shape must match unless `reshape`.
  void set_value(const Tensor& t) const { impl_->value = t; }
  bool same(const Var& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<VarImpl> impl_;
};

class Tape {
 public:
  // A disabled tape records nothing: inference without gradient bookkeeping.
  explicit Tape(bool enabled = true) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  void record(std::function<void()> backward_step);
  // Seeds d(loss)/d(loss) = seed (loss must be a single element) and runs the
  // recorded steps in reverse. The tape is cleared afterwards.
  void backward(const Var& loss, float seed = 1.0f);
  // The same from an output of any shape whose gradient is given (a pipeline
  // stage, handed d(loss)/d(its output) by the next stage).
  void backward(const Var& output, const Tensor& output_grad);
  void clear() { steps_.clear(); }
  size_t size() const { return steps_.size(); }

 private:
  bool enabled_;
  std::vector<std::function<void()>> steps_;
};

}  // namespace condense
