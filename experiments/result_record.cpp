#include "experiments/result_record.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"

namespace condense::exp {
namespace {

nlohmann::json to_json(const ResultRecord& r) {
  return {{"task", r.task},
          {"condition", r.condition},
          {"metric", r.metric},
          {"higher_is_better", r.higher_is_better},
          {"value", r.value},
          {"std_error", r.std_error},
          {"n", r.n},
          {"step", r.step},
          {"memory_vectors", r.memory_vectors},
          {"memory_bytes", r.memory_bytes},
          {"context_tokens", r.context_tokens},
          {"flops_per_query", r.flops_per_query},
          {"seconds_per_query", r.seconds_per_query},
          {"train_tokens", r.train_tokens}};
}

ResultRecord from_json(const nlohmann::json& j) {
  ResultRecord r;
  j.at("task").get_to(r.task);
  j.at("condition").get_to(r.condition);
  j.at("metric").get_to(r.metric);
  j.at("higher_is_better").get_to(r.higher_is_better);
  j.at("value").get_to(r.value);
  j.at("std_error").get_to(r.std_error);
  j.at("n").get_to(r.n);
  j.at("step").get_to(r.step);
  j.at("memory_vectors").get_to(r.memory_vectors);
  j.at("memory_bytes").get_to(r.memory_bytes);
  j.at("context_tokens").get_to(r.context_tokens);
  j.at("flops_per_query").get_to(r.flops_per_query);
  j.at("seconds_per_query").get_to(r.seconds_per_query);
  j.at("train_tokens").get_to(r.train_tokens);
  return r;
}

bool same_slot(const ResultRecord& a, const ResultRecord& b) {
  return a.task == b.task && a.condition == b.condition && a.metric == b.metric && a.step == b.step;
}

}  // namespace

std::string results_path(const std::string& run_dir) {
  return (std::filesystem::path(run_dir) / "results.jsonl").string();
}

ResultRecord record_at(const std::string& run_dir, int64_t step) {
  ResultRecord r;
  r.step = step;
  std::ifstream in(std::filesystem::path(run_dir) / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("step", int64_t{-1}) == step && j.contains("tokens"))
      r.train_tokens = j["tokens"].get<int64_t>();
  }
  return r;
}

void append_result(const std::string& run_dir, const ResultRecord& r) {
  std::vector<ResultRecord> all;
  if (std::filesystem::exists(results_path(run_dir))) all = read_results(run_dir);
  std::erase_if(all, [&](const ResultRecord& old) { return same_slot(old, r); });
  all.push_back(r);
  std::string text;
  for (const ResultRecord& x : all) text += to_json(x).dump() + "\n";
  write_file_atomically(results_path(run_dir), text);
}

std::vector<ResultRecord> read_results(const std::string& run_dir) {
  const std::string path = results_path(run_dir);
  std::ifstream in(path);
  if (!in) fail(path, ": missing (the run has no scored evaluation)");
  std::vector<ResultRecord> out;
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty()) continue;
    try {
      out.push_back(from_json(nlohmann::json::parse(line)));
    } catch (const nlohmann::json::exception& e) {
      fail(path, ":", line_no, ": not a result record (", e.what(), ")");
    }
  }
  if (out.empty()) fail(path, ": holds no result record");
  return out;
}

}  // namespace condense::exp
