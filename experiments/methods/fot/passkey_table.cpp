#include "experiments/methods/fot/passkey_table.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"

namespace condense::fot {
namespace {

namespace fs = std::filesystem;

// The passkey evaluations (passkey-<step>.json, passkey_knn<k>-<step>.json) of the
// largest step in run_dir/eval, in name order; none: empty.
std::vector<std::string> newest_passkey(const std::string& run_dir) {
  int64_t best = -1;
  std::vector<std::string> paths;
  if (!fs::exists(run_dir + "/eval")) return paths;
  for (const auto& e : fs::directory_iterator(run_dir + "/eval")) {
    const std::string f = e.path().filename().string();
    if (f.rfind("passkey", 0) != 0 || e.path().extension() != ".json") continue;
    const size_t dash = f.rfind('-');
    const int64_t step = std::stoll(f.substr(dash + 1, f.size() - dash - 6));
    if (step > best) best = step, paths.clear();
    if (step == best) paths.push_back(e.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string join_layers(const nlohmann::json& layers) {
  std::string s;
  for (const auto& l : layers) {
    if (!s.empty()) s += ' ';
    s += std::to_string(l.get<int64_t>());
  }
  return s.empty() ? "none" : s;
}

}  // namespace

std::string passkey_tables(const std::string& sweep_dir, const std::vector<std::string>& run_dirs) {
  std::string csv =
      "run,step,memory_layers,range,memory_attention,knn_k,multiple,length,correct,"
      "prompts,accuracy\n";
  std::string md, header;
  for (const std::string& dir : run_dirs) {
    const std::vector<std::string> paths = newest_passkey(dir);
    if (paths.empty()) fail("sweep: run ", dir, " left no passkey evaluation");
    for (const std::string& path : paths) {
      std::ifstream in(path);
      const nlohmann::json j = nlohmann::json::parse(in);
      const std::string run = fs::path(dir).filename().string(),
                        layers = join_layers(j["memory_layers"]);
      const std::string attention = j["memory_attention"].get<std::string>();
      const auto step = static_cast<long long>(j["step"].get<int64_t>());
      const auto range = static_cast<long long>(j.value("train_range", int64_t{0}));
      const auto k = static_cast<long long>(attention == "knn" ? j["knn_k"].get<int64_t>() : 0);
      std::string head = "| run | step | memory layers | d | attention |", cells;
      char row[512];
      for (const nlohmann::json& l : j["lengths"]) {
        const auto m = static_cast<long long>(l["multiple_of_context"].get<int64_t>());
        std::snprintf(row, sizeof row, "%s,%lld,%s,%lld,%s,%lld,%lld,%lld,%lld,%lld,%.4f\n",
                      run.c_str(), step, layers.c_str(), range, attention.c_str(), k, m,
                      static_cast<long long>(l["length"].get<int64_t>()),
                      static_cast<long long>(l["correct"].get<int64_t>()),
                      static_cast<long long>(l["prompts"].get<int64_t>()),
                      l["accuracy"].get<double>());
        csv += row;
        head.append(" ").append(std::to_string(m)).append("× C |");
        std::snprintf(row, sizeof row, " %.2f |", l["accuracy"].get<double>());
        cells += row;
      }
      if (header.empty()) header = head;
      if (head != header) fail("sweep: run ", dir, " was scored at other passkey lengths");
      std::snprintf(row, sizeof row, "| %s | %lld | %s | %lld | %s |", run.c_str(), step,
                    layers.c_str(), range,
                    attention == "knn" ? ("knn k " + std::to_string(k)).c_str() : "dense");
      md += row + cells + "\n";
    }
  }
  std::string sep = "|";
  for (char c : header)
    if (c == '|') sep += "---|";
  sep.resize(sep.size() - 4);  // the header has one "|" more than it has columns
  md = header + "\n" + sep + "\n" + md;
  write_file_atomically(sweep_dir + "/passkey.csv", csv);
  write_file_atomically(sweep_dir + "/passkey.md",
                        "Passkey accuracy (METHODS.md §4.4) per prompt length in multiples of the "
                        "local context C, through the memory cache.\n\n" +
                            md);
  return md;
}

}  // namespace condense::fot
