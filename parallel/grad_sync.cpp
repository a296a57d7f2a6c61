#include "parallel/grad_sync.h"

#include <algorithm>
#include <numeric>

#include "core/backend.h"

namespace condense::parallel {

GradientSync::GradientSync(std::vector<Param>& params, Communicator& dp, size_t bucket_bytes,
                           bool zero1)
    : params_(params), dp_(dp), bucket_bytes_(bucket_bytes), zero1_(zero1) {
  owner_.assign(params.size(), 0);
  for (const Param& p : params) trainable_.push_back(p.trainable);
  if (!zero1_ || dp_.size() == 1) return;
  // Largest first onto the least loaded rank: near-equal shares of optimizer state,
  // which frozen parameters do not have.
  std::vector<size_t> order;
  for (size_t i = 0; i < params.size(); ++i)
    if (trainable_[i]) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return params[a].var.value().numel() > params[b].var.value().numel();
  });
  std::vector<int64_t> load(dp_.size(), 0);
  for (size_t i : order) {
    const auto r = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    owner_[i] = r;
    load[r] += params[i].var.value().numel();
  }
}

void GradientSync::check_unchanged() const {
  if (params_.size() != trainable_.size())
    fail("data-parallel sync: the model has ", params_.size(), " parameters, ", trainable_.size(),
         " when the optimizer was built (add parameters before building the trainer)");
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].trainable != trainable_[i])
      fail("data-parallel sync: ", params_[i].name, " was ", trainable_[i] ? "frozen" : "unfrozen",
           " after the optimizer was built (freeze parameters before building the trainer)");
}

void GradientSync::in_buckets(const std::vector<Tensor>& tensors, bool fill, bool read_back,
                              const std::function<void(const Tensor&)>& collective) const {
  size_t begin = 0;
  while (begin < tensors.size()) {
    size_t end = begin + 1;
    size_t bytes = tensors[begin].nbytes();
    while (end < tensors.size() && bytes + tensors[end].nbytes() <= bucket_bytes_)
      bytes += tensors[end++].nbytes();
    if (end == begin + 1) {
      collective(tensors[begin]);
    } else {
      const Device device = tensors[begin].device();
      Backend& be = backend_for(device);
      int64_t total = 0;
      for (size_t i = begin; i < end; ++i) total += tensors[i].numel();
      Tensor flat = Tensor::empty({total}, DType::f32, device);
      int64_t at = 0;
      for (size_t i = begin; i < end; ++i) {
        const int64_t n = tensors[i].numel();
        if (fill) be.copy_blocks(flat, at, 0, tensors[i], 0, 0, n, 1, false);
        at += n;
      }
      collective(flat);
      at = 0;
      for (size_t i = begin; i < end; ++i) {
        const int64_t n = tensors[i].numel();
        if (read_back) be.copy_blocks(tensors[i], 0, 0, flat, at, 0, n, 1, false);
        at += n;
      }
    }
    begin = end;
  }
}

void GradientSync::reduce_gradients() {
  check_unchanged();
  if (dp_.size() == 1) return;
  const size_t n = params_.size();
  std::vector<double> present(n);
  for (size_t i = 0; i < n; ++i)
    present[i] = trainable_[i] && params_[i].var.grad().defined() ? 1.0 : 0.0;
  dp_.all_reduce_host(present, ReduceOp::max);
  auto grads_of = [&](int root) {
    std::vector<Tensor> out;
    for (size_t i = 0; i < n; ++i) {
      if (present[i] == 0 || (root >= 0 && owner_[i] != root)) continue;
      const Tensor& g = params_[i].var.grad_buffer();
      if (g.dtype() != DType::f32) fail("data-parallel sync: ", params_[i].name, " is not f32");
      out.push_back(g);
    }
    return out;
  };
  if (!zero1_) {
    in_buckets(grads_of(-1), true, true,
               [&](const Tensor& t) { dp_.all_reduce(t, ReduceOp::sum); });
    return;
  }
  for (int root = 0; root < dp_.size(); ++root)
    in_buckets(grads_of(root), true, dp_.rank() == root,
               [&](const Tensor& t) { dp_.reduce(t, root); });
}

void GradientSync::broadcast_values() {
  if (!zero1_ || dp_.size() == 1) return;
  for (int root = 0; root < dp_.size(); ++root) {
    std::vector<Tensor> values;
    for (size_t i = 0; i < params_.size(); ++i)
      if (owner_[i] == root && trainable_[i]) values.push_back(params_[i].var.value());
    const bool at_root = dp_.rank() == root;
    in_buckets(values, at_root, !at_root, [&](const Tensor& t) { dp_.broadcast(t, root); });
  }
}

}  // namespace condense::parallel
