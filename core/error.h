// Errors in condense: one exception type whose message is a single line that
// names the thing at fault and what was expected. The `condense` command turns
// it into "condense: error: <message>" and a non-zero exit.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace condense {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// Throws condense::Error with the streamed arguments as message.
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(detail::concat(args...));
}

}  // namespace condense

// Internal invariant: a failure here is a bug in condense, so it names file:line.
#define CONDENSE_ASSERT(cond, ...)                                         \
  do {                                                                     \
    if (!(cond))                                                           \
      ::condense::fail(__FILE__, ":", __LINE__,                            \
                       ": assertion `" #cond "` failed: ", ##__VA_ARGS__); \
  } while (0)
