// --device cpu|cuda, checked: asking for cuda where it is not available is an error.
#pragma once
#include <string>

#include "core/backend.h"

namespace condense::exp {

inline Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::cpu;
  if (name == "cuda") {
    if (!device_available(Device::cuda))
      fail("--device cuda: no CUDA device available (built without CUDA, or no GPU found)");
    return Device::cuda;
  }
  fail("--device: unknown device '", name, "', expected cpu or cuda");
}

}  // namespace condense::exp
