#include "experiments/run_dir.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "experiments/model_dir.h"

namespace condense::exp {
namespace fs = std::filesystem;

RunDir::RunDir(const std::string& path, bool resume) : path_(path) {
  if (path.empty()) fail("run directory: --run.dir is empty");
  std::error_code ec;
  fs::create_directories(fs::path(path) / "checkpoints", ec);
  if (ec) fail("run directory ", path, ": cannot create (", ec.message(), ")");
  if (!resume && !latest_checkpoint().empty())
    fail("run directory ", path,
         " already has checkpoints; pass --resume to continue it or choose another --run.dir");
}

std::string checkpoint_path(const std::string& run_dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step_%08lld.h5", static_cast<long long>(step));
  return (fs::path(run_dir) / "checkpoints" / name).string();
}

std::string RunDir::checkpoint_path(int64_t step) const {
  return exp::checkpoint_path(path_, step);
}

std::string RunDir::latest_checkpoint() const {
  return exp::latest_checkpoint(path_);
}

void RunDir::write_config(const std::string& text) const {
  write_file_atomically(
      (fs::path(path_) / "config.cfg").string(),
      "# resolved configuration of this run (condense train --config this file)\n" + text);
}

void RunDir::log(const nlohmann::json& record) const {
  std::ofstream out(fs::path(path_) / "metrics.jsonl", std::ios::app);
  out << record.dump() << "\n";
  if (!out) fail(path_, "/metrics.jsonl: cannot append");
}

void RunDir::truncate_metrics_after(int64_t step) const {
  const fs::path p = fs::path(path_) / "metrics.jsonl";
  if (!fs::exists(p)) return;
  std::ifstream in(p);
  std::vector<std::string> keep;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("step", int64_t{0}) <= step) keep.push_back(line);
  }
  std::string text;
  for (const auto& l : keep) text.append(l).append("\n");
  write_file_atomically(p.string(), text);
}

void RunDir::prune_checkpoints(int keep) const {
  if (keep <= 0) return;
  std::vector<std::string> all;
  for (const auto& e : fs::directory_iterator(fs::path(path_) / "checkpoints"))
    if (e.path().extension() == ".h5") all.push_back(e.path().string());
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + keep < all.size(); ++i) fs::remove(all[i]);
}

RunConfig read_run_config(const std::string& run_dir, const std::string& method) {
  const std::string path = (std::filesystem::path(run_dir) / "config.cfg").string();
  RunConfig rc;
  std::ifstream in(path);
  if (!in) return rc;  // not a run directory: locating its checkpoint will say so
  std::string section;
  for (std::string line; std::getline(in, line);) {
    if (line.size() > 1 && line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
    } else if (section.empty() && line.rfind("method = ", 0) == 0) {
      rc.method = line.substr(9);
    } else if (section == method) {
      rc.section += line + "\n";
    }
  }
  if (!rc.section.empty()) rc.section = "[" + method + "]\n" + rc.section;
  return rc;
}

ProgressLog::ProgressLog(const RunDir& run, int64_t steps, int64_t last)
    : run_(run), steps_(steps), last_(last), start_(Clock::now()), window_start_(start_) {}

void ProgressLog::add_step(int64_t tokens) {
  ++window_steps_;
  window_tokens_ += tokens;
}

void ProgressLog::report(int64_t step, double loss, float lr, float grad_norm, int64_t tokens_seen,
                         double flops_per_step) {
  const auto now = Clock::now();
  const double dt = std::chrono::duration<double>(now - window_start_).count();
  const double tok_s = static_cast<double>(window_tokens_) / dt;
  const double eta = dt / static_cast<double>(window_steps_) * static_cast<double>(last_ - step);
  if (!Progress::quiet())
    std::cerr << "step " << step << "/" << steps_ << " loss " << std::fixed << std::setprecision(4)
              << loss << " lr " << std::scientific << std::setprecision(2) << lr
              << std::defaultfloat << " tok/s " << static_cast<int64_t>(tok_s) << " eta "
              << format_hms(eta) << "\n";
  nlohmann::json record = {{"step", step},
                           {"loss", loss},
                           {"lr", lr},
                           {"grad_norm", grad_norm},
                           {"tokens", tokens_seen},
                           {"tok_per_s", tok_s},
                           {"elapsed_s", std::chrono::duration<double>(now - start_).count()}};
  if (flops_per_step > 0)
    record["gflops"] = flops_per_step * static_cast<double>(window_steps_) / dt / 1e9;
  run_.log(record);
  window_start_ = now;
  window_steps_ = window_tokens_ = 0;
}

}  // namespace condense::exp
