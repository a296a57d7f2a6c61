// The CUDA backend's public face: registration and the few things callers
// outside core/cuda need (a sync point, memory figures for benchmarks).
#pragma once
#include <cstddef>

namespace condense::cuda {

// When a GPU is present, selects `device` (one per process: pass the local rank
// under MPI) and installs the CUDA allocator and backend for Device::cuda.
// Without a GPU it does nothing, so device_available(Device::cuda) stays false.
// Calling it again is a no-op.
void register_backend(int device = 0);

// Waits for all queued GPU work and throws what a kernel recorded (an index out
// of range). Copies to host and sum_squares call it themselves.
void synchronize();

// Device bytes the caching allocator holds (live + cached) and the peak of live
// bytes since start, for benchmarks and the memory columns of eval tables.
size_t device_bytes_held();
size_t device_bytes_peak();

}  // namespace condense::cuda
