// How an AutoCompressor (or RMT) cuts a training window into substeps and segments,
// as pure functions. A window of N tokens is cut into `substeps` slices at
// floor(i * N / substeps); the gradient stops between slices (a detach), and flows
// through the summary vectors between the segments of one slice. A slice is cut into
// `segments` segments:
// - randomized (AutoCompressor): every segment has min_len tokens plus a random part,
//   min_len = max(ceil((L - max_segment) / (S - 1)), 2) for a slice of L tokens, and
//   the remaining L - S * min_len tokens are cut at S - 1 distinct breakpoints drawn
//   uniformly, so no segment is longer than max_segment (the positions the model
//   allows) and none shorter than 2;
// - fixed (RMT): the same lengths in every slice; the window keeps only its last
//   substeps * sum(lengths) tokens.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace condense::autocompressor {

struct Segmenting {
  int64_t substeps = 2;
  int64_t segments = 2;          // per substep, when randomized
  std::vector<int64_t> fixed{};  // segment lengths of every substep; empty: randomized
  int64_t max_segment = 0;       // the most tokens one segment may have
};

// The segments of one window: it uses tokens [begin, N).
struct WindowPlan {
  int64_t begin = 0;
  std::vector<std::vector<int64_t>> substeps{};  // segment lengths of each substep
};

// 0 = b_0 < b_1 < ... < b_n = length with b_i = floor(i * length / n).
std::vector<int64_t> slice_bounds(int64_t length, int64_t n);

// `segments` lengths that sum to `length`, each in [min_len, max_segment] (the rule
// above), from a generator seeded with `seed`. One segment: {length}. Throws (naming
// `who`) when no such cut exists.
std::vector<int64_t> random_segment_lengths(int64_t length, int64_t segments, int64_t max_segment,
                                            uint64_t seed, const std::string& who);

// The plan of a window of `window` tokens; `seed` picks the random cuts (substep i
// draws from a generator derived from (seed, i)). Throws (naming `who`) on a
// segmenting no window of this length allows: every error is one of the options,
// never of the seed, so checking one plan checks them all.
WindowPlan plan_window(int64_t window, const Segmenting& s, uint64_t seed, const std::string& who);

// Position of every used token inside its segment (restarting at 0 each segment): how
// a batch carries its plan (data::TokenBatch::positions).
std::vector<int32_t> segment_positions(const WindowPlan& plan);
// The segment lengths that positions restarting at 0 describe.
std::vector<int64_t> segments_of(const std::vector<int32_t>& positions);
// Segment lengths grouped into `substeps` slices of slice_bounds(sum, substeps);
// throws when a slice boundary falls inside a segment.
std::vector<std::vector<int64_t>> group_substeps(const std::vector<int64_t>& segments,
                                                 int64_t substeps);

// A seed for batch `index` of a run seeded with `seed` (SplitMix64 of both), so every
// data-parallel rank and a resumed run draw the same cuts.
uint64_t batch_seed(uint64_t seed, int64_t index);

}  // namespace condense::autocompressor
