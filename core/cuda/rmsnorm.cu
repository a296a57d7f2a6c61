// RMSNorm forward and backward. x, y, dx, dy [N,D]; w [D]; rstd [N] f32; dw [D] f32.
//
// Reference:
//   rstd[i] = 1 / sqrt(mean_j x[i,j]^2 + eps)
//   y[i,j]  = x[i,j] * rstd[i] * w[j]
//   dx[i,j] += dy[i,j] * w[j] * rstd[i] - x[i,j] * rstd[i]^3 * mean_j(dy * w * x)[i]
//   dw[j]   += sum_i dy[i,j] * x[i,j] * rstd[i]
#include "core/cuda/common.cuh"
#include "core/cuda/cuda_ops.h"

namespace condense::cuda {
namespace {

// One block per row (grid-stride over rows): D is 512..8192 in our models, a few
// elements per thread, and a row's reduction stays inside one block.
constexpr int kThreads = 256;

__global__ void rmsnorm_forward_kernel(FloatArray y, float* rstd, FloatArray x, FloatArray w,
                                       int64_t n, int64_t d, float eps) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
    const int64_t base = row * d;
    float ss = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      const float v = x.get(base + j);
      ss += v * v;
    }
    ss = block_sum(ss, scratch);
    const float r = 1.0f / sqrtf(ss / static_cast<float>(d) + eps);
    if (threadIdx.x == 0) rstd[row] = r;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
      y.set(base + j, x.get(base + j) * r * w.get(j));
  }
}

// dx row by row as above. dw is a sum over rows: each block accumulates its rows'
// share in shared memory (thread t owns columns t, t+blockDim, ..., so no two
// threads touch one column) and writes it to partial[block]; a second kernel adds
// the blocks' shares in a fixed order, so dw is deterministic (no atomics).
__global__ void rmsnorm_backward_kernel(FloatArray dx, float* partial, FloatArray dy, FloatArray x,
                                        FloatArray w, const float* rstd, int64_t n, int64_t d) {
  extern __shared__ float dw_part[];  // [d]
  __shared__ float scratch[32];
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) dw_part[j] = 0;
  for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
    const int64_t base = row * d;
    const float r = rstd[row];
    float dot = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
      dot += dy.get(base + j) * w.get(j) * x.get(base + j);
    dot = block_sum(dot, scratch);
    const float c = dot * r * r * r / static_cast<float>(d);
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      const float g = dy.get(base + j), xv = x.get(base + j);
      dx.add(base + j, g * w.get(j) * r - xv * c);
      dw_part[j] += g * xv * r;
    }
  }
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) partial[blockIdx.x * d + j] = dw_part[j];
}

// dw[j] += sum_b partial[b,j]: one thread per column, reads coalesced across j.
__global__ void sum_partials_kernel(float* dw, const float* partial, int blocks, int64_t d) {
  for (int64_t j = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; j < d;
       j += int64_t{gridDim.x} * blockDim.x) {
    float s = 0;
    for (int b = 0; b < blocks; ++b) s += partial[b * d + j];
    dw[j] += s;
  }
}

}  // namespace

void CudaBackend::rmsnorm_forward(const Tensor& y, const Tensor& rstd, const Tensor& x,
                                  const Tensor& w, float eps) {
  require(x, "rmsnorm_forward", "x", {DType::f32, DType::bf16});
  require(y, "rmsnorm_forward", "y", {DType::f32, DType::bf16});
  require(w, "rmsnorm_forward", "w", {DType::f32, DType::bf16});
  require(rstd, "rmsnorm_forward", "rstd", {DType::f32});
  const int64_t d = x.dim(-1), n = d ? x.numel() / d : 0;
  require_numel(y, x.numel(), "rmsnorm_forward", "y");
  require_numel(w, d, "rmsnorm_forward", "w");
  require_numel(rstd, n, "rmsnorm_forward", "rstd");
  if (n == 0) return;
  rmsnorm_forward_kernel<<<grid_for(n * kThreads, kThreads), kThreads, 0, stream()>>>(
      floats(y), rstd.f32(), floats(x), floats(w), n, d, eps);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::rmsnorm_backward(const Tensor& dx, const Tensor& dw, const Tensor& dy,
                                   const Tensor& x, const Tensor& w, const Tensor& rstd) {
  require(dx, "rmsnorm_backward", "dx", {DType::f32, DType::bf16});
  require(dw, "rmsnorm_backward", "dw", {DType::f32});
  require(dy, "rmsnorm_backward", "dy", {DType::f32, DType::bf16});
  require(x, "rmsnorm_backward", "x", {DType::f32, DType::bf16});
  require(w, "rmsnorm_backward", "w", {DType::f32, DType::bf16});
  require(rstd, "rmsnorm_backward", "rstd", {DType::f32});
  const int64_t d = x.dim(-1), n = d ? x.numel() / d : 0;
  require_numel(dx, x.numel(), "rmsnorm_backward", "dx");
  require_numel(dy, x.numel(), "rmsnorm_backward", "dy");
  require_numel(w, d, "rmsnorm_backward", "w");
  require_numel(dw, d, "rmsnorm_backward", "dw");
  require_numel(rstd, n, "rmsnorm_backward", "rstd");
  if (n == 0) return;
  const size_t shared = static_cast<size_t>(d) * sizeof(float);
  const size_t limit = device_props().sharedMemPerBlockOptin;
  if (shared > limit)
    fail("cuda rmsnorm_backward: model dim ", d, " needs ", shared,
         " bytes of shared memory, the device allows ", limit);
  if (shared > 48 * 1024)  // above 48 KiB a kernel must opt in
    CUDA_CHECK(cudaFuncSetAttribute(rmsnorm_backward_kernel,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(shared)));
  // Two blocks per SM: enough rows in flight to hide latency, few partial rows to sum.
  const int blocks =
      static_cast<int>(std::min<int64_t>(n, int64_t{2} * device_props().multiProcessorCount));
  Tensor partial = Tensor::empty({blocks, d}, DType::f32, Device::cuda);
  rmsnorm_backward_kernel<<<blocks, kThreads, shared, stream()>>>(
      floats(dx), partial.f32(), floats(dy), floats(x), floats(w), rstd.f32(), n, d);
  CUDA_CHECK_LAUNCH();
  sum_partials_kernel<<<grid_for(d, kThreads), kThreads, 0, stream()>>>(dw.f32(), partial.f32(),
                                                                        blocks, d);
  CUDA_CHECK_LAUNCH();
}

}  // namespace condense::cuda
