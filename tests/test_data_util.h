// Helpers shared by the data tests (tests/test_data_*.cpp).
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>    // mkdtemp
#include <sys/wait.h>  // WIFEXITED

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "core/error.h"
#include "datasets/llama2c_tokenizer.h"
#include "datasets/tokenizer.h"

namespace condense::testing {

inline std::string source_path(const std::string& rel) {
  return std::string(CONDENSE_SOURCE_DIR) + "/" + rel;
}

// ../shared/data beside the repository, where the full public data lives (absent in
// a bare clone: tests that need it skip).
inline std::string shared_data(const std::string& rel) {
  return std::string(CONDENSE_SOURCE_DIR) + "/../shared/data/" + rel;
}

#define SKIP_WITHOUT_SHARED(rel)                                                                \
  do {                                                                                          \
    if (!std::filesystem::exists(::condense::testing::shared_data(rel)))                        \
      GTEST_SKIP() << "needs " << ::condense::testing::shared_data(rel) << " (../shared/data)"; \
  } while (0)

// A fresh directory under the system temp dir, removed with its contents at scope end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "condense-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The shipped 512-piece tinyllamas vocabulary, converted once per test process.
inline const data::Tokenizer& tok512() {
  static TempDir dir;
  static data::Tokenizer tok = [] {
    data::convert_llama2c_tokenizer(source_path("tests/data/tinyllamas/tok512.bin"),
                                    dir.file("tok512.model"));
    return data::Tokenizer::load(dir.file("tok512.model"));
  }();
  return tok;
}

inline std::string tok512_path() {
  return tok512().path();
}

// The message of the condense::Error that `fn` throws ("(no error)" when it throws none).
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Runs the condense binary with `args`; returns its exit status, stdout and stderr.
struct RunResult {
  int status;
  std::string out, err;
};
inline RunResult run_condense(const std::string& args) {
  TempDir dir;
  const std::string cmd =
      std::string(CONDENSE_BINARY) + " " + args + " >" + dir.file("out") + " 2>" + dir.file("err");
  const int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, read_file(dir.file("out")),
          read_file(dir.file("err"))};
}

}  // namespace condense::testing
