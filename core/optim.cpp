#include "core/optim.h"

#include <cmath>

#include "core/backend.h"

namespace condense {

float learning_rate(const AdamWConfig& cfg, int64_t step) {
  if (cfg.warmup_steps > 0 && step <= cfg.warmup_steps)
    return cfg.lr * static_cast<float>(step) / static_cast<float>(cfg.warmup_steps);
  if (cfg.total_steps <= cfg.warmup_steps) return cfg.lr;
  const double progress = std::min(
      1.0, static_cast<double>(step - cfg.warmup_steps) / (cfg.total_steps - cfg.warmup_steps));
  const double min_lr = cfg.lr * cfg.min_lr_ratio;
  return static_cast<float>(min_lr + 0.5 * (cfg.lr - min_lr) * (1.0 + std::cos(M_PI * progress)));
}

AdamW::AdamW(std::vector<Param>& params, const AdamWConfig& cfg) : params_(params), cfg_(cfg) {
  for (const Param& p : params_) {
    if (!p.trainable) continue;
    const Tensor& v = p.var.value();
    state_[p.name] = {Tensor::zeros(v.shape(), DType::f32, v.device()),
                      Tensor::zeros(v.shape(), DType::f32, v.device())};
  }
}

double grad_norm(const std::vector<Param>& params) {
  double ss = 0;
  for (const Param& p : params)
    if (p.trainable && p.var.grad().defined())
      ss += backend_for(p.var.grad().device()).sum_squares(p.var.grad());
  return std::sqrt(ss);
}

float AdamW::step(float grad_scale) {
  return step(grad_scale, grad_norm(params_));
}

float AdamW::step(float grad_scale, double global_norm) {
  ++step_;
  const double norm = global_norm * grad_scale;
  float scale = grad_scale;
  if (cfg_.grad_clip > 0 && norm > cfg_.grad_clip)
    scale *= static_cast<float>(cfg_.grad_clip / (norm + 1e-6));
  last_lr_ = learning_rate(cfg_, step_);
  for (Param& p : params_) {
    if (!p.trainable || !p.var.grad().defined()) continue;
    AdamState& s = state_.at(p.name);
    const bool is_matrix = p.var.value().ndim() >= 2;
    backend_for(p.var.value().device())
        .adamw(p.var.value(), p.var.grad(), s.m, s.v, last_lr_, cfg_.beta1, cfg_.beta2, cfg_.eps,
               is_matrix ? cfg_.weight_decay : 0.0f, step_, scale);
  }
  return static_cast<float>(norm);
}

void AdamW::zero_grad() {
  for (Param& p : params_) p.var.zero_grad();
}

}  // namespace condense
