#include "core/backend.h"

namespace condense {
namespace {
Backend* cuda_backend = nullptr;
}  // namespace

Backend& cpu_backend();  // core/cpu/cpu_backend.cpp

void set_backend(Device device, Backend* backend) {
  if (device == Device::cuda) cuda_backend = backend;
}

bool device_available(Device device) {
  return device == Device::cpu || cuda_backend != nullptr;
}

Backend& backend_for(Device device) {
  if (device == Device::cpu) return cpu_backend();
  if (!cuda_backend)
    fail("device cuda: not available (condense was built without CUDA or no GPU was found)");
  return *cuda_backend;
}

}  // namespace condense
