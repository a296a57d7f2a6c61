// Row gather / scatter: embedding lookup (gather_rows), its backward
// (scatter_add_rows) and row overwrite (set_rows).
//
// Reference (out [N,D], src/dst [R,D], idx [N]):
//   gather_rows:      out[i,:] = src[idx[i],:]
//   scatter_add_rows: dst[idx[i],:] += src[i,:]   (idx may repeat)
//   set_rows:         dst[idx[i],:] = src[i,:], or 0 when src is undefined
// An index outside [0,R) is recorded (thrown at the next synchronize) and its
// row skipped.
#include "core/cuda/common.cuh"
#include "core/cuda/cuda_ops.h"

namespace condense::cuda {
namespace {

constexpr int kThreads = 256;

// One warp per row: rows are a few hundred to a few thousand elements, so a warp
// streams a row with coalesced accesses and the grid covers many rows at once.
// E is an unsigned integer of the element's size: a gather moves bytes, so one
// kernel serves every dtype. src == nullptr writes zeros.
template <typename E>
__global__ void copy_rows_kernel(E* dst, const E* src, const int32_t* idx, int64_t n, int64_t d,
                                 int64_t rows, bool index_dst, DeviceError* err) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x >> 5);
  for (int64_t i = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) >> 5; i < n; i += warps) {
    const int64_t r = idx[i];
    if (r < 0 || r >= rows) {
      if (lane == 0) record_error(err, kRowIndex, r, rows);
      continue;
    }
    E* out = dst + (index_dst ? r : i) * d;
    const E* in = src ? src + (index_dst ? i : r) * d : nullptr;
    for (int64_t j = lane; j < d; j += 32) out[j] = in ? in[j] : E(0);
  }
}

// Repeated indices make rows collide, hence atomics; fp32 atomics make the sum
// order (and so the last bits) vary from run to run, well inside 1e-5.
__global__ void scatter_add_kernel(float* dst, FloatArray src, const int32_t* idx, int64_t n,
                                   int64_t d, int64_t rows, DeviceError* err) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x >> 5);
  for (int64_t i = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) >> 5; i < n; i += warps) {
    const int64_t r = idx[i];
    if (r < 0 || r >= rows) {
      if (lane == 0) record_error(err, kRowIndex, r, rows);
      continue;
    }
    for (int64_t j = lane; j < d; j += 32) atomicAdd(dst + r * d + j, src.get(i * d + j));
  }
}

template <typename E>
void launch_copy_rows(const Tensor& dst, const Tensor& src, const Tensor& idx, int64_t d,
                      int64_t rows, bool index_dst) {
  const int64_t n = idx.numel();
  copy_rows_kernel<E><<<grid_for(n * 32, kThreads), kThreads, 0, stream()>>>(
      dst.data<E>(), src.defined() ? src.data<E>() : nullptr, idx.i32(), n, d, rows, index_dst,
      device_error());
  CUDA_CHECK_LAUNCH();
}

void copy_rows(const Tensor& dst, const Tensor& src, const Tensor& idx, int64_t d, int64_t rows,
               bool index_dst) {
  if (idx.numel() == 0 || d == 0) return;
  switch (dtype_size(dst.dtype())) {
    case 1:
      launch_copy_rows<uint8_t>(dst, src, idx, d, rows, index_dst);
      break;
    case 2:
      launch_copy_rows<uint16_t>(dst, src, idx, d, rows, index_dst);
      break;
    default:
      launch_copy_rows<uint32_t>(dst, src, idx, d, rows, index_dst);
      break;
  }
}

const std::initializer_list<DType> kAnyDType = {DType::f32, DType::bf16, DType::i32, DType::u8};

}  // namespace

void CudaBackend::gather_rows(const Tensor& out, const Tensor& src, const Tensor& idx) {
  require(out, "gather_rows", "out", kAnyDType);
  require(src, "gather_rows", "src", {out.dtype()});
  require(idx, "gather_rows", "idx", {DType::i32});
  const int64_t d = src.dim(-1), rows = d ? src.numel() / d : 0;
  require_numel(out, idx.numel() * d, "gather_rows", "out");
  copy_rows(out, src, idx, d, rows, /*index_dst=*/false);
}

void CudaBackend::scatter_add_rows(const Tensor& dst, const Tensor& src, const Tensor& idx) {
  require(dst, "scatter_add_rows", "dst", {DType::f32});
  require(src, "scatter_add_rows", "src", {DType::f32, DType::bf16});
  require(idx, "scatter_add_rows", "idx", {DType::i32});
  const int64_t n = idx.numel(), d = dst.dim(-1), rows = d ? dst.numel() / d : 0;
  require_numel(src, n * d, "scatter_add_rows", "src");
  if (n == 0 || d == 0) return;
  scatter_add_kernel<<<grid_for(n * 32, kThreads), kThreads, 0, stream()>>>(
      dst.f32(), floats(src), idx.i32(), n, d, rows, device_error());
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::set_rows(const Tensor& dst, const Tensor& src, const Tensor& idx) {
  require(dst, "set_rows", "dst", kAnyDType);
  require(idx, "set_rows", "idx", {DType::i32});
  const int64_t d = dst.dim(-1), rows = d ? dst.numel() / d : 0;
  if (src.defined()) {
    require(src, "set_rows", "src", {dst.dtype()});
    require_numel(src, idx.numel() * d, "set_rows", "src");
  }
  copy_rows(dst, src, idx, d, rows, /*index_dst=*/true);
}

}  // namespace condense::cuda
