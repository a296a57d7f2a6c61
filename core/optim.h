// AdamW with decoupled weight decay, linear warmup + cosine decay, and
// global-norm gradient clipping. Weight decay applies to matrices only (not to
// norm gains), as in most LLaMA recipes.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/model.h"

namespace condense {

struct AdamWConfig {
  float lr = 3e-4f;
  float min_lr_ratio = 0.1f;  // cosine decays to lr * min_lr_ratio
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;  // 0: constant after warm-up
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;
  float grad_clip = 1.0f;  // 0: no clipping
};

// Learning rate at optimizer step `step` (1-based).
float learning_rate(const AdamWConfig& cfg, int64_t step);

struct AdamState {
  Tensor m, v;
};

class AdamW {
 public:
  AdamW(std::vector<Param>& params, const AdamWConfig& cfg);
  // Clips, updates every trainable parameter that has a gradient, and advances the
  // step. grad_scale multiplies every gradient first (1/accumulation steps).
  // Returns the global gradient norm before clipping.
  float step(float grad_scale = 1.0f);
  // The same with the norm of gradients spread over several ranks (parallel/
  // sums their squares across the grid): `global_norm` is the norm of all the
  // gradients before grad_scale.
  float step(float grad_scale, double global_norm);
  void zero_grad();
  int64_t steps_done() const { return step_; }
  void set_steps_done(int64_t s) { step_ = s; }
  float last_lr() const { return last_lr_; }
  std::map<std::string, AdamState>& state() { return state_; }
  const AdamWConfig& config() const { return cfg_; }

 private:
  std::vector<Param>& params_;
  AdamWConfig cfg_;
  std::map<std::string, AdamState> state_;
  int64_t step_ = 0;
  float last_lr_ = 0;
};

// Global L2 norm of the gradients of the trainable parameters.
double grad_norm(const std::vector<Param>& params);

}  // namespace condense
