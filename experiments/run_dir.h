// A run directory: config.cfg (the resolved options), metrics.jsonl (one JSON
// object per logged step), checkpoints/step_NNNNNNNN.h5, tokenizer.model.
#pragma once
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

// Formats seconds as H:MM:SS for progress lines.
std::string format_duration(double seconds);

}  // namespace condense::exp
