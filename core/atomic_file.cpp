#include "core/atomic_file.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace condense {

void write_atomically(const std::string& path,
                      const std::function<void(const std::string& tmp)>& write) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) fail(path, ": cannot create directory ", parent.string(), " (", ec.message(), ")");
  const std::string tmp = path + ".tmp";
  try {
    write(tmp);
    fs::rename(tmp, path, ec);
    if (ec) fail(path, ": cannot rename ", tmp, " onto it (", ec.message(), ")");
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) fail(path, ": cannot write ", tmp);
  });
}

}  // namespace condense
