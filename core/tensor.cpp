#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "core/bf16.h"
#include "core/size_buckets.h"

namespace condense {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::bf16:
      return 2;
    case DType::i32:
      return 4;
    case DType::u8:
      return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::bf16:
      return "bf16";
    case DType::i32:
      return "i32";
    case DType::u8:
      return "u8";
  }
  return "?";
}

const char* device_name(Device d) {
  return d == Device::cpu ? "cpu" : "cuda";
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

namespace {

// Host memory cached for reuse: a training step asks for the same sizes every step,
// so after the first step every request is a hit and malloc is never called. A
// request takes the smallest free block of at least its bucket size and at most
// twice it, so shapes that vary from step to step (variable-length batches, a
// key/value cache growing by one token per decoding step) reuse each other's blocks;
// cached by exact size, every new size would hold memory of its own forever (GBs
// within a few hundred variable-length training steps).
class CpuAllocator final : public DeviceAllocator {
 public:
  void* allocate(size_t bytes) override {
    const size_t size = bucket_size(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first <= 2 * size) {
      void* p = it->second;
      block_size_[p] = it->first;
      free_.erase(it);
      return p;
    }
    // 64-byte alignment for AVX-512 loads and whole cache lines (buckets are multiples of 512).
    void* p = std::aligned_alloc(64, size);
    if (!p) fail("out of host memory allocating ", bytes, " bytes");
    held_ += size;
    block_size_[p] = size;
    return p;
  }
  void release(void* ptr, size_t) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = block_size_.find(ptr);
    free_.emplace(it->second, ptr);
    block_size_.erase(it);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_on_device(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void memset_zero(void* ptr, size_t bytes) override {
    if (bytes) std::memset(ptr, 0, bytes);
  }
  size_t held() const { return held_; }
  ~CpuAllocator() override {
    for (auto& [size, p] : free_) std::free(p);
  }

 private:
  std::mutex mu_;
  std::multimap<size_t, void*> free_;
  std::unordered_map<void*, size_t> block_size_;  // blocks in use -> their real size
  size_t held_ = 0;
};

CpuAllocator& cpu_allocator() {
  static CpuAllocator* a = new CpuAllocator();  // never destroyed: tensors may outlive statics
  return *a;
}

DeviceAllocator* cuda_allocator = nullptr;

}  // namespace

void set_allocator(Device device, DeviceAllocator* allocator) {
  if (device == Device::cuda) cuda_allocator = allocator;
}

DeviceAllocator& allocator_for(Device device) {
  if (device == Device::cpu) return cpu_allocator();
  if (!cuda_allocator)
    fail("device cuda: not available (condense was built without CUDA or no GPU was found)");
  return *cuda_allocator;
}

size_t cpu_allocator_bytes_in_use() {
  return cpu_allocator().held();
}

Storage::Storage(size_t nbytes, Device dev) : bytes(nbytes), device(dev) {
  data = allocator_for(dev).allocate(nbytes);
}

Storage::~Storage() {
  allocator_for(device).release(data, bytes);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    if (d < 0) fail("negative dimension in shape ", shape_str(shape));
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ =
      std::make_shared<Storage>(static_cast<size_t>(numel_of(shape)) * dtype_size(dtype), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

namespace {
template <typename T>
Tensor from_host(const std::vector<T>& data, const Shape& shape, DType dtype, Device device) {
  if (static_cast<int64_t>(data.size()) != numel_of(shape))
    fail("tensor data has ", data.size(), " elements but shape ", shape_str(shape), " needs ",
         numel_of(shape));
  Tensor t = Tensor::empty(shape, dtype, device);
  allocator_for(device).copy_from_host(t.raw(), data.data(), data.size() * sizeof(T));
  return t;
}
}  // namespace

Tensor Tensor::from_f32(const std::vector<float>& data, const Shape& shape, Device device) {
  return from_host(data, shape, DType::f32, device);
}
Tensor Tensor::from_i32(const std::vector<int32_t>& data, const Shape& shape, Device device) {
  return from_host(data, shape, DType::i32, device);
}
Tensor Tensor::from_u8(const std::vector<uint8_t>& data, const Shape& shape, Device device) {
  return from_host(data, shape, DType::u8, device);
}

Tensor Tensor::reshape(const Shape& shape) const {
  if (numel_of(shape) != numel())
    fail("cannot reshape ", shape_str(shape_), " to ", shape_str(shape));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  if (shape_.empty() || begin < 0 || end > shape_[0] || begin > end)
    fail("rows [", begin, ",", end, ") out of range for shape ", shape_str(shape_));
  Tensor t = *this;
  int64_t row = numel() / std::max<int64_t>(shape_[0], 1);
  t.offset_ += static_cast<size_t>(begin * row) * dtype_size(dtype_);
  t.shape_[0] = end - begin;
  return t;
}

Tensor Tensor::to(Device target) const {
  Tensor t = empty(shape_, dtype_, target);
  size_t n = nbytes();
  if (device() == Device::cpu && target == Device::cpu)
    allocator_for(Device::cpu).copy_on_device(t.raw(), raw(), n);
  else if (device() == Device::cpu)
    allocator_for(target).copy_from_host(t.raw(), raw(), n);
  else if (target == Device::cpu)
    allocator_for(device()).copy_to_host(t.raw(), raw(), n);
  else
    allocator_for(target).copy_on_device(t.raw(), raw(), n);
  return t;
}

std::vector<float> Tensor::to_vector() const {
  Tensor host = device() == Device::cpu ? *this : to(Device::cpu);
  std::vector<float> out(static_cast<size_t>(numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (dtype_) {
      case DType::f32:
        out[i] = host.data<float>()[i];
        break;
      case DType::bf16:
        out[i] = bf16_to_f32(host.data<uint16_t>()[i]);
        break;
      case DType::i32:
        out[i] = static_cast<float>(host.data<int32_t>()[i]);
        break;
      case DType::u8:
        out[i] = host.data<uint8_t>()[i];
        break;
    }
  }
  return out;
}

std::vector<int32_t> Tensor::to_i32_vector() const {
  check(DType::i32);
  Tensor host = device() == Device::cpu ? *this : to(Device::cpu);
  return std::vector<int32_t>(host.data<int32_t>(), host.data<int32_t>() + numel());
}

void Tensor::zero_() const {
  if (storage_) allocator_for(device()).memset_zero(raw(), nbytes());
}

void Tensor::check(DType want) const {
  if (!storage_) fail("use of an undefined tensor");
  if (dtype_ != want) fail("tensor of dtype ", dtype_name(dtype_), " used as ", dtype_name(want));
}

}  // namespace condense
