// --device cpu|cuda, checked: asking for cuda where it is not available is an error.
#pragma once
#include <cstdlib>
#include <string>

#include "core/backend.h"
#ifdef CONDENSE_HAVE_CUDA
#include "core/cuda/cuda_backend.h"
#endif

namespace condense::exp {

inline Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::cpu;
  if (name == "cuda") {
#ifdef CONDENSE_HAVE_CUDA
    // The GPU of this process's node-local rank under mpirun/srun (0 when run
    // alone). A launcher-aware caller (parallel/) may have registered one already.
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (!local) local = std::getenv("SLURM_LOCALID");
    cuda::register_backend(local ? std::atoi(local) : 0);
#endif
    if (!device_available(Device::cuda))
      fail("--device cuda: no CUDA device available (built without CUDA, or no GPU found)");
    return Device::cuda;
  }
  fail("--device: unknown device '", name, "', expected cpu or cuda");
}

}  // namespace condense::exp
