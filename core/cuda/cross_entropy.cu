// Softmax cross-entropy per row, fused: the [N,V] probabilities are never
// stored. The forward keeps only lse [N]; the backward recomputes each
// probability from the logit and lse. logits, dlogits [N,V] f32 or bf16;
// targets [N] i32; losses, lse [N] f32.
//
// Reference:
//   lse[i]     = log sum_j exp(logits[i,j])
//   losses[i]  = targets[i] == ignore ? 0 : lse[i] - logits[i, targets[i]]
//   dlogits[i,j] += targets[i] == ignore ? 0 : scale * (exp(logits[i,j] - lse[i]) - [j == t_i])
#include "core/cuda/common.cuh"
#include "core/cuda/cuda_ops.h"

namespace condense::cuda {
namespace {

// One block per row (grid-stride): V is 32000 here, ~60 logits per thread.
constexpr int kThreads = 512;

// One pass over the row with an online max: each thread keeps (max m, sum of
// exp(x - m)) and rescales its sum when the max grows; the block then merges the
// threads' pairs.
__global__ void cross_entropy_forward_kernel(float* losses, float* lse, FloatArray logits,
                                             const int32_t* targets, int64_t n, int64_t V,
                                             int ignore_index, DeviceError* err) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
    const int64_t base = row * V;
    float m = -INFINITY, s = 0;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
      const float x = logits.get(base + j);
      if (x > m) {
        s = s * expf(m - x) + 1.0f;  // m = -inf at first: exp(-inf) = 0
        m = x;
      } else if (x != -INFINITY) {
        s += expf(x - m);  // NaN x lands here and makes s NaN, as it should
      }
    }
    const float row_max = block_max(m, scratch);
    const float mine = m == -INFINITY ? 0.0f : s * expf(m - row_max);
    const float total = block_sum(mine, scratch);
    const float l = row_max + logf(total);
    if (threadIdx.x == 0) {
      lse[row] = l;
      const int t = targets[row];
      if (t == ignore_index) {
        losses[row] = 0;
      } else if (t < 0 || t >= V) {
        record_error(err, kTargetIndex, t, V);
        losses[row] = NAN;
      } else {
        losses[row] = l - logits.get(base + t);
      }
    }
  }
}

__global__ void cross_entropy_backward_kernel(FloatArray dlogits, FloatArray logits,
                                              const float* lse, const int32_t* targets, int64_t n,
                                              int64_t V, int ignore_index, float scale) {
  for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
    const int t = targets[row];
    if (t == ignore_index || t < 0 || t >= V) continue;  // bad targets were reported forward
    const int64_t base = row * V;
    const float l = lse[row];
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
      const float p = expf(logits.get(base + j) - l);
      dlogits.add(base + j, scale * (j == t ? p - 1.0f : p));
    }
  }
}

}  // namespace

void CudaBackend::cross_entropy_forward(const Tensor& losses, const Tensor& lse,
                                        const Tensor& logits, const Tensor& targets,
                                        int ignore_index) {
  require(losses, "cross_entropy_forward", "losses", {DType::f32});
  require(lse, "cross_entropy_forward", "lse", {DType::f32});
  require(logits, "cross_entropy_forward", "logits", {DType::f32, DType::bf16});
  require(targets, "cross_entropy_forward", "targets", {DType::i32});
  const int64_t V = logits.dim(-1), n = V ? logits.numel() / V : 0;
  require_numel(losses, n, "cross_entropy_forward", "losses");
  require_numel(lse, n, "cross_entropy_forward", "lse");
  require_numel(targets, n, "cross_entropy_forward", "targets");
  if (n == 0) return;
  cross_entropy_forward_kernel<<<grid_for(n * kThreads, kThreads), kThreads, 0, stream()>>>(
      losses.f32(), lse.f32(), floats(logits), targets.i32(), n, V, ignore_index, device_error());
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::cross_entropy_backward(const Tensor& dlogits, const Tensor& logits,
                                         const Tensor& lse, const Tensor& targets, int ignore_index,
                                         float scale) {
  require(dlogits, "cross_entropy_backward", "dlogits", {DType::f32, DType::bf16});
  require(logits, "cross_entropy_backward", "logits", {DType::f32, DType::bf16});
  require(lse, "cross_entropy_backward", "lse", {DType::f32});
  require(targets, "cross_entropy_backward", "targets", {DType::i32});
  const int64_t V = logits.dim(-1), n = V ? logits.numel() / V : 0;
  require_numel(dlogits, logits.numel(), "cross_entropy_backward", "dlogits");
  require_numel(lse, n, "cross_entropy_backward", "lse");
  require_numel(targets, n, "cross_entropy_backward", "targets");
  if (n == 0) return;
  cross_entropy_backward_kernel<<<grid_for(n * kThreads, kThreads), kThreads, 0, stream()>>>(
      floats(dlogits), floats(logits), lse.f32(), targets.i32(), n, V, ignore_index, scale);
  CUDA_CHECK_LAUNCH();
}

}  // namespace condense::cuda
