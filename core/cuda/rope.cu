// Rotary position embedding, Hugging Face layout (rotate_half). x, y [B,T,H,Dh],
// pos [B,T] i32. y may be x (each thread reads both halves of its pair first).
//
// Reference, with half = Dh/2, a = pos[b,t] * theta^(-2i/Dh), s = +1 (or -1 when
// inverse, which is the backward: rotation by -a):
//   y[..,i]      = x[..,i] cos a - x[..,i+half] s sin a
//   y[..,i+half] = x[..,i+half] cos a + x[..,i] s sin a
#include "core/cuda/common.cuh"
#include "core/cuda/cuda_ops.h"

namespace condense::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxHalf = 256;  // Dh <= 512

// One block per token: the block computes the token's cos/sin table once into
// shared memory, then all heads use it. The angle is formed in double, as the
// CPU backend does: positions reach 10^4..10^5 and a float product would be off
// by ~1e-3 rad there, far outside the 1e-5 we hold the two backends to.
__global__ void rope_kernel(FloatArray y, FloatArray x, const int32_t* pos, int64_t tokens,
                            int heads, int dh, double theta, float sign) {
  __shared__ float cs[kMaxHalf], sn[kMaxHalf];
  const int half = dh / 2;
  for (int64_t bt = blockIdx.x; bt < tokens; bt += gridDim.x) {
    __syncthreads();  // the previous token's readers of cs/sn are done
    const double p = pos[bt];
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
      const double a = p * pow(theta, -2.0 * i / dh);
      cs[i] = static_cast<float>(cos(a));
      sn[i] = sign * static_cast<float>(sin(a));
    }
    __syncthreads();
    const int64_t base = bt * heads * dh;
    for (int e = threadIdx.x; e < heads * half; e += blockDim.x) {
      const int h = e / half, i = e % half;
      const int64_t o = base + int64_t{h} * dh + i;
      const float a = x.get(o), b = x.get(o + half);
      y.set(o, a * cs[i] - b * sn[i]);
      y.set(o + half, b * cs[i] + a * sn[i]);
    }
  }
}

}  // namespace

void CudaBackend::rope(const Tensor& y, const Tensor& x, const Tensor& pos, float theta,
                       bool inverse) {
  require(x, "rope", "x", {DType::f32, DType::bf16});
  require(y, "rope", "y", {DType::f32, DType::bf16});
  require(pos, "rope", "pos", {DType::i32});
  if (x.ndim() != 4) fail("cuda rope: x must be [B,T,H,Dh], got ", shape_str(x.shape()));
  const int64_t B = x.dim(0), T = x.dim(1), H = x.dim(2), Dh = x.dim(3);
  require_numel(y, x.numel(), "rope", "y");
  require_numel(pos, B * T, "rope", "pos");
  if (Dh % 2 != 0 || Dh / 2 > kMaxHalf)
    fail("cuda rope: head dim ", Dh, " must be even and at most ", 2 * kMaxHalf);
  if (x.numel() == 0) return;
  rope_kernel<<<grid_for(B * T * kThreads, kThreads), kThreads, 0, stream()>>>(
      floats(y), floats(x), pos.i32(), B * T, static_cast<int>(H), static_cast<int>(Dh),
      static_cast<double>(theta), inverse ? -1.0f : 1.0f);
  CUDA_CHECK_LAUNCH();
}

}  // namespace condense::cuda
