// What the last_segment task leaves behind and what a sweep builds from it: one JSON
// summary per evaluation (run_dir/eval/last_segment-<step>.json), its metrics line and
// one-line summary, and the sweep's last_segment.{csv,md} over finished runs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/methods/autocompressor/last_segment.h"

namespace condense::autocompressor {

// What produced a score, as the summary records it.
struct EvaluatedRun {
  std::string method, mode;  // mode: compress | full_attention
  int64_t kappa = 0;         // 0 in full_attention mode
  bool accumulate = true;
  int64_t step = 0;
};

std::string summary_path(const std::string& run_dir, int64_t step);

struct LastSegmentReport {
  nlohmann::json summary;  // the JSON file's contents
  nlohmann::json metrics;  // a metrics.jsonl record
  std::string line;        // "last_segment: ppl none ...; 64: full ..., compressed ..."
};
LastSegmentReport report_last_segment(const LastSegmentScore& s, const LastSegmentOptions& o,
                                      const EvaluatedRun& run);

// Appends the results records of `s` to run_dir/results.jsonl: per context budget c,
// task last_segment_<c>, the perplexity of conditions none, full (c KV entries per
// layer) and, when `compressed`, compressed and control (σ vectors of D floats each).
// Time per query is not recorded: the conditions are scored together.
void append_last_segment_results(const LastSegmentScore& s, const std::string& run_dir,
                                 int64_t step, bool compressed, const LlamaConfig& model);

// Writes sweep_dir/last_segment.{csv,md} from each run's newest summary (a run without
// one is an error) and returns the Markdown table.
std::string last_segment_tables(const std::string& sweep_dir,
                                const std::vector<std::string>& run_dirs);

}  // namespace condense::autocompressor
