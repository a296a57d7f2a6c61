// Elementwise ops, the strided block copy behind concat/slice, and the sum of
// squares behind global-norm clipping. Float operands may each be f32 or bf16.
//
// Reference (i over all elements):
//   add:   out[i] = a[i] + b[i]
//   axpy:  y[i] += alpha * x[i]
//   scale: out[i] = alpha * x[i]
//   cast:  out[i] = x[i] converted (f32 -> bf16 rounds to nearest even)
//   copy_blocks: dst[dst_off + b*dst_stride + i] (+)= src[src_off + b*src_stride + i]
//   sum_squares: sum_i x[i]^2, in double
#include "core/cuda/common.cuh"
#include "core/cuda/cuda_ops.h"

namespace condense::cuda {
namespace {

constexpr int kThreads = 256;

// How an elementwise op combines its operands; one kernel serves add, axpy,
// scale and cast (a cast is scale by 1 into another dtype).
enum class Combine { kAdd, kAxpy, kScale };

template <Combine op>
__global__ void elementwise_kernel(FloatArray out, FloatArray a, FloatArray b, float alpha,
                                   int64_t n) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    if constexpr (op == Combine::kAdd) out.set(i, a.get(i) + b.get(i));
    if constexpr (op == Combine::kAxpy) out.set(i, out.get(i) + alpha * a.get(i));
    if constexpr (op == Combine::kScale) out.set(i, alpha * a.get(i));
  }
}

template <Combine op>
void launch_elementwise(const Tensor& out, const Tensor& a, const Tensor& b, float alpha) {
  const int64_t n = out.numel();
  if (n == 0) return;
  elementwise_kernel<op><<<grid_for(n, kThreads), kThreads, 0, stream()>>>(
      floats(out), floats(a), b.defined() ? floats(b) : FloatArray{nullptr, false}, alpha, n);
  CUDA_CHECK_LAUNCH();
}

// Rows of `block` elements: blockIdx.y walks the rows, x-blocks split a long row,
// so both "many short rows" (heads of a [B,T,H,Dh] tensor) and "one long row"
// (a whole parameter) fill the GPU. E is an unsigned integer of the element's
// size for plain copies; accumulation goes through FloatArray.
template <typename E>
__global__ void copy_blocks_kernel(E* dst, int64_t dst_off, int64_t dst_stride, const E* src,
                                   int64_t src_off, int64_t src_stride, int64_t block,
                                   int64_t n_blocks) {
  for (int64_t b = blockIdx.y; b < n_blocks; b += gridDim.y) {
    E* d = dst + dst_off + b * dst_stride;
    const E* s = src + src_off + b * src_stride;
    for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < block;
         i += int64_t{gridDim.x} * blockDim.x)
      d[i] = s[i];
  }
}

__global__ void accumulate_blocks_kernel(FloatArray dst, int64_t dst_off, int64_t dst_stride,
                                         FloatArray src, int64_t src_off, int64_t src_stride,
                                         int64_t block, int64_t n_blocks) {
  for (int64_t b = blockIdx.y; b < n_blocks; b += gridDim.y)
    for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < block;
         i += int64_t{gridDim.x} * blockDim.x)
      dst.add(dst_off + b * dst_stride + i, src.get(src_off + b * src_stride + i));
}

dim3 blocks_grid(int64_t block, int64_t n_blocks) {
  const int64_t x = std::min<int64_t>((block + kThreads - 1) / kThreads, 1024);
  const int64_t y = std::min<int64_t>(n_blocks, 65535);  // gridDim.y's limit
  return dim3(static_cast<unsigned>(x), static_cast<unsigned>(y));
}

template <typename E>
void launch_copy_blocks(const Tensor& dst, int64_t dst_off, int64_t dst_stride, const Tensor& src,
                        int64_t src_off, int64_t src_stride, int64_t block, int64_t n_blocks) {
  copy_blocks_kernel<E><<<blocks_grid(block, n_blocks), kThreads, 0, stream()>>>(
      dst.data<E>(), dst_off, dst_stride, src.data<E>(), src_off, src_stride, block, n_blocks);
  CUDA_CHECK_LAUNCH();
}

// Pass 1 of sum_squares: each block's share in double, written to partial[block]
// so that pass 2 adds them in a fixed order (the norm is reproducible bit for bit).
__global__ void sum_squares_kernel(double* partial, FloatArray x, int64_t n) {
  __shared__ double scratch[32];
  double s = 0;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const double v = x.get(i);
    s += v * v;
  }
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sum_partials_kernel(double* out, const double* partial, int n) {
  __shared__ double scratch[32];
  double s = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += partial[i];
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) *out = s;
}

const std::initializer_list<DType> kFloat = {DType::f32, DType::bf16};

}  // namespace

