// Masked attention on the GPU: condense's tiled kernel (core/cuda/attention.cu)
// against a plain implementation that materialises the [B,H,T,S] scores (two
// cuBLAS batched GEMMs around a masked-softmax kernel, what PyTorch's "math"
// SDPA does). Both run on the same inputs; the bench prints their times, the
// FLOP rate counting only the visible (unmasked) scores, and the largest
// difference between their outputs as a sanity check.
//
// Run (Release build with CONDENSE_CUDA=ON, on a GPU machine):
//   cmake --build build-cuda --target bench_cuda_attention
//   build-cuda/bench/cuda/bench_cuda_attention [mask] [dtype] [B T H Hkv Dh]
// mask: causal | causal_mask | gist | ccm (default: all four), dtype: bf16 | f32
// (default bf16); the default shape is the issue's 124M-class model:
// B=16 T=1024 H=12 Hkv=12 Dh=64.
#include <cuda_bf16.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/cuda/check.h"
#include "core/cuda/common.cuh"
#include "core/cuda/context.h"
#include "core/cuda/cuda_backend.h"

namespace condense::cuda {
namespace {

struct Shape5 {
  int B, T, H, Hkv, Dh;
};

// Mask rows [B,T,T] (S = T here). The gist mask is METHODS.md §1.2 with 4 gist
// tokens at T/4; the CCM mask is §2.3 concat_recur with segments of 120 text
// tokens and 8 COMP tokens, the last segment the remainder.
std::vector<uint8_t> make_mask(const std::string& kind, int B, int T) {
  std::vector<uint8_t> m(static_cast<size_t>(B) * T * T, 0);
  std::vector<int> seg(T), comp(T);
  for (int i = 0, s = 0, pos = 0; i < T; ++i) {
    seg[i] = s;
    comp[i] = pos >= 120;
    if (++pos == 128) pos = 0, ++s;
  }
  const int f = T / 4, l = f + 3;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < T; ++i)
      for (int j = 0; j <= i; ++j) {
        bool vis = true;
        if (kind == "gist") vis = i <= l || j >= f;
        if (kind == "ccm") vis = seg[i] == seg[j] || comp[j];
        m[(static_cast<size_t>(b) * T + i) * T + j] = vis;
      }
  return m;
}

// P[b,h,t,:] = softmax over the visible keys of scores[b,h,t,:] (f32), stored in
// T_out (the input dtype, as the second GEMM wants). One block per row.
template <typename T_out>
__global__ void masked_softmax_kernel(T_out* P, const float* scores, const uint8_t* mask, int H,
                                      int T, int S) {
  __shared__ float red[32];
  const int64_t row = blockIdx.x;  // (b H + h) T + t
  const int t = row % T, b = row / (int64_t{T} * H);
  const float* s = scores + row * S;
  const uint8_t* mrow = mask ? mask + (int64_t{b} * T + t) * S : nullptr;
  auto visible = [&](int j) { return mrow ? mrow[j] != 0 : j <= t + S - T; };
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < S; j += blockDim.x)
    if (visible(j)) mx = fmaxf(mx, s[j]);
  mx = block_max(mx, red);
  float sum = 0;
  for (int j = threadIdx.x; j < S; j += blockDim.x)
    if (visible(j)) sum += expf(s[j] - mx);
  sum = block_sum(sum, red);
  const float inv = sum > 0 ? 1.0f / sum : 0.0f;
  for (int j = threadIdx.x; j < S; j += blockDim.x)
    P[row * S + j] = from_float<T_out>(visible(j) ? expf(s[j] - mx) * inv : 0.0f);
}

