// The device allocator for Device::cuda (see DeviceAllocator in core/tensor.h).
#pragma once
#include "core/tensor.h"

namespace condense::cuda {

// The process-wide caching allocator; never destroyed, because tensors held in
// static storage may release their memory after other statics are gone.
DeviceAllocator& caching_allocator();

}  // namespace condense::cuda
