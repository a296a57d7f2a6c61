// Progress lines of long commands, one reporter for all: on stderr, at most one line per
// interval (10 s), "<what>: 40/100 <unit> (40%), 0:00:12 elapsed, eta 0:00:18".
// set_quiet(true) (the --quiet option of every command) silences all of them. Tests
// shorten the interval with the environment variable CONDENSE_PROGRESS_SECONDS.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace condense {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  // `now` replaces the clock (tests); `print` receives each line (default: stderr).
  Progress(std::string what, int64_t total, std::string unit,
           std::function<Clock::time_point()> now = Clock::now,
           std::function<void(const std::string&)> print = {});
  // `n` more done; prints a line when the interval has passed since the last one.
  void advance(int64_t n = 1);
  int64_t done() const { return done_; }

  static void set_quiet(bool quiet);
  static bool quiet();
  // The interval between lines, in seconds (10, or CONDENSE_PROGRESS_SECONDS).
  static double interval_seconds();

 private:
  std::string line() const;
  std::string what_, unit_;
  int64_t total_, done_ = 0;
  std::function<Clock::time_point()> now_;
  std::function<void(const std::string&)> print_;
  Clock::time_point start_, last_;
};

// Seconds as H:MM:SS.
std::string format_hms(double seconds);

}  // namespace condense
