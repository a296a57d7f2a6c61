// What the last_segment task leaves behind and what a sweep builds from it: one JSON
// summary per evaluation (run_dir/eval/last_segment-<step>.json), its metrics line and
// one-line summary, and the sweep's last_segment.{csv,md} over finished runs. The icl
// task's the same (run_dir/eval/icl-<step>.json), with its result records.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model.h"
#include "experiments/methods/autocompressor/icl.h"
#include "experiments/methods/autocompressor/last_segment.h"
#include "experiments/result_record.h"

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
// layer) and, when `compressed`, compressed and control (σ vectors, held as keys and
// values at every layer like any earlier token).
// Time per query is not recorded: the conditions are scored together.
void append_last_segment_results(const LastSegmentScore& s, const std::string& run_dir,
                                 int64_t step, bool compressed, const LlamaConfig& model);

std::string icl_summary_path(const std::string& run_dir, int64_t step);

struct IclReport {
  nlohmann::json summary, metrics;
  std::string line;  // "icl: sst2 compressed 0.512, plain ..., none ... (majority ...); ..."
  // Per task (icl_<task>) and condition: accuracy and accuracy_uncalibrated, the memory
  // the answer reads (σ vectors or demonstration tokens, as keys/values of every layer).
  std::vector<exp::ResultRecord> records;
};
IclReport report_icl(const std::vector<IclTaskScore>& tasks, const IclOptions& o,
                     const EvaluatedRun& run, const LlamaConfig& model);

// Writes sweep_dir/last_segment.{csv,md} from each run's newest summary (a run without
// one is an error) and returns the Markdown table.
std::string last_segment_tables(const std::string& sweep_dir,
                                const std::vector<std::string>& run_dirs);

}  // namespace condense::autocompressor
