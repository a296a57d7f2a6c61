// Caching allocator for device memory. cudaMalloc and cudaFree synchronise the
// device and cost tens of microseconds, so a training step must not call them:
// freed blocks go to a free list per size bucket and the next request of that
// bucket takes one back. A training loop asks for the same sizes every step, so
// after the first step every request is a hit. Plain cudaMalloc memory only,
// never managed memory (page faults would wreck kernel timings).
#include "core/cuda/allocator.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/cuda/check.h"
#include "core/cuda/context.h"
#include "core/size_buckets.h"

namespace condense::cuda {
namespace {

class CachingAllocator final : public DeviceAllocator {
 public:
  void* allocate(size_t bytes) override {
    const size_t size = bucket_size(bytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        note_in_use(size);
        return p;
      }
    }
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear it, then retry with the cache handed back
      release_cached();
      err = cudaMalloc(&p, size);
    }
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      fail("cuda: cannot allocate ", bytes, " bytes of device memory (", cudaGetErrorString(err),
           "; condense holds ", held_, " bytes)");
    }
    std::lock_guard<std::mutex> lock(mu_);
    held_ += size;
    note_in_use(size);
    return p;
  }

  // The block may still be in use by queued kernels; that is fine because the
  // next user is queued on the same stream (see core/cuda/context.h).
  void release(void* ptr, size_t bytes) override {
    const size_t size = bucket_size(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    free_[size].push_back(ptr);
    in_use_ -= size;
  }

  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
    synchronize();
  }

  // Waits for the copy: the caller may free its host buffer when we return.
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
    CUDA_CHECK(cudaStreamSynchronize(stream()));
  }

  void copy_on_device(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
  }

  void memset_zero(void* ptr, size_t bytes) override {
    if (!bytes) return;
    CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, stream()));
  }

  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_;
  }
  size_t peak() {
    std::lock_guard<std::mutex> lock(mu_);
    return peak_;
  }

 private:
  void note_in_use(size_t size) {
    in_use_ += size;
    peak_ = std::max(peak_, in_use_);
  }

  // Frees every cached block (after the stream is idle, since queued kernels may
  // still use a block that is already on a free list).
  void release_cached() {
    CUDA_CHECK(cudaStreamSynchronize(stream()));
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [size, blocks] : free_) {
      for (void* p : blocks) CUDA_CHECK(cudaFree(p));
      held_ -= size * blocks.size();
      blocks.clear();
    }
  }

  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t held_ = 0, in_use_ = 0, peak_ = 0;
};

CachingAllocator& instance() {
  static CachingAllocator* a = new CachingAllocator();  // never destroyed, see allocator.h
  return *a;
}

}  // namespace

DeviceAllocator& caching_allocator() {
  return instance();
}
size_t device_bytes_held() {
  return instance().held();
}
size_t device_bytes_peak() {
  return instance().peak();
}

}  // namespace condense::cuda
