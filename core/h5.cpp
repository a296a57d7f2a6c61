#include "core/h5.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <numeric>

#include "core/error.h"
#include "core/fault.h"

namespace condense::h5 {
namespace {

// HDF5 prints its whole error stack to stderr by default; we report one line instead.
struct SilenceHdf5 {
  SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
const SilenceHdf5 silence_hdf5;

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = -1;
  }
  return *this;
}

Handle::~Handle() {
  if (id_ >= 0 && closer_) closer_(id_);
}

File::File(const std::string& path, Mode mode) : path_(path) {
  hid_t id;
  if (mode == Mode::read) {
    if (!std::filesystem::exists(path)) fail(path, ": no such file");
    id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) fail(path, ": not a readable HDF5 file (truncated or corrupt?)");
  } else {
    id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (id < 0) fail(path, ": cannot create HDF5 file");
    fault::write_point(path);
  }
  file_ = Handle(id, H5Fclose);
}

bool File::exists(const std::string& name) const {
  // Walk the path so that a missing intermediate group is "not there", not an error.
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = name.find('/', pos + 1);
    partial = name.substr(0, next);
    if (!partial.empty() && partial != "/") {
      if (H5Lexists(file_.get(), partial.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    pos = next;
  }
  return true;
}

Handle File::open_dataset(const std::string& name) const {
  if (!exists(name)) fail(path_, ": missing dataset ", name);
  hid_t id = H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT);
  if (id < 0) fail(path_, ": cannot open dataset ", name, " (corrupt file?)");
  return Handle(id, H5Dclose);
}

Handle File::open_object(const std::string& obj) const {
  if (obj != "/" && !exists(obj)) fail(path_, ": missing object ", obj);
  hid_t id = H5Oopen(file_.get(), obj.c_str(), H5P_DEFAULT);
  if (id < 0) fail(path_, ": cannot open object ", obj);
  return Handle(id, H5Oclose);
}

std::vector<int64_t> File::shape(const std::string& name) const {
  Handle ds = open_dataset(name);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail(path_, ": cannot read shape of ", name);
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

void File::ensure_parent_groups(const std::string& name) {
  size_t pos = 0;
  while ((pos = name.find('/', pos + 1)) != std::string::npos) {
    std::string group = name.substr(0, pos);
    if (H5Lexists(file_.get(), group.c_str(), H5P_DEFAULT) <= 0) {
      hid_t g = H5Gcreate2(file_.get(), group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      if (g < 0) fail(path_, ": cannot create group ", group);
      H5Gclose(g);
    }
  }
}

void File::write_raw(const std::string& name, const std::vector<int64_t>& dims, hid_t type,
                     const void* data) {
  ensure_parent_groups(name);
  std::vector<hsize_t> hd(dims.begin(), dims.end());
  Handle space(H5Screate_simple(static_cast<int>(hd.size()), hd.data(), nullptr), H5Sclose);
  if (!space.valid()) fail(path_, ": bad shape ", shape_str(dims), " for ", name);
  // Large datasets are chunked and checksummed (Fletcher32) so a flipped byte is caught on read.
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  int64_t n = std::accumulate(dims.begin(), dims.end(), int64_t{1}, std::multiplies<>());
  if (n > 0 && !dims.empty()) {
    std::vector<hsize_t> chunk(hd);
    // Chunk along the first axis to roughly 1 MiB.
    int64_t row = n / std::max<int64_t>(dims[0], 1);
    chunk[0] = static_cast<hsize_t>(
        std::clamp<int64_t>((1 << 18) / std::max<int64_t>(row, 1), 1, dims[0]));
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    H5Pset_fletcher32(dcpl.get());
  }
  Handle ds(H5Dcreate2(file_.get(), name.c_str(), type, space.get(), H5P_DEFAULT, dcpl.get(),
                       H5P_DEFAULT),
            H5Dclose);
  if (!ds.valid()) fail(path_, ": cannot create dataset ", name);
  if (n > 0 && H5Dwrite(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail(path_, ": cannot write dataset ", name);
  fault::write_point(path_);
}

void File::write(const std::string& name, const std::vector<int64_t>& dims, const float* data) {
  write_raw(name, dims, H5T_NATIVE_FLOAT, data);
}
void File::write(const std::string& name, const std::vector<int64_t>& dims, const int32_t* data) {
  write_raw(name, dims, H5T_NATIVE_INT32, data);
}
void File::write(const std::string& name, const std::vector<int64_t>& dims, const int64_t* data) {
  write_raw(name, dims, H5T_NATIVE_INT64, data);
}
void File::write(const std::string& name, const std::vector<int64_t>& dims, const uint8_t* data) {
  write_raw(name, dims, H5T_NATIVE_UINT8, data);
}

void File::read_raw(const std::string& name, hid_t type, void* out, size_t elem_count) const {
  Handle ds = open_dataset(name);
  if (elem_count > 0 && H5Dread(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    fail(path_, ": cannot read dataset ", name, " (corrupt or truncated file?)");
}

#define CONDENSE_H5_READ(fn, T, H5T)                                                           \
  std::vector<T> File::fn(const std::string& name, const std::vector<int64_t>& expect) const { \
    std::vector<int64_t> dims = shape(name);                                                   \
    if (!expect.empty() && dims != expect)                                                     \
      fail(path_, ": dataset ", name, " has shape ", shape_str(dims), ", expected ",           \
           shape_str(expect));                                                                 \
    size_t n = std::accumulate(dims.begin(), dims.end(), size_t{1}, std::multiplies<>());      \
    std::vector<T> out(n);                                                                     \
    read_raw(name, H5T, out.data(), n);                                                        \
    return out;                                                                                \
  }
CONDENSE_H5_READ(read_f32, float, H5T_NATIVE_FLOAT)
CONDENSE_H5_READ(read_i32, int32_t, H5T_NATIVE_INT32)
CONDENSE_H5_READ(read_i64, int64_t, H5T_NATIVE_INT64)
CONDENSE_H5_READ(read_u8, uint8_t, H5T_NATIVE_UINT8)
#undef CONDENSE_H5_READ

void File::read_rows_raw(const std::string& name, int64_t begin, int64_t end, hid_t type,
                         void* out) const {
  std::vector<int64_t> dims = shape(name);
  if (dims.empty() || begin < 0 || end > dims[0] || begin > end)
    fail(path_, ": rows [", begin, ",", end, ") out of range for ", name, " of shape ",
         shape_str(dims));
  if (begin == end) return;
  Handle ds = open_dataset(name);
  Handle file_space(H5Dget_space(ds.get()), H5Sclose);
  std::vector<hsize_t> start(dims.size(), 0), count(dims.begin(), dims.end());
  start[0] = static_cast<hsize_t>(begin);
  count[0] = static_cast<hsize_t>(end - begin);
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                      nullptr);
  Handle mem_space(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr),
                   H5Sclose);
  if (H5Dread(ds.get(), type, mem_space.get(), file_space.get(), H5P_DEFAULT, out) < 0)
    fail(path_, ": cannot read rows of ", name, " (corrupt or truncated file?)");
}

std::vector<int32_t> File::read_i32_rows(const std::string& name, int64_t begin,
                                         int64_t end) const {
  std::vector<int64_t> dims = shape(name);
  int64_t row = dims.size() > 1 ? dims[1] : 1;
  std::vector<int32_t> out(static_cast<size_t>(std::max<int64_t>(end - begin, 0) * row));
  read_rows_raw(name, begin, end, H5T_NATIVE_INT32, out.data());
  return out;
}

std::vector<int64_t> File::read_i64_rows(const std::string& name, int64_t begin,
                                         int64_t end) const {
  std::vector<int64_t> dims = shape(name);
  int64_t row = dims.size() > 1 ? dims[1] : 1;
  std::vector<int64_t> out(static_cast<size_t>(std::max<int64_t>(end - begin, 0) * row));
  read_rows_raw(name, begin, end, H5T_NATIVE_INT64, out.data());
  return out;
}

void File::write_strings(const std::string& name, const std::vector<std::string>& values) {
  ensure_parent_groups(name);
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle ds(H5Dcreate2(file_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                       H5P_DEFAULT),
            H5Dclose);
  if (!ds.valid()) fail(path_, ": cannot create string dataset ", name);
  std::vector<const char*> ptrs(values.size());
  for (size_t i = 0; i < values.size(); ++i) ptrs[i] = values[i].c_str();
  if (n > 0 && H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
    fail(path_, ": cannot write string dataset ", name);
  fault::write_point(path_);
}

std::vector<std::string> File::read_strings(const std::string& name) const {
  Handle ds = open_dataset(name);
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  std::vector<int64_t> dims = shape(name);
  if (dims.size() != 1) fail(path_, ": ", name, " is not a 1-D string dataset");
  std::vector<char*> ptrs(static_cast<size_t>(dims[0]), nullptr);
  if (dims[0] > 0 && H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
    fail(path_, ": cannot read string dataset ", name);
  std::vector<std::string> out;
  out.reserve(ptrs.size());
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  if (dims[0] > 0) {
    Handle space(H5Dget_space(ds.get()), H5Sclose);
    H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, ptrs.data());
  }
  return out;
}

void File::set_attr(const std::string& obj, const std::string& key, const std::string& value) {
  Handle o = open_object(obj);
  if (H5Aexists(o.get(), key.c_str()) > 0) H5Adelete(o.get(), key.c_str());
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), std::max<size_t>(value.size(), 1));
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(o.get(), key.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose);
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  if (!a.valid() || H5Awrite(a.get(), type.get(), padded.data()) < 0)
    fail(path_, ": cannot write attribute ", obj, "@", key);
}

void File::set_attr(const std::string& obj, const std::string& key, int64_t value) {
  Handle o = open_object(obj);
  if (H5Aexists(o.get(), key.c_str()) > 0) H5Adelete(o.get(), key.c_str());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(
      H5Acreate2(o.get(), key.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT),
      H5Aclose);
  if (!a.valid() || H5Awrite(a.get(), H5T_NATIVE_INT64, &value) < 0)
    fail(path_, ": cannot write attribute ", obj, "@", key);
}

void File::set_attr(const std::string& obj, const std::string& key, double value) {
  Handle o = open_object(obj);
  if (H5Aexists(o.get(), key.c_str()) > 0) H5Adelete(o.get(), key.c_str());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(
      H5Acreate2(o.get(), key.c_str(), H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
      H5Aclose);
  if (!a.valid() || H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &value) < 0)
    fail(path_, ": cannot write attribute ", obj, "@", key);
}

bool File::has_attr(const std::string& obj, const std::string& key) const {
  if (obj != "/" && !exists(obj)) return false;
  Handle o = open_object(obj);
  return H5Aexists(o.get(), key.c_str()) > 0;
}

std::string File::attr_string(const std::string& obj, const std::string& key) const {
  Handle o = open_object(obj);
  if (H5Aexists(o.get(), key.c_str()) <= 0) fail(path_, ": missing attribute ", obj, "@", key);
  Handle a(H5Aopen(o.get(), key.c_str(), H5P_DEFAULT), H5Aclose);
  Handle ftype(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_STRING)
    fail(path_, ": attribute ", obj, "@", key, " is not a string");
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Handle mtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    char* p = nullptr;
    if (H5Aread(a.get(), mtype.get(), &p) < 0) fail(path_, ": cannot read ", obj, "@", key);
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  size_t n = H5Tget_size(ftype.get());
  std::string s(n, '\0');
  if (H5Aread(a.get(), ftype.get(), s.data()) < 0) fail(path_, ": cannot read ", obj, "@", key);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

int64_t File::attr_int(const std::string& obj, const std::string& key) const {
  Handle o = open_object(obj);
  if (H5Aexists(o.get(), key.c_str()) <= 0) fail(path_, ": missing attribute ", obj, "@", key);
  Handle a(H5Aopen(o.get(), key.c_str(), H5P_DEFAULT), H5Aclose);
  int64_t v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_INT64, &v) < 0) fail(path_, ": cannot read ", obj, "@", key);
  return v;
}

double File::attr_double(const std::string& obj, const std::string& key) const {
  Handle o = open_object(obj);
  if (H5Aexists(o.get(), key.c_str()) <= 0) fail(path_, ": missing attribute ", obj, "@", key);
  Handle a(H5Aopen(o.get(), key.c_str(), H5P_DEFAULT), H5Aclose);
  double v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) fail(path_, ": cannot read ", obj, "@", key);
  return v;
}

std::vector<std::string> File::children(const std::string& group) const {
  std::vector<std::string> names;
  if (group != "/" && !exists(group)) return names;
  auto cb = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  H5Literate_by_name(file_.get(), group.c_str(), H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names,
                     H5P_DEFAULT);
  return names;
}

void File::flush() {
  errno = 0;
  if (H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0)
    fail(path_, ": cannot write it out (", errno ? std::strerror(errno) : "HDF5 error", ")");
}

void File::close() {
  flush();
  const hid_t id = file_.release();
  errno = 0;
  if (H5Fclose(id) < 0)
    fail(path_, ": cannot close it (", errno ? std::strerror(errno) : "HDF5 error", ")");
}

}  // namespace condense::h5
