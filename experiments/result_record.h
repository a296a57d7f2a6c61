// One scored evaluation in the form every method writes, so that `condense report`
// tabulates runs of any method side by side without a parser per method. A run
// directory keeps them in results.jsonl, one JSON object per line.
//
// A method's evaluate() appends one record per (task, condition) it scores: the
// quality number and its standard error, and what the answer cost: the compressed
// state it read (vectors per layer and bytes), the context it stands for, FLOPs and
// wall time per answered query. A field a method cannot know stays 0 and the report
// prints "—" for it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace condense::exp {

struct ResultRecord {
  std::string task;       // what was scored, e.g. "synth_instruct", "last_segment", "passkey"
  std::string condition;  // how the context reached the answer: "compressed", "full", "none",
                          // "control", or a method's own name for it (e.g. "gist", "knn")
  std::string metric;     // "exact_match", "rouge_l", "ppl", "accuracy", ...
  bool higher_is_better = true;
  double value = 0;
  double std_error = 0;  // of `value` over the n scored items (0: not known)
  int64_t n = 0;         // items scored
  int64_t step = 0;      // the checkpoint scored
  // What the answer reads of the context, per query: vectors (KV entries per layer, or
  // soft-prompt vectors) and their bytes over all layers; the context's own tokens.
  double memory_vectors = 0;
  double memory_bytes = 0;
  double context_tokens = 0;
  double flops_per_query = 0;
  double seconds_per_query = 0;
  int64_t train_tokens = 0;  // tokens the run had trained on at `step`
};

std::string results_path(const std::string& run_dir);

// A record of run_dir's evaluation at `step`, with `train_tokens` from the run's
// metrics.jsonl (the "tokens" of its line for that step; 0 when none logged it).
ResultRecord record_at(const std::string& run_dir, int64_t step);

// Adds `r` to run_dir/results.jsonl, replacing an earlier record of the same task,
// condition, metric and step (re-scoring a run is idempotent). The file is rewritten
// under a temporary name and renamed, so a reader never sees half a line.
void append_result(const std::string& run_dir, const ResultRecord& r);

// The records of run_dir/results.jsonl. A missing file or a line that is not a whole
// record is a one-line error naming the file (and line).
std::vector<ResultRecord> read_results(const std::string& run_dir);

}  // namespace condense::exp
