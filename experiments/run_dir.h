// A run directory: config.cfg (the resolved options), metrics.jsonl (one JSON
// object per logged step), checkpoints/step_NNNNNNNN.h5, tokenizer.model.
#pragma once
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace condense::exp {

class RunDir {
 public:
  // Creates the directory. Without `resume`, a directory that already holds
  // checkpoints is an error (so a finished run is never overwritten by accident).
  RunDir(const std::string& path, bool resume);
  const std::string& path() const { return path_; }
  std::string checkpoint_path(int64_t step) const;
  // Newest checkpoint, "" if none.
  std::string latest_checkpoint() const;
  void write_config(const std::string& text) const;
  // Appends one line to metrics.jsonl.
  void log(const nlohmann::json& record) const;
  // On resume: drops metrics lines logged after `step` (they will be redone).
  void truncate_metrics_after(int64_t step) const;
  // Keeps the newest `keep` checkpoints (0 keeps all).
  void prune_checkpoints(int keep) const;

 private:
  std::string path_;
};

// The top-level `method` line and the [<method>] section of a run's config.cfg (none
// without one): the options a run was trained with, as defaults for eval and chat.
struct RunConfig {
  std::string method;
  std::string section;  // INI text of the method's own options
};
RunConfig read_run_config(const std::string& run_dir, const std::string& method);

// Where a run directory keeps its checkpoint of `step`.
std::string checkpoint_path(const std::string& run_dir, int64_t step);

// A training loop's progress reports: each covers the steps since the previous one
// and goes to stderr as one line (step, loss, lr, tok/s, ETA; not with --quiet) and to
// metrics.jsonl.
class ProgressLog {
 public:
  // `steps`: the run's length; `last`: the step this invocation stops at (for the ETA).
  ProgressLog(const RunDir& run, int64_t steps, int64_t last);
  // A step done that trained on `tokens` tokens.
  void add_step(int64_t tokens);
  // Reports the steps since the last report. With `flops_per_step` > 0 the record
  // also has the achieved GFLOP/s.
  void report(int64_t step, double loss, float lr, float grad_norm, int64_t tokens_seen,
              double flops_per_step = 0);

 private:
  using Clock = std::chrono::steady_clock;
  const RunDir& run_;
  int64_t steps_, last_;
  Clock::time_point start_, window_start_;
  int64_t window_steps_ = 0, window_tokens_ = 0;
};

}  // namespace condense::exp
