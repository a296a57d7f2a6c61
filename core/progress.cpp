#include "core/progress.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace condense {
namespace {

std::atomic<bool> g_quiet{false};

}  // namespace

std::string format_hms(double seconds) {
  const auto s = static_cast<long long>(seconds < 0 ? 0 : seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

Progress::Progress(std::string what, int64_t total, std::string unit,
                   std::function<Clock::time_point()> now,
                   std::function<void(const std::string&)> print)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      now_(std::move(now)),
      print_(std::move(print)) {
  start_ = last_ = now_();
  if (!print_) print_ = [](const std::string& l) { std::fprintf(stderr, "%s\n", l.c_str()); };
}

void Progress::advance(int64_t n) {
  done_ += n;
  if (g_quiet.load()) return;
  const Clock::time_point t = now_();
  if (std::chrono::duration<double>(t - last_).count() < interval_seconds()) return;
  last_ = t;
  print_(line());
}

std::string Progress::line() const {
  const double elapsed = std::chrono::duration<double>(last_ - start_).count();
  std::string s = what_ + ": " + std::to_string(done_);
  if (total_ > 0) {
    char pct[64];
    std::snprintf(pct, sizeof pct, "/%lld %s (%.0f%%)", static_cast<long long>(total_),
                  unit_.c_str(), 100.0 * static_cast<double>(done_) / static_cast<double>(total_));
    s += pct;
  } else {
    s += " " + unit_;
  }
  s += ", " + format_hms(elapsed) + " elapsed";
  if (total_ > 0 && done_ > 0 && done_ <= total_)
    s += ", eta " +
         format_hms(elapsed * static_cast<double>(total_ - done_) / static_cast<double>(done_));
  return s;
}

void Progress::set_quiet(bool quiet) {
  g_quiet.store(quiet);
}
bool Progress::quiet() {
  return g_quiet.load();
}

double Progress::interval_seconds() {
  static const double s = [] {
    const char* v = std::getenv("CONDENSE_PROGRESS_SECONDS");
    return v && *v ? std::atof(v) : 10.0;
  }();
  return s;
}

}  // namespace condense
