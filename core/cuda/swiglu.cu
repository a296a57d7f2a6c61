// SwiGLU, the LLaMA MLP's gate. y, gate, up, dy, dgate, dup all [N,F].
//
// Reference, with s = sigmoid(gate) = 1 / (1 + exp(-gate)):
//   y      = gate * s * up
//   dup   += dy * gate * s
//   dgate += dy * up * s * (1 + gate * (1 - s))
#include "core/cuda/common.cuh"
#include "core/cuda/cuda_ops.h"

namespace condense::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void swiglu_forward_kernel(FloatArray y, FloatArray gate, FloatArray up, int64_t n) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float g = gate.get(i);
    const float s = 1.0f / (1.0f + expf(-g));
    y.set(i, g * s * up.get(i));
  }
}

__global__ void swiglu_backward_kernel(FloatArray dgate, FloatArray dup, FloatArray dy,
                                       FloatArray gate, FloatArray up, int64_t n) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float g = gate.get(i), u = up.get(i), d = dy.get(i);
    const float s = 1.0f / (1.0f + expf(-g));
    dup.add(i, d * g * s);
    dgate.add(i, d * u * s * (1.0f + g * (1.0f - s)));
  }
}

}  // namespace

void CudaBackend::swiglu_forward(const Tensor& y, const Tensor& gate, const Tensor& up) {
  require(y, "swiglu_forward", "y", {DType::f32, DType::bf16});
  require(gate, "swiglu_forward", "gate", {DType::f32, DType::bf16});
  require(up, "swiglu_forward", "up", {DType::f32, DType::bf16});
  const int64_t n = y.numel();
  require_numel(gate, n, "swiglu_forward", "gate");
  require_numel(up, n, "swiglu_forward", "up");
  if (n == 0) return;
  swiglu_forward_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(floats(y), floats(gate),
                                                                          floats(up), n);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::swiglu_backward(const Tensor& dgate, const Tensor& dup, const Tensor& dy,
                                  const Tensor& gate, const Tensor& up) {
  require(dgate, "swiglu_backward", "dgate", {DType::f32, DType::bf16});
  require(dup, "swiglu_backward", "dup", {DType::f32, DType::bf16});
  require(dy, "swiglu_backward", "dy", {DType::f32, DType::bf16});
  require(gate, "swiglu_backward", "gate", {DType::f32, DType::bf16});
  require(up, "swiglu_backward", "up", {DType::f32, DType::bf16});
  const int64_t n = dy.numel();
  for (const Tensor* t : {&dgate, &dup, &gate, &up})
    require_numel(*t, n, "swiglu_backward", "operand");
  if (n == 0) return;
  swiglu_backward_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(
      floats(dgate), floats(dup), floats(dy), floats(gate), floats(up), n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace condense::cuda
