// Writing output files so that a reader never sees a half-written one.
#pragma once
#include <functional>
#include <string>
#include <string_view>

namespace condense {

// Calls `write(tmp)` with tmp = path + ".tmp", then renames tmp onto `path`. On any
// error the temporary file is removed and the error propagates, leaving nothing
// behind. The parent directory is created if missing.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string& tmp)>& write);

void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace condense
