#include "experiments/methods/autocompressor/report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <utility>

#include "core/atomic_file.h"
#include "core/error.h"
#include "eval/kv_prefix.h"
#include "experiments/result_record.h"

namespace condense::autocompressor {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPrefix = "last_segment-";

// The newest last_segment-<step>.json of a run: (step, path), or (-1, "").
std::pair<int64_t, std::string> newest_summary(const std::string& run_dir) {
  std::pair<int64_t, std::string> newest{-1, ""};
  if (!fs::exists(run_dir + "/eval")) return newest;
  const std::string prefix = kPrefix;
  for (const auto& e : fs::directory_iterator(run_dir + "/eval")) {
    const std::string f = e.path().filename().string();
    if (f.rfind(prefix, 0) != 0 || e.path().extension() != ".json") continue;
    const int64_t at = std::stoll(f.substr(prefix.size(), f.size() - prefix.size() - 5));
    if (at > newest.first) newest = {at, e.path().string()};
  }
  return newest;
}

}  // namespace

std::string summary_path(const std::string& run_dir, int64_t step) {
  return run_dir + "/eval/" + kPrefix + std::to_string(step) + ".json";
}

LastSegmentReport report_last_segment(const LastSegmentScore& s, const LastSegmentOptions& o,
                                      const EvaluatedRun& run) {
  const bool compressed = run.mode == "compress";
  LastSegmentReport r;
  nlohmann::json contexts = nlohmann::json::array();
  r.metrics = {{"step", run.step}, {"last_segment_ppl_none", std::exp(s.nll_none)}};
  char text[160];
  std::snprintf(text, sizeof text, "last_segment: ppl none %.3f", std::exp(s.nll_none));
  r.line = text;
  for (const ContextScore& c : s.contexts) {
    nlohmann::json j = {
        {"context", c.context}, {"nll_full", c.nll_full}, {"ppl_full", std::exp(c.nll_full)}};
    const std::string budget = std::to_string(c.context);
    r.metrics["last_segment_ppl_full_" + budget] = std::exp(c.nll_full);
    if (compressed) {
      j["nll_compressed"] = c.nll_compressed;
      j["ppl_compressed"] = std::exp(c.nll_compressed);
      j["softprompt_vectors"] = c.softprompt;
      if (s.other_predictions > 0) {
        j["nll_other_context"] = c.nll_other;
        j["ppl_other_context"] = std::exp(c.nll_other);
        j["other_context_predictions"] = s.other_predictions;
      }
      r.metrics["last_segment_ppl_" + budget] = std::exp(c.nll_compressed);
      std::snprintf(text, sizeof text, "; %s: full %.3f, compressed %.3f", budget.c_str(),
                    std::exp(c.nll_full), std::exp(c.nll_compressed));
    } else {
      std::snprintf(text, sizeof text, "; %s: full %.3f", budget.c_str(), std::exp(c.nll_full));
    }
    r.line += text;
    contexts.push_back(j);
  }
  r.summary = {{"step", run.step},
               {"method", run.method},
               {"mode", run.mode},
               {"kappa", run.kappa},
               {"accumulate", run.accumulate},
               {"target", o.target},
               {"segment", o.segment},
               {"windows", s.windows},
               {"predictions", s.predictions},
               {"nll_none", s.nll_none},
               {"ppl_none", std::exp(s.nll_none)},
               {"contexts", contexts}};
  return r;
}

void append_last_segment_results(const LastSegmentScore& s, const std::string& run_dir,
                                 int64_t step, bool compressed, const LlamaConfig& model) {
  const double kv_bytes = static_cast<double>(eval::kv_bytes_per_token(model));
  for (const ContextScore& c : s.contexts) {
    exp::ResultRecord r = exp::record_at(run_dir, step);
    r.task = "last_segment_" + std::to_string(c.context);
    r.metric = "ppl";
    r.higher_is_better = false;
    r.n = s.windows;
    r.context_tokens = static_cast<double>(c.context);
    auto add = [&](const char* condition, double nll, double vectors, double bytes_per_vector) {
      r.condition = condition;
      r.value = std::exp(nll);
      r.memory_vectors = vectors;
      r.memory_bytes = vectors * bytes_per_vector;
      exp::append_result(run_dir, r);
    };
    const auto sigma = static_cast<double>(c.softprompt);
    add("none", s.nll_none, 0, 0);
    add("full", c.nll_full, static_cast<double>(c.context), kv_bytes);
    if (!compressed) continue;
    // The target reads σ as it reads any earlier token: its keys and values at every layer.
    add("compressed", c.nll_compressed, sigma, kv_bytes);
    if (s.other_predictions > 0) add("control", c.nll_other, sigma, kv_bytes);
  }
}

std::string icl_summary_path(const std::string& run_dir, int64_t step) {
  return run_dir + "/eval/icl-" + std::to_string(step) + ".json";
}

