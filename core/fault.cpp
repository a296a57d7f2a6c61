#include "core/fault.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "core/error.h"

namespace condense::fault {
namespace {

struct KillAt {
  std::string substring;
  int64_t n = 0;  // 0: off
};

KillAt parse_kill() {
  KillAt k;
  const char* v = std::getenv("CONDENSE_FAULT_KILL");
  if (!v || !*v) return k;
  const std::string s(v);
  const size_t colon = s.rfind(':');
  char* end = nullptr;
  const long long n =
      colon == std::string::npos ? 0 : std::strtoll(s.c_str() + colon + 1, &end, 10);
  if (colon == 0 || n < 1 || !end || *end)
    fail("CONDENSE_FAULT_KILL expects SUBSTR:N with N >= 1, got '", s, "'");
  k.substring = s.substr(0, colon);
  k.n = n;
  return k;
}

}  // namespace

void write_point(const std::string& path) {
  static const KillAt kill = parse_kill();
  if (kill.n == 0 || path.find(kill.substring) == std::string::npos) return;
  static std::mutex m;
  static int64_t seen = 0;
  std::lock_guard<std::mutex> lock(m);
  if (++seen != kill.n) return;
  std::fprintf(stderr, "fault: killing the process at write point %lld of %s\n",
               static_cast<long long>(seen), path.c_str());
  std::fflush(nullptr);
  std::raise(SIGKILL);
}

bool nan_at_step(int64_t step) {
  static const int64_t at = [] {
    const char* v = std::getenv("CONDENSE_FAULT_NAN_STEP");
    return v && *v ? std::strtoll(v, nullptr, 10) : int64_t{0};
  }();
  return at > 0 && step == at;
}

}  // namespace condense::fault
