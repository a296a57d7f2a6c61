// Registration of the CUDA backend and the argument checks its ops share.
#include "core/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <mutex>

#include "core/cuda/allocator.h"
#include "core/cuda/context.h"
#include "core/cuda/cuda_ops.h"

namespace condense::cuda {

void register_backend(int device) {
  static std::once_flag once;
  std::call_once(once, [device] {
    int count = 0;
    // No driver, or a driver without devices: both mean "no GPU here", which is
    // a normal configuration (CI builds), not an error.
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      (void)cudaGetLastError();
      return;
    }
    if (device < 0 || device >= count)
      fail("cuda: device ", device, " requested but only ", count, " present");
    init_context(device);
    set_allocator(Device::cuda, &caching_allocator());
    static CudaBackend backend;
    set_backend(Device::cuda, &backend);
  });
}

void require(const Tensor& t, const char* op, const char* what,
             std::initializer_list<DType> dtypes) {
  if (!t.defined()) fail("cuda ", op, ": ", what, " is undefined");
  if (t.device() != Device::cuda)
    fail("cuda ", op, ": ", what, " must be on cuda, got a ", device_name(t.device()), " tensor");
  for (DType d : dtypes)
    if (t.dtype() == d) return;
  std::string allowed;
  for (DType d : dtypes) allowed += std::string(allowed.empty() ? "" : " or ") + dtype_name(d);
  fail("cuda ", op, ": ", what, " must be ", allowed, ", got ", dtype_name(t.dtype()));
}

void require_numel(const Tensor& t, int64_t numel, const char* op, const char* what) {
  if (t.numel() != numel)
    fail("cuda ", op, ": ", what, " has shape ", shape_str(t.shape()), " (", t.numel(),
         " elements), expected ", numel, " elements");
}

}  // namespace condense::cuda
