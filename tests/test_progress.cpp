// The progress reporter (core/progress.h): a line at most once per interval, with the
// count, the percentage, the elapsed time and an ETA from the rate so far; silent when
// quiet.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/progress.h"

namespace condense {
namespace {

using Clock = Progress::Clock;

struct FakeClock {
  Clock::time_point t{};
  void tick(double seconds) {
    t += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }
};

TEST(Progress, OneLinePerIntervalWithCountElapsedAndEta) {
  ASSERT_EQ(Progress::interval_seconds(), 10.0) << "CONDENSE_PROGRESS_SECONDS is set";
  FakeClock clock;
  std::vector<std::string> lines;
  Progress p(
      "scoring", 100, "dialogues", [&] { return clock.t; },
      [&](const std::string& l) { lines.push_back(l); });
  for (int i = 0; i < 10; ++i) {
    clock.tick(0.5);
    p.advance();
  }
  EXPECT_TRUE(lines.empty()) << "a line before 10 s: " << lines[0];
  clock.tick(5.0);  // 10 s since the start
  p.advance(15);    // 25 of 100 in 10 s: 30 s to go
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "scoring: 25/100 dialogues (25%), 0:00:10 elapsed, eta 0:00:30");
  clock.tick(9.0);
  p.advance();
  EXPECT_EQ(lines.size(), 1u);
  clock.tick(1.0);
  p.advance(24);  // 50 in 20 s
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "scoring: 50/100 dialogues (50%), 0:00:20 elapsed, eta 0:00:20");
  EXPECT_EQ(p.done(), 50);
}

TEST(Progress, WithoutATotalItCountsAndQuietSilencesEveryReporter) {
  FakeClock clock;
  std::vector<std::string> lines;
  Progress p(
      "reading", 0, "records", [&] { return clock.t; },
      [&](const std::string& l) { lines.push_back(l); });
  clock.tick(3725);
  p.advance(7);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "reading: 7 records, 1:02:05 elapsed");
  Progress::set_quiet(true);
  clock.tick(60);
  p.advance();
  Progress::set_quiet(false);
  EXPECT_EQ(lines.size(), 1u);
  clock.tick(60);
  p.advance();
  EXPECT_EQ(lines.size(), 2u);
}

TEST(Progress, FormatsHoursMinutesSeconds) {
  EXPECT_EQ(format_hms(0), "0:00:00");
  EXPECT_EQ(format_hms(59.6), "0:01:00");
  EXPECT_EQ(format_hms(36000 + 61), "10:01:01");
  EXPECT_EQ(format_hms(-5), "0:00:00");
}

}  // namespace
}  // namespace condense
