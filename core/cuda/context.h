// What every CUDA op shares: the device, one stream, one cuBLAS handle, and a
// flag kernels set when they meet bad data (they cannot throw).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "core/cuda/cuda_backend.h"

namespace condense::cuda {

// Selects `device`, creates the stream and the cuBLAS handle. Called once by
// register_backend(); the other functions here assume it has run.
void init_context(int device);

// All work (kernels, cuBLAS, copies, memsets) goes to this one stream, so ops run
// in program order and the caching allocator can hand a freed block to the next
// op without an event: every later use is ordered after the last one. Anything
// else that touches condense's device memory (NCCL) must use this stream too.
cudaStream_t stream();
cublasHandle_t cublas();
const cudaDeviceProp& device_props();

// A kernel that meets an index out of range (an embedding id, a target) records
// the first such event here and skips that row; the host throws it as
// condense::Error at the next synchronize().
enum ErrorCode : int32_t { kNoError = 0, kRowIndex = 1, kTargetIndex = 2 };
struct DeviceError {
  int32_t code;
  int32_t pad;
  int64_t value;
  int64_t bound;
};
DeviceError* device_error();  // device memory, for kernels; read by synchronize()

}  // namespace condense::cuda
