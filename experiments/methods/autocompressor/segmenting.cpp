#include "experiments/methods/autocompressor/segmenting.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <set>

#include "core/error.h"
#include "datasets/uniform.h"

namespace condense::autocompressor {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// k distinct values of [0, n), uniformly (Floyd's algorithm), ascending.
std::vector<int64_t> distinct_sorted(int64_t k, int64_t n, std::mt19937_64& rng) {
  std::set<int64_t> picked;
  for (int64_t j = n - k; j < n; ++j) {
    const auto t = static_cast<int64_t>(data::uniform_below(rng, static_cast<uint64_t>(j) + 1));
    picked.insert(picked.count(t) ? j : t);
  }
  return {picked.begin(), picked.end()};
}

int64_t ceil_div(int64_t a, int64_t b) {
  return a <= 0 ? 0 : (a + b - 1) / b;
}

}  // namespace

std::vector<int64_t> slice_bounds(int64_t length, int64_t n) {
  std::vector<int64_t> b;
  for (int64_t i = 0; i <= n; ++i) b.push_back(i * length / n);
  return b;
}

std::vector<int64_t> random_segment_lengths(int64_t length, int64_t segments, int64_t max_segment,
                                            uint64_t seed, const std::string& who) {
  if (segments < 1) fail(who, ": segments per substep must be at least 1, got ", segments);
  if (segments == 1) {
    if (length > max_segment)
      fail(who, ": a substep of ", length, " tokens is longer than the ", max_segment,
           " tokens a segment may have; use more segments or a shorter --train.seq_len");
    return {length};
  }
  const int64_t min_len = std::max<int64_t>(ceil_div(length - max_segment, segments - 1), 2);
  const int64_t variable = length - min_len * segments;
  if (variable < segments - 1)
    fail(who, ": a substep of ", length, " tokens cannot be cut into ", segments,
         " segments of 2 to ", max_segment, " tokens (--train.seq_len, substeps, segments)");
  std::mt19937_64 rng(seed);
  const std::vector<int64_t> cuts = distinct_sorted(segments - 1, variable, rng);
  std::vector<int64_t> out;
  int64_t previous = 0;
  for (int64_t c : cuts) {
    out.push_back(min_len + c - previous);
    previous = c;
  }
  out.push_back(min_len + variable - previous);
  return out;
}

WindowPlan plan_window(int64_t window, const Segmenting& s, uint64_t seed, const std::string& who) {
  if (s.substeps < 1) fail(who, ": substeps must be at least 1, got ", s.substeps);
  WindowPlan plan;
  if (!s.fixed.empty()) {
    for (int64_t len : s.fixed) {
      if (len < 1) fail(who, ": every segment length must be at least 1 token, got ", len);
      if (len > s.max_segment)
        fail(who, ": a segment of ", len, " tokens is longer than the ", s.max_segment,
             " tokens the model's positions allow with its soft prompt");
    }
    const int64_t used = std::accumulate(s.fixed.begin(), s.fixed.end(), int64_t{0}) * s.substeps;
    if (used > window)
      fail(who, ": ", s.substeps, " substeps of segments summing to ", used / s.substeps,
           " tokens need windows of ", used, " tokens, longer than --train.seq_len ", window);
    plan.begin = window - used;
    plan.substeps.assign(static_cast<size_t>(s.substeps), s.fixed);
    return plan;
  }
  const std::vector<int64_t> b = slice_bounds(window, s.substeps);
  for (int64_t i = 0; i < s.substeps; ++i)
    plan.substeps.push_back(random_segment_lengths(b[i + 1] - b[i], s.segments, s.max_segment,
                                                   splitmix64(seed ^ splitmix64(i)), who));
  return plan;
}

std::vector<int32_t> segment_positions(const WindowPlan& plan) {
  std::vector<int32_t> pos;
  for (const std::vector<int64_t>& substep : plan.substeps)
    for (int64_t len : substep)
      for (int64_t t = 0; t < len; ++t) pos.push_back(static_cast<int32_t>(t));
  return pos;
}

std::vector<int64_t> segments_of(const std::vector<int32_t>& positions) {
  std::vector<int64_t> out;
  for (size_t t = 0; t < positions.size(); ++t) {
    if (positions[t] == 0) {
      out.push_back(1);
    } else {
      CONDENSE_ASSERT(!out.empty() && positions[t] == positions[t - 1] + 1,
                      "segment positions must restart at 0 and count up, got ", positions[t],
                      " at ", t);
      ++out.back();
    }
  }
  return out;
}

std::vector<std::vector<int64_t>> group_substeps(const std::vector<int64_t>& segments,
                                                 int64_t substeps) {
  const int64_t total = std::accumulate(segments.begin(), segments.end(), int64_t{0});
  const std::vector<int64_t> b = slice_bounds(total, substeps);
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(substeps));
  int64_t at = 0;
  size_t slice = 0;
  for (int64_t len : segments) {
    while (at >= b[slice + 1]) ++slice;
    CONDENSE_ASSERT(at + len <= b[slice + 1], "a segment [", at, ", ", at + len,
                    ") crosses the substep boundary at ", b[slice + 1]);
    out[slice].push_back(len);
    at += len;
  }
  return out;
}

uint64_t batch_seed(uint64_t seed, int64_t index) {
  return splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(index));
}

}  // namespace condense::autocompressor
