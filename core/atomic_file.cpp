#include "core/atomic_file.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/fault.h"

namespace condense {

void write_atomically(const std::string& path,
                      const std::function<void(const std::string& tmp)>& write) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) fail(path, ": cannot create directory ", parent.string(), " (", ec.message(), ")");
  const std::string tmp = path + ".tmp";
  fault::write_point(path);
  try {
    write(tmp);
    fault::write_point(path);
    fs::rename(tmp, path, ec);
    if (ec) fail(path, ": cannot rename ", tmp, " onto it (", ec.message(), ")");
    fault::write_point(path);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  write_atomically(path, [&](const std::string& tmp) {
    std::FILE* out = std::fopen(tmp.c_str(), "wb");
    if (!out) fail(path, ": cannot create ", tmp, " (", std::strerror(errno), ")");
    fault::write_point(path);
    constexpr size_t kPiece = 64 << 10;
    for (size_t at = 0; at < bytes.size(); at += kPiece) {
      const size_t n = std::min(kPiece, bytes.size() - at);
      if (std::fwrite(bytes.data() + at, 1, n, out) != n || std::fflush(out) != 0) {
        const int e = errno;
        std::fclose(out);
        fail(path, ": cannot write ", tmp, " (", std::strerror(e), ")");
      }
      fault::write_point(path);
    }
    if (std::fclose(out) != 0) fail(path, ": cannot write ", tmp, " (", std::strerror(errno), ")");
  });
}

}  // namespace condense
