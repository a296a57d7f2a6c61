// Error checking for every CUDA runtime and cuBLAS call: a failure throws
// condense::Error naming file:line, the call as written and the library's own
// message, so a bad launch is never silently ignored.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/error.h"

namespace condense::cuda::detail {

inline void check_cuda(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess)
    fail(file, ":", line, ": ", call, " failed: ", cudaGetErrorName(err), ": ",
         cudaGetErrorString(err));
}

inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail(file, ":", line, ": ", call, " failed: ", cublasGetStatusName(status), ": ",
         cublasGetStatusString(status));
}

}  // namespace condense::cuda::detail

#define CUDA_CHECK(call) ::condense::cuda::detail::check_cuda((call), #call, __FILE__, __LINE__)
#define CUBLAS_CHECK(call) ::condense::cuda::detail::check_cublas((call), #call, __FILE__, __LINE__)
// After a kernel launch: catches a bad configuration (too much shared memory, a
// zero-sized grid) at the launch site instead of at the next synchronisation.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
