// Runs the `condense` binary from tests and captures what it printed.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace condense::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
  std::vector<std::string> err_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `args` are passed to condense as separate, quoted words.
inline CommandResult run_condense(const std::vector<std::string>& args,
                                  const std::filesystem::path& scratch) {
  // Built with append() only: GCC 12 warns falsely (-Wrestrict) on `" " + std::string`.
  std::string cmd = shell_quote(CONDENSE_BINARY);
  for (const auto& a : args) cmd.append(" ").append(shell_quote(a));
  const auto out = scratch / "cmd.out", err = scratch / "cmd.err";
  cmd.append(" >")
      .append(shell_quote(out.string()))
      .append(" 2>")
      .append(shell_quote(err.string()));
  const int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// The last stderr line is one "condense: error: ..." line mentioning `needle`.
inline void expect_one_line_error(const CommandResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0) << r.err;
  const auto lines = r.err_lines();
  ASSERT_FALSE(lines.empty()) << "no error message";
  EXPECT_EQ(lines.back().rfind("condense: error: ", 0), 0u) << r.err;
  EXPECT_NE(lines.back().find(needle), std::string::npos)
      << "error does not name '" << needle << "': " << lines.back();
}

}  // namespace condense::testing