void CudaBackend::add(const Tensor& out, const Tensor& a, const Tensor& b) {
  require(out, "add", "out", kFloat);
  require(a, "add", "a", kFloat);
  require(b, "add", "b", kFloat);
  require_numel(a, out.numel(), "add", "a");
  require_numel(b, out.numel(), "add", "b");
  launch_elementwise<Combine::kAdd>(out, a, b, 1.0f);
}

void CudaBackend::axpy(const Tensor& y, float alpha, const Tensor& x) {
  require(y, "axpy", "y", kFloat);
  require(x, "axpy", "x", kFloat);
  require_numel(x, y.numel(), "axpy", "x");
  launch_elementwise<Combine::kAxpy>(y, x, Tensor(), alpha);
}

void CudaBackend::scale(const Tensor& out, float alpha, const Tensor& x) {
  require(out, "scale", "out", kFloat);
  require(x, "scale", "x", kFloat);
  require_numel(x, out.numel(), "scale", "x");
  launch_elementwise<Combine::kScale>(out, x, Tensor(), alpha);
}

void CudaBackend::cast(const Tensor& out, const Tensor& x) {
  require(out, "cast", "out", {DType::f32, DType::bf16, DType::i32, DType::u8});
  require(x, "cast", "x", {DType::f32, DType::bf16, DType::i32, DType::u8});
  require_numel(x, out.numel(), "cast", "x");
  if (out.dtype() == x.dtype()) {
    allocator_for(Device::cuda).copy_on_device(out.raw(), x.raw(), x.nbytes());
    return;
  }
  if (out.dtype() == DType::i32 || out.dtype() == DType::u8 || x.dtype() == DType::i32 ||
      x.dtype() == DType::u8)
    fail("cuda cast: from ", dtype_name(x.dtype()), " to ", dtype_name(out.dtype()),
         " is not supported");
  launch_elementwise<Combine::kScale>(out, x, Tensor(), 1.0f);
}

void CudaBackend::copy_blocks(const Tensor& dst, int64_t dst_off, int64_t dst_stride,
                              const Tensor& src, int64_t src_off, int64_t src_stride, int64_t block,
                              int64_t n_blocks, bool accumulate) {
  require(dst, "copy_blocks", "dst", {DType::f32, DType::bf16, DType::i32, DType::u8});
  require(src, "copy_blocks", "src", {dst.dtype()});
  if (block <= 0 || n_blocks <= 0) return;
  // A kernel would write out of bounds silently, so check the extent here.
  auto check_extent = [&](const Tensor& t, int64_t off, int64_t stride, const char* what) {
    if (off < 0 || stride < 0 || off + (n_blocks - 1) * stride + block > t.numel())
      fail("cuda copy_blocks: ", what, " of ", t.numel(), " elements cannot hold ", n_blocks,
           " blocks of ", block, " at offset ", off, " stride ", stride);
  };
  check_extent(dst, dst_off, dst_stride, "dst");
  check_extent(src, src_off, src_stride, "src");
  if (accumulate) {
    if (dst.dtype() != DType::f32 && dst.dtype() != DType::bf16)
      fail("cuda copy_blocks: accumulate needs f32 or bf16, got ", dtype_name(dst.dtype()));
    accumulate_blocks_kernel<<<blocks_grid(block, n_blocks), kThreads, 0, stream()>>>(
        floats(dst), dst_off, dst_stride, floats(src), src_off, src_stride, block, n_blocks);
    CUDA_CHECK_LAUNCH();
    return;
  }
  switch (dtype_size(dst.dtype())) {
    case 1:
      launch_copy_blocks<uint8_t>(dst, dst_off, dst_stride, src, src_off, src_stride, block,
                                  n_blocks);
      break;
    case 2:
      launch_copy_blocks<uint16_t>(dst, dst_off, dst_stride, src, src_off, src_stride, block,
                                   n_blocks);
      break;
    default:
      launch_copy_blocks<uint32_t>(dst, dst_off, dst_stride, src, src_off, src_stride, block,
                                   n_blocks);
      break;
  }
}

double CudaBackend::sum_squares(const Tensor& x) {
  require(x, "sum_squares", "x", kFloat);
  const int64_t n = x.numel();
  if (n == 0) return 0.0;
  const unsigned blocks = grid_for(n, kThreads);
  // One buffer: [0] the result, [1..blocks] the partial sums (Tensor has no f64).
  Tensor buf =
      Tensor::empty({static_cast<int64_t>((blocks + 1) * sizeof(double))}, DType::u8, Device::cuda);
  double* out = buf.data<double>();
  sum_squares_kernel<<<blocks, kThreads, 0, stream()>>>(out + 1, floats(x), n);
  CUDA_CHECK_LAUNCH();
  sum_partials_kernel<<<1, kThreads, 0, stream()>>>(out, out + 1, static_cast<int>(blocks));
  CUDA_CHECK_LAUNCH();
  double result = 0;
  allocator_for(Device::cuda).copy_to_host(&result, out, sizeof(double));
  return result;
}

}  // namespace condense::cuda
