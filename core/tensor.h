// Tensors: a shape, a dtype and a device over shared storage. Always contiguous
// (row-major); views (reshape, rows) share storage with an offset. Storage comes
// from a caching allocator, so a training loop that asks for the same sizes
// every step does not call malloc/cudaMalloc after the first step.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace condense {

enum class DType : uint8_t { f32, bf16, i32, u8 };
enum class Device : uint8_t { cpu, cuda };
using Shape = std::vector<int64_t>;

size_t dtype_size(DType t);
const char* dtype_name(DType t);
const char* device_name(Device d);
std::string shape_str(const Shape& s);
int64_t numel_of(const Shape& s);

// Raw bytes on one device, returned to the caching allocator when the last owner goes.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::cpu;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class Tensor {
 public:
  Tensor() = default;
  // Uninitialised memory.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  // Host data copied into a new tensor on `device`.
  static Tensor from_f32(const std::vector<float>& data, const Shape& shape,
                         Device device = Device::cpu);
  static Tensor from_i32(const std::vector<int32_t>& data, const Shape& shape,
                         Device device = Device::cpu);
  static Tensor from_u8(const std::vector<uint8_t>& data, const Shape& shape,
                        Device device = Device::cpu);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_.at(i < 0 ? i + ndim() : i); }
  int64_t numel() const { return numel_of(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::cpu; }

  void* raw() const { return static_cast<char*>(storage_->data) + offset_; }
  template <typename T>
  T* data() const {
    return static_cast<T*>(raw());
  }
  float* f32() const { return check(DType::f32), data<float>(); }
  int32_t* i32() const { return check(DType::i32), data<int32_t>(); }
  uint8_t* u8() const { return check(DType::u8), data<uint8_t>(); }

  // Same storage, new shape with the same element count.
  Tensor reshape(const Shape& shape) const;
  // Rows [begin, end) of the first dimension, sharing storage.
  Tensor rows(int64_t begin, int64_t end) const;
  // A deep copy on `device` (converting nothing: same dtype).
  Tensor to(Device device) const;
  Tensor clone() const { return to(device()); }
  // Copies to host memory as float (f32 or bf16) or int (i32/u8 as float).
  std::vector<float> to_vector() const;
  std::vector<int32_t> to_i32_vector() const;
  // Sets every element to zero.
  void zero_() const;
  bool same_storage(const Tensor& o) const { return storage_ == o.storage_; }

 private:
  void check(DType want) const;
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;  // bytes
  Shape shape_;
  DType dtype_ = DType::f32;
};

// Caching allocator hooks per device. The CUDA backend installs its own.
struct DeviceAllocator {
  virtual ~DeviceAllocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* ptr, size_t bytes) = 0;
  // Host <-> device copies for Tensor::to.
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_on_device(void* dst, const void* src, size_t bytes) = 0;
  virtual void memset_zero(void* ptr, size_t bytes) = 0;
};
void set_allocator(Device device, DeviceAllocator* allocator);
DeviceAllocator& allocator_for(Device device);

// Bytes currently held by the CPU caching allocator (live + cached), for benchmarks.
size_t cpu_allocator_bytes_in_use();

}  // namespace condense
