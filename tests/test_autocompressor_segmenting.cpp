// AutoCompressor segmenting (experiments/methods/autocompressor/segmenting.h): over
// many seeds and shapes, randomized segment lengths always sum to the input, respect
// the position limit and the min_len rule, and vary; windows cut into substeps keep
// every token once; a batch's positions carry the plan back exactly.
#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <set>

#include "experiments/methods/autocompressor/segmenting.h"
#include "experiments/methods/autocompressor/training.h"
#include "tests/model_test_util.h"

namespace condense::autocompressor {
namespace {

using testing::error_of;

int64_t sum(const std::vector<int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), int64_t{0});
}

TEST(AutoCompressorSegmenting, RandomLengthsSumToTheInputAndRespectThePositionLimit) {
  std::mt19937_64 shapes(11);
  int draws = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int64_t segments = 1 + static_cast<int64_t>(shapes() % 6);
    const int64_t max_segment = 2 + static_cast<int64_t>(shapes() % 300);
    // Any length the rule can cut: up to segments * max_segment, at least 2 per segment
    // plus the breakpoints' room.
    const int64_t lo = segments == 1 ? 1 : 3 * segments - 1;
    const int64_t hi = segments * max_segment;
    if (lo > hi) continue;
    const int64_t length = lo + static_cast<int64_t>(shapes() % static_cast<uint64_t>(hi - lo + 1));
    const int64_t min_len =
        segments == 1
            ? length
            : std::max<int64_t>(
                  (std::max<int64_t>(length - max_segment, 0) + segments - 2) / (segments - 1), 2);
    if (segments > 1 && length - min_len * segments < segments - 1) {
      // No cut exists: the rule says so, whatever the seed.
      EXPECT_NE(error_of([&] {
                  random_segment_lengths(length, segments, max_segment, 1, "t");
                }).find("cannot be cut"),
                std::string::npos);
      continue;
    }
    std::set<std::vector<int64_t>> seen;
    for (uint64_t seed = 0; seed < 25; ++seed, ++draws) {
      const std::vector<int64_t> l =
          random_segment_lengths(length, segments, max_segment, seed, "t");
      ASSERT_EQ(static_cast<int64_t>(l.size()), segments);
      ASSERT_EQ(sum(l), length) << "length " << length << " seed " << seed;
      for (int64_t x : l) {
        ASSERT_LE(x, max_segment) << "length " << length << " segments " << segments;
        ASSERT_GE(x, min_len);
      }
      seen.insert(l);
    }
    // Random, not fixed: room for more than one set of breakpoints gives different cuts.
    if (segments > 1 && length - min_len * segments > segments) {
      EXPECT_GT(seen.size(), 1u);
    }
  }
  EXPECT_GT(draws, 5000);
}

TEST(AutoCompressorSegmenting, TheFirstAndLastSegmentsTakeEveryLengthInTheirRange) {
  // Length 20 into 2 segments of at most 15: min_len 5, lengths 5..15 (uniform breakpoint).
  std::set<int64_t> first;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    const std::vector<int64_t> l = random_segment_lengths(20, 2, 15, seed, "t");
    first.insert(l[0]);
    EXPECT_EQ(l[0] + l[1], 20);
  }
  EXPECT_EQ(first.size(), 10u);  // min_len + breakpoint, breakpoint in [0, 10)
  EXPECT_EQ(*first.begin(), 5);
  EXPECT_EQ(*first.rbegin(), 14);
}

TEST(AutoCompressorSegmenting, WindowPlansCoverTheWindowAndTravelInPositions) {
  Segmenting s;
  s.substeps = 3;
  s.segments = 2;
  s.max_segment = 40;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const WindowPlan p = plan_window(101, s, seed, "t");
    EXPECT_EQ(p.begin, 0);
    ASSERT_EQ(p.substeps.size(), 3u);
    const std::vector<int64_t> bounds = slice_bounds(101, 3);
    int64_t total = 0;
    std::vector<int64_t> flat;
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(sum(p.substeps[i]), bounds[i + 1] - bounds[i]);
      total += sum(p.substeps[i]);
      flat.insert(flat.end(), p.substeps[i].begin(), p.substeps[i].end());
    }
    EXPECT_EQ(total, 101);
    const std::vector<int32_t> pos = segment_positions(p);
    EXPECT_EQ(segments_of(pos), flat);
    EXPECT_EQ(group_substeps(segments_of(pos), 3), p.substeps);
  }
  // The same seed, the same plan; another seed, (almost always) another.
  EXPECT_EQ(plan_window(101, s, 4, "t").substeps, plan_window(101, s, 4, "t").substeps);
  EXPECT_NE(plan_window(101, s, 4, "t").substeps, plan_window(101, s, 5, "t").substeps);
}

TEST(AutoCompressorSegmenting, FixedSegmentsKeepTheWindowsEnd) {
  Segmenting s;
  s.substeps = 2;
  s.fixed = {3, 4};
  s.max_segment = 10;
  const WindowPlan p = plan_window(20, s, 0, "t");
  EXPECT_EQ(p.begin, 6);
  EXPECT_EQ(p.substeps, (std::vector<std::vector<int64_t>>{{3, 4}, {3, 4}}));
  // As a batch: the first 6 tokens go, targets stop at each substep's end.
  data::TokenBatch b;
  b.rows = 1;
  b.T = 20;
  for (int32_t t = 0; t < 20; ++t) {
    b.inputs.push_back(t);
    b.targets.push_back(t + 1);
  }
  apply_plan(b, p);
  EXPECT_EQ(b.T, 14);
  EXPECT_EQ(b.inputs.front(), 6);
  EXPECT_EQ(b.positions, (std::vector<int32_t>{0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3}));
  EXPECT_EQ(b.targets,
            (std::vector<int32_t>{7, 8, 9, 10, 11, 12, -100, 14, 15, 16, 17, 18, 19, -100}));
}

// The error `plan_window` throws mentions `needle` on one line.
void expect_plan_error(int64_t window, const Segmenting& s, const std::string& needle) {
  const std::string e = error_of([&] { plan_window(window, s, 0, "rmt"); });
  EXPECT_NE(e.find(needle), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(AutoCompressorSegmenting, ImpossibleSegmentingsAreOneLineErrors) {
  Segmenting s;
  s.max_segment = 100;
  s.fixed = {4, 0};
  expect_plan_error(50, s, "at least 1 token");
  s.fixed = {30, 30};
  expect_plan_error(50, s, "longer than --train.seq_len");
  s.fixed = {200};
  expect_plan_error(500, s, "positions allow");
  s.fixed.clear();
  s.substeps = 2;
  s.segments = 4;
  expect_plan_error(12, s, "cannot be cut");
  s.segments = 1;
  expect_plan_error(300, s, "longer than the 100");
  s.substeps = 0;
  expect_plan_error(300, s, "substeps must be at least 1");
}

}  // namespace
}  // namespace condense::autocompressor