// The plain implementation, for each (batch, kv-head): the group's heads share
// K and V, so the batched GEMMs use a zero stride for them.
template <typename T>
void plain_attention(T* out, const T* q, const T* k, const T* v, const uint8_t* mask, float* scores,
                     T* P, const Shape5& s, float scale) {
  const int group = s.H / s.Hkv, S = s.T;
  const cudaDataType_t dt = sizeof(T) == 2 ? CUDA_R_16BF : CUDA_R_32F;
  const float one = 1.0f, zero = 0.0f;
  for (int b = 0; b < s.B; ++b)
    for (int g = 0; g < s.Hkv; ++g) {
      const int h0 = g * group;
      const int64_t bh0 = (int64_t{b} * s.H + h0) * s.T * S;
      // scores[t,j] = scale * q[t,:] . k[j,:]  (row-major C = Q K^T)
      CUBLAS_CHECK(cublasGemmStridedBatchedEx(
          cublas(), CUBLAS_OP_T, CUBLAS_OP_N, S, s.T, s.Dh, &scale,
          k + (int64_t{b} * S * s.Hkv + g) * s.Dh, dt, s.Hkv * s.Dh, 0,
          q + (int64_t{b} * s.T * s.H + h0) * s.Dh, dt, s.H * s.Dh, s.Dh, &zero, scores + bh0,
          CUDA_R_32F, S, int64_t{s.T} * S, group, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
  masked_softmax_kernel<T><<<s.B * s.H * s.T, 256, 0, stream()>>>(P, scores, mask, s.H, s.T, S);
  CUDA_CHECK_LAUNCH();
  for (int b = 0; b < s.B; ++b)
    for (int g = 0; g < s.Hkv; ++g) {
      const int h0 = g * group;
      // out[t,:] = P[t,:] V  (row-major C = P V)
      CUBLAS_CHECK(cublasGemmStridedBatchedEx(
          cublas(), CUBLAS_OP_N, CUBLAS_OP_N, s.Dh, s.T, S, &one,
          v + (int64_t{b} * S * s.Hkv + g) * s.Dh, dt, s.Hkv * s.Dh, 0,
          P + (int64_t{b} * s.H + h0) * s.T * S, dt, S, int64_t{s.T} * S, &zero,
          out + (int64_t{b} * s.T * s.H + h0) * s.Dh, dt, s.H * s.Dh, s.Dh, group,
          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
}

template <typename F>
float time_ms(F&& fn, int iters) {
  for (int i = 0; i < 3; ++i) fn();  // warm-up: caches, cuBLAS heuristics, allocator
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  CUDA_CHECK(cudaEventRecord(start, stream()));
  for (int i = 0; i < iters; ++i) fn();
  CUDA_CHECK(cudaEventRecord(stop, stream()));
  CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  return ms / iters;
}

Tensor random_tensor(const condense::Shape& shape, DType dt, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(numel_of(shape)));
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) / 16777216.0f * 2.0f - 1.0f;
  }
  Tensor f = Tensor::from_f32(v, shape, Device::cuda);
  if (dt == DType::f32) return f;
  Tensor out = Tensor::empty(shape, dt, Device::cuda);
  backend_for(Device::cuda).cast(out, f);
  return out;
}

template <typename T>
void run(const std::string& kind, DType dt, const Shape5& s) {
  Backend& be = backend_for(Device::cuda);
  const int S = s.T;
  const condense::Shape qs{s.B, s.T, s.H, s.Dh}, ks{s.B, S, s.Hkv, s.Dh};
  Tensor q = random_tensor(qs, dt, 1), k = random_tensor(ks, dt, 2), v = random_tensor(ks, dt, 3);
  Tensor dout = random_tensor(qs, dt, 4);
  Tensor out = Tensor::empty(qs, dt, Device::cuda), ref = Tensor::empty(qs, dt, Device::cuda);
  Tensor lse = Tensor::empty({s.B, s.H, s.T}, DType::f32, Device::cuda);
  Tensor dq = Tensor::zeros(qs, DType::f32, Device::cuda);
  Tensor dk = Tensor::zeros(ks, DType::f32, Device::cuda),
         dv = Tensor::zeros(ks, DType::f32, Device::cuda);
  Tensor mask;
  double visible = 0;  // visible (query, key) pairs over the batch
  if (kind == "causal") {
    visible = static_cast<double>(s.B) * s.T * (s.T + 1) / 2;
  } else {
    const auto m = make_mask(kind == "causal_mask" ? "causal" : kind, s.B, s.T);
    for (uint8_t x : m) visible += x;
    mask = Tensor::from_u8(m, {s.B, s.T, S}, Device::cuda);
  }
  Tensor scores = Tensor::empty({s.B, s.H, s.T, S}, DType::f32, Device::cuda);
  Tensor P = Tensor::empty({s.B, s.H, s.T, S}, dt, Device::cuda);
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.Dh));
  const uint8_t* mptr = mask.defined() ? mask.u8() : nullptr;

  const int iters = 20;
  const float fwd = time_ms([&] { be.attention_forward(out, lse, q, k, v, mask, scale); }, iters);
  const float bwd = time_ms(
      [&] { be.attention_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, scale); }, iters);
  const float plain = time_ms(
      [&] {
        plain_attention<T>(ref.data<T>(), q.data<T>(), k.data<T>(), v.data<T>(), mptr, scores.f32(),
                           P.data<T>(), s, scale);
      },
      iters);
  const auto a = out.to_vector(), r = ref.to_vector();
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(double{a[i]} - r[i]));
  // Forward: 2 GEMMs of 2*Dh FLOPs per visible pair; backward: 5 such products.
  const double fwd_flops = 4.0 * s.H * s.Dh * visible, bwd_flops = 2.5 * fwd_flops;
  std::printf(
      "%-12s %-5s fwd %8.3f ms (%6.1f TFLOP/s)  bwd %8.3f ms (%6.1f TFLOP/s)  "
      "plain fwd %8.3f ms  speedup %5.2fx  visible %5.1f%%  max|diff| %.2e\n",
      kind.c_str(), dtype_name(dt), fwd, fwd_flops / fwd / 1e9, bwd, bwd_flops / bwd / 1e9, plain,
      plain / fwd, 100.0 * visible / (static_cast<double>(s.B) * s.T * S), diff);
}

}  // namespace
}  // namespace condense::cuda

int main(int argc, char** argv) {
  using namespace condense;
  cuda::register_backend();
  if (!device_available(Device::cuda)) {
    std::fprintf(stderr, "bench_cuda_attention: no CUDA device\n");
    return 1;
  }
  std::vector<std::string> kinds = {"causal", "causal_mask", "gist", "ccm"};
  if (argc > 1) kinds = {argv[1]};
  const std::string dtype = argc > 2 ? argv[2] : "bf16";
  cuda::Shape5 s{16, 1024, 12, 12, 64};
  if (argc > 7)
    s = {std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]), std::atoi(argv[6]),
         std::atoi(argv[7])};
  std::printf("device %s, B=%d T=%d H=%d Hkv=%d Dh=%d\n", cuda::device_props().name, s.B, s.T, s.H,
              s.Hkv, s.Dh);
  try {
    for (const auto& kind : kinds) {
      if (dtype == "f32")
        cuda::run<float>(kind, DType::f32, s);
      else
        cuda::run<__nv_bfloat16>(kind, DType::bf16, s);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_cuda_attention: %s\n", e.what());
    return 1;
  }
  return 0;
}
