// One AdamW step (decoupled weight decay). param, m, v f32 (master weights and
// optimizer state stay fp32 under mixed precision); grad f32 or bf16.
//
// Reference, with g = grad * grad_scale, bc1 = 1 - beta1^step, bc2 = 1 - beta2^step:
//   m = beta1 m + (1 - beta1) g
//   v = beta2 v + (1 - beta2) g^2
//   param -= lr * ((m / bc1) / (sqrt(v / bc2) + eps) + weight_decay * param)
#include <cmath>

#include "core/cuda/common.cuh"
#include "core/cuda/cuda_ops.h"

namespace condense::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void adamw_kernel(float* param, FloatArray grad, float* m, float* v, int64_t n, float lr,
                             float beta1, float beta2, float eps, float weight_decay, float bc1,
                             float bc2, float grad_scale) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float g = grad.get(i) * grad_scale;
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float mhat = mi / bc1, vhat = vi / bc2;
    param[i] -= lr * (mhat / (sqrtf(vhat) + eps) + weight_decay * param[i]);
  }
}

}  // namespace

void CudaBackend::adamw(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                        float lr, float beta1, float beta2, float eps, float weight_decay,
                        int64_t step, float grad_scale) {
  require(param, "adamw", "param", {DType::f32});
  require(grad, "adamw", "grad", {DType::f32, DType::bf16});
  require(m, "adamw", "m", {DType::f32});
  require(v, "adamw", "v", {DType::f32});
  const int64_t n = param.numel();
  require_numel(grad, n, "adamw", "grad");
  require_numel(m, n, "adamw", "m");
  require_numel(v, n, "adamw", "v");
  if (step < 1) fail("cuda adamw: step must start at 1, got ", step);
  if (n == 0) return;
  // Bias corrections on the host, in float exactly as the CPU backend forms them.
  const float bc1 = 1.0f - std::pow(beta1, static_cast<float>(step));
  const float bc2 = 1.0f - std::pow(beta2, static_cast<float>(step));
  adamw_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(
      param.f32(), floats(grad), m.f32(), v.f32(), n, lr, beta1, beta2, eps, weight_decay, bc1, bc2,
      grad_scale);
  CUDA_CHECK_LAUNCH();
}

}  // namespace condense::cuda
