#include "core/cuda/context.h"

#include "core/cuda/check.h"

namespace condense::cuda {
namespace {

struct Context {
  int device = -1;
  cudaDeviceProp props{};
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  void* cublas_workspace = nullptr;
  DeviceError* error_dev = nullptr;   // written by kernels
  DeviceError* error_host = nullptr;  // pinned mirror, read after a sync
};

Context& ctx() {
  static Context c;
  return c;
}

// cuBLAS on Hopper wants a 32 MiB workspace for its fastest kernels; giving it
// one up front keeps it from allocating on its own during the first GEMMs.
constexpr size_t kCublasWorkspace = 32u << 20;

const char* error_what(int32_t code) {
  switch (code) {
    case kRowIndex:
      return "row index";
    case kTargetIndex:
      return "cross-entropy target";
    default:
      return "device error";
  }
}

}  // namespace

void init_context(int device) {
  Context& c = ctx();
  if (c.stream) return;
  CUDA_CHECK(cudaSetDevice(device));
  CUDA_CHECK(cudaGetDeviceProperties(&c.props, device));
  // Non-blocking: our stream never waits on the legacy default stream, which
  // libraries we link might use for their own work.
  CUDA_CHECK(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
  CUBLAS_CHECK(cublasCreate(&c.cublas));
  CUBLAS_CHECK(cublasSetStream(c.cublas, c.stream));
  CUDA_CHECK(cudaMalloc(&c.cublas_workspace, kCublasWorkspace));
  CUBLAS_CHECK(cublasSetWorkspace(c.cublas, c.cublas_workspace, kCublasWorkspace));
  CUDA_CHECK(cudaMalloc(&c.error_dev, sizeof(DeviceError)));
  CUDA_CHECK(cudaMemset(c.error_dev, 0, sizeof(DeviceError)));
  CUDA_CHECK(cudaMallocHost(&c.error_host, sizeof(DeviceError)));
  c.device = device;
}

cudaStream_t stream() {
  return ctx().stream;
}
cublasHandle_t cublas() {
  return ctx().cublas;
}
const cudaDeviceProp& device_props() {
  return ctx().props;
}
DeviceError* device_error() {
  return ctx().error_dev;
}

void synchronize() {
  Context& c = ctx();
  // The flag travels with the same sync: one tiny copy queued behind the work.
  CUDA_CHECK(cudaMemcpyAsync(c.error_host, c.error_dev, sizeof(DeviceError), cudaMemcpyDeviceToHost,
                             c.stream));
  CUDA_CHECK(cudaStreamSynchronize(c.stream));
  const DeviceError e = *c.error_host;
  if (e.code == kNoError) return;
  CUDA_CHECK(cudaMemsetAsync(c.error_dev, 0, sizeof(DeviceError), c.stream));
  CUDA_CHECK(cudaStreamSynchronize(c.stream));
  fail("cuda: ", error_what(e.code), " ", e.value, " out of range [0,", e.bound,
       ") (found by a kernel; reported at the next synchronisation)");
}

}  // namespace condense::cuda
