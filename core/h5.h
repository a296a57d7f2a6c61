// Thin RAII layer over the HDF5 C API. Every HDF5 call is checked; a failure
// throws condense::Error naming the file and object. HDF5's own error stack
// printing is silenced so that the user sees one line.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace condense::h5 {

// Owns one hid_t and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle();
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Gives up ownership: the caller closes the id.
  hid_t release() {
    const hid_t id = id_;
    id_ = -1;
    return id;
  }

 private:
  hid_t id_ = -1;
  herr_t (*closer_)(hid_t) = nullptr;
};

// An open HDF5 file. Paths inside are '/'-separated; missing groups are created on write.
class File {
 public:
  enum class Mode { read, create };
  File(const std::string& path, Mode mode);
  const std::string& path() const { return path_; }
  hid_t id() const { return file_.get(); }

  bool exists(const std::string& name) const;
  std::vector<int64_t> shape(const std::string& name) const;

  // Datasets of numbers. `dims` is the logical shape; data is row-major.
  void write(const std::string& name, const std::vector<int64_t>& dims, const float* data);
  void write(const std::string& name, const std::vector<int64_t>& dims, const int32_t* data);
  void write(const std::string& name, const std::vector<int64_t>& dims, const int64_t* data);
  void write(const std::string& name, const std::vector<int64_t>& dims, const uint8_t* data);
  // Reads a whole dataset; throws if its shape differs from `expect` (when given).
  std::vector<float> read_f32(const std::string& name,
                              const std::vector<int64_t>& expect = {}) const;
  std::vector<int32_t> read_i32(const std::string& name,
                                const std::vector<int64_t>& expect = {}) const;
  std::vector<int64_t> read_i64(const std::string& name,
                                const std::vector<int64_t>& expect = {}) const;
  std::vector<uint8_t> read_u8(const std::string& name,
                               const std::vector<int64_t>& expect = {}) const;
  // Reads rows [begin, end) of the first dimension of a 1-D or 2-D dataset.
  std::vector<int32_t> read_i32_rows(const std::string& name, int64_t begin, int64_t end) const;
  std::vector<int64_t> read_i64_rows(const std::string& name, int64_t begin, int64_t end) const;

  // Variable-length UTF-8 strings as a 1-D dataset.
  void write_strings(const std::string& name, const std::vector<std::string>& values);
  std::vector<std::string> read_strings(const std::string& name) const;

  // Attributes on an object ("/" for the root, or a group/dataset path).
  void set_attr(const std::string& obj, const std::string& key, const std::string& value);
  void set_attr(const std::string& obj, const std::string& key, int64_t value);
  void set_attr(const std::string& obj, const std::string& key, double value);
  bool has_attr(const std::string& obj, const std::string& key) const;
  std::string attr_string(const std::string& obj, const std::string& key) const;
  int64_t attr_int(const std::string& obj, const std::string& key) const;
  double attr_double(const std::string& obj, const std::string& key) const;

  // Names of the direct children of a group.
  std::vector<std::string> children(const std::string& group) const;

  // Both throw (one line, naming the file) when the data cannot be written out, e.g. on a
  // full disk: HDF5 caches what it writes, so a failure can surface only here.
  void flush();
  // Flushes and closes the file; the object is then unusable. Writers call it before
  // renaming, since the destructor closes without reporting errors.
  void close();

 private:
  void ensure_parent_groups(const std::string& name);
  Handle open_dataset(const std::string& name) const;
  Handle open_object(const std::string& obj) const;
  void write_raw(const std::string& name, const std::vector<int64_t>& dims, hid_t type,
                 const void* data);
  void read_raw(const std::string& name, hid_t type, void* out, size_t elem_count) const;
  void read_rows_raw(const std::string& name, int64_t begin, int64_t end, hid_t type,
                     void* out) const;

  std::string path_;
  Handle file_;
};

}  // namespace condense::h5
