// Helpers shared by the data tests (tests/test_data_*.cpp).
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "core/error.h"
#include "datasets/llama2c_tokenizer.h"
#include "datasets/tokenizer.h"
#include "tests/cli_test_util.h"
#include "tests/model_test_util.h"

namespace condense::testing {

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

// Runs the condense binary with `args`, one shell-word string.
inline CommandResult run_condense(const std::string& args) {
  TempDir dir;
  return run_shell(shell_quote(CONDENSE_BINARY) + " " + args, dir.path());
}

}  // namespace condense::testing