IclReport report_icl(const std::vector<IclTaskScore>& tasks, const IclOptions& o,
                     const EvaluatedRun& run, const LlamaConfig& model) {
  IclReport r;
  r.metrics = {{"step", run.step}};
  r.line = "icl:";
  const double kv_bytes = static_cast<double>(eval::kv_bytes_per_token(model));
  nlohmann::json scored = nlohmann::json::array();
  char text[160];
  for (const IclTaskScore& t : tasks) {
    const auto n = static_cast<double>(t.queries.size());
    const double majority = static_cast<double>(t.majority) / n;
    nlohmann::json conditions = nlohmann::json::array();
    r.line += (r.line == "icl:" ? " " : "; ") + t.task;
    for (const IclConditionScore& c : t.conditions) {
      const double context = c.condition == "none" ? 0.0 : static_cast<double>(t.demo_tokens);
      conditions.push_back({{"condition", c.condition},
                            {"accuracy", t.accuracy(c)},
                            {"std_error", t.std_error(c)},
                            {"accuracy_uncalibrated", t.accuracy_uncalibrated(c)},
                            {"predicted", c.predicted},
                            {"calibration_nll", c.calibration},
                            {"memory_vectors", c.memory_vectors},
                            {"context_tokens", context},
                            {"seconds_per_query", c.seconds / n}});
      r.metrics["icl_" + t.task + "_" + c.condition] = t.accuracy(c);
      std::snprintf(text, sizeof text, " %s %.3f", c.condition.c_str(), t.accuracy(c));
      r.line += text;
      for (const bool calibrated : {true, false}) {
        exp::ResultRecord rec;
        rec.task = "icl_" + t.task;
        rec.condition = c.condition;
        rec.metric = calibrated ? "accuracy" : "accuracy_uncalibrated";
        rec.value = calibrated ? t.accuracy(c) : t.accuracy_uncalibrated(c);
        const double p = rec.value;
        rec.std_error = std::sqrt(p * (1 - p) / n);
        rec.n = static_cast<int64_t>(t.queries.size());
        rec.step = run.step;
        rec.memory_vectors = static_cast<double>(c.memory_vectors);
        rec.memory_bytes = rec.memory_vectors * kv_bytes;
        rec.context_tokens = context;
        rec.seconds_per_query = c.seconds / n;
        r.records.push_back(rec);
      }
    }
    std::snprintf(text, sizeof text, " (majority %.3f, n %zu)", majority, t.queries.size());
    r.line += text;
    scored.push_back({{"task", t.task},
                      {"k", t.demos.size()},
                      {"options", t.options},
                      {"gold", t.gold},
                      {"demonstrations", t.demos},
                      {"segment_tokens", t.segment_tokens},
                      {"demo_tokens", t.demo_tokens},
                      {"queries", t.queries.size()},
                      {"skipped", t.skipped},
                      {"majority", majority},
                      {"conditions", conditions}});
  }
  r.summary = {{"step", run.step},
               {"method", run.method},
               {"mode", run.mode},
               {"kappa", run.kappa},
               {"accumulate", run.accumulate},
               {"queries_asked", o.queries},
               {"segment", o.segment},
               {"seed", o.seed},
               {"tasks", scored}};
  return r;
}

std::string last_segment_tables(const std::string& sweep_dir,
                                const std::vector<std::string>& run_dirs) {
  std::string csv =
      "run,step,method,mode,kappa,accumulate,context,target,ppl_none,ppl_full,ppl_compressed,"
      "softprompt_vectors\n";
  std::string md =
      "| run | step | mode | κ | accumulate | context | no context | full attention | "
      "compressed | σ vectors |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string& dir : run_dirs) {
    const auto [step, path] = newest_summary(dir);
    if (path.empty()) fail("sweep: run ", dir, " left no last_segment evaluation");
    std::ifstream in(path);
    const nlohmann::json j = nlohmann::json::parse(in);
    const std::string run = fs::path(dir).filename().string();
    const std::string mode = j["mode"].get<std::string>();
    const bool compressed = mode == "compress";
    const auto kappa = static_cast<long long>(j["kappa"].get<int64_t>());
    const bool accumulate = j["accumulate"].get<bool>();
    for (const nlohmann::json& c : j["contexts"]) {
      const auto context = static_cast<long long>(c["context"].get<int64_t>());
      const double none = j["ppl_none"].get<double>(), full = c["ppl_full"].get<double>();
      const double ppl = compressed ? c["ppl_compressed"].get<double>() : 0.0;
      const auto vectors =
          static_cast<long long>(compressed ? c["softprompt_vectors"].get<int64_t>() : 0);
      char row[512];
      std::snprintf(row, sizeof row, "%s,%lld,%s,%s,%lld,%d,%lld,%lld,%.4f,%.4f,%.4f,%lld\n",
                    run.c_str(), static_cast<long long>(step),
                    j["method"].get<std::string>().c_str(), mode.c_str(), kappa, accumulate ? 1 : 0,
                    context, static_cast<long long>(j["target"].get<int64_t>()), none, full, ppl,
                    vectors);
      csv += row;
      char compressed_cells[64] = "– | –";
      if (compressed)
        std::snprintf(compressed_cells, sizeof compressed_cells, "%.3f | %lld", ppl, vectors);
      std::snprintf(row, sizeof row, "| %s | %lld | %s | %lld | %s | %lld | %.3f | %.3f | %s |\n",
                    run.c_str(), static_cast<long long>(step), mode.c_str(), kappa,
                    accumulate ? "yes" : "no", context, none, full, compressed_cells);
      md += row;
    }
  }
  write_file_atomically(sweep_dir + "/last_segment.csv", csv);
  write_file_atomically(sweep_dir + "/last_segment.md",
                        "Last-segment perplexity on data.valid: the target segment's tokens after "
                        "the first, given the context before it compressed into σ, in full "
                        "(plain attention) or not at all.\n\n" +
                            md);
  return md;
}

}  // namespace condense::autocompressor
