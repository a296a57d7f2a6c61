// Device-side helpers shared by the kernels: run-time-typed float arrays, warp
// and block reductions, launch sizes.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/cuda/check.h"
#include "core/cuda/context.h"
#include "core/tensor.h"

namespace condense::cuda {

// An f32 or bf16 array whose dtype is known only at run time. Activation ops
// accept either dtype for each tensor (a bf16 activation meets an f32 master
// weight); reading through this keeps one kernel per op instead of one per
// dtype combination. The dtype test is uniform across a warp, so it costs a
// predicate, not divergence, in kernels that are bound by memory anyway.
struct FloatArray {
  void* ptr;
  bool bf16;

  __device__ float get(int64_t i) const {
    return bf16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(ptr)[i])
                : static_cast<const float*>(ptr)[i];
  }
  __device__ void set(int64_t i, float v) const {
    if (bf16)
      static_cast<__nv_bfloat16*>(ptr)[i] = __float2bfloat16_rn(v);
    else
      static_cast<float*>(ptr)[i] = v;
  }
  // Plain read-modify-write: the caller owns element i.
  __device__ void add(int64_t i, float v) const { set(i, get(i) + v); }
};

inline FloatArray floats(const Tensor& t) {
  return {t.raw(), t.dtype() == DType::bf16};
}

__device__ inline float to_float(float x) {
  return x;
}
__device__ inline float to_float(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
template <typename T>
__device__ inline T from_float(float x);
template <>
__device__ inline float from_float<float>(float x) {
  return x;
}
template <>
__device__ inline __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// max that lets NaN through (fmaxf drops it), so a NaN score or logit shows up
// in the result instead of being silently ignored.
__device__ inline float nan_max(float a, float b) {
  return (a != a || a > b) ? a : b;
}

template <typename T>
__device__ inline T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum / max over the whole block, returned to every thread. blockDim.x must be a
// multiple of 32; `scratch` is 32 elements of shared memory, free to reuse after
// the call (the leading barrier keeps a previous call's readers safe).
template <typename T>
__device__ inline T block_sum(T v, T* scratch) {
  v = warp_sum(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  v = (threadIdx.x & 31) < (blockDim.x >> 5) ? scratch[threadIdx.x & 31] : T(0);
  return warp_sum(v);
}

__device__ inline float block_max(float v, float* scratch) {
  v = warp_max(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  v = (threadIdx.x & 31) < (blockDim.x >> 5) ? scratch[threadIdx.x & 31] : -INFINITY;
  return warp_max(v);
}

// Records the first bad index a kernel meets (see DeviceError in context.h).
__device__ inline void record_error(DeviceError* e, int32_t code, int64_t value, int64_t bound) {
  if (atomicCAS(&e->code, 0, code) == 0) {
    e->value = value;
    e->bound = bound;
  }
}

// Blocks for a grid-stride loop over n items: enough to fill every SM several
// times over, no more (more blocks would only add scheduling work).
inline unsigned grid_for(int64_t n, int threads) {
  const int64_t want = (n + threads - 1) / threads;
  const int64_t cap = int64_t{device_props().multiProcessorCount} * 32;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(want, cap)));
}

}  // namespace condense::cuda
