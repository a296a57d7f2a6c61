#include "experiments/report_runs.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "experiments/methods/registry.h"
#include "experiments/run_base.h"
#include "experiments/run_dir.h"

namespace condense::exp {
namespace {

namespace fs = std::filesystem;

bool is_run_dir(const fs::path& p) {
  return fs::is_regular_file(p / "config.cfg");
}

// The run directories an argument names: itself, or its subdirectories that are runs
// (a sweep directory also holds data/ and its tables), by name.
std::vector<std::string> run_dirs_of(const std::string& arg) {
  if (is_run_dir(arg)) return {arg};
  std::vector<std::string> runs;
  if (fs::is_directory(arg))
    for (const auto& e : fs::directory_iterator(arg))
      if (e.is_directory() && is_run_dir(e.path())) runs.push_back(e.path().string());
  if (runs.empty())
    fail("report: ", arg,
         " is neither a run directory (with config.cfg) nor a directory of run directories");
  std::sort(runs.begin(), runs.end());
  return runs;
}

ReportRun load_run(const std::string& dir, const ReportSelection& sel) {
  ReportRun run;
  run.dir = dir;
  run.name = fs::path(dir).lexically_normal().filename().string();
  if (run.name.empty())
    run.name = fs::path(dir).lexically_normal().parent_path().filename().string();
  run.method = read_run_config(dir, "").method;
  if (run.method.empty()) run.method = methods::kDefaultMethod;
  run.method_tasks = methods::make(run.method)->tasks();
  run.base = read_base_id(dir);
  if (!fs::exists(results_path(dir)))
    fail("report: run ", dir,
         ": no results.jsonl (no evaluation wrote result records; score it "
         "with `condense eval`)");
  std::vector<ResultRecord> all = read_results(dir);
  std::set<int64_t> steps;
  for (const ResultRecord& r : all) steps.insert(r.step);
  run.step = sel.step >= 0 ? sel.step : *steps.rbegin();
  if (!steps.count(run.step)) {
    std::string have;
    for (int64_t s : steps) have += (have.empty() ? "" : ", ") + std::to_string(s);
    fail("report: run ", dir, ": no result at step ", run.step, " (it has steps ", have, ")");
  }
  for (ResultRecord& r : all) {
    // Task names name the report's files.
    if (r.task.empty() || r.task.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                                                   "VWXYZ0123456789_.-") != std::string::npos)
      fail("report: run ", dir, ": task name '", r.task, "' is not a file name ([A-Za-z0-9_.-])");
    if (r.step == run.step) run.records.push_back(std::move(r));
  }
  return run;
}

}  // namespace

std::vector<ReportRun> load_report_runs(const std::vector<std::string>& args,
                                        const ReportSelection& sel) {
  if (args.empty()) fail("report: no run directory given");
  std::vector<ReportRun> runs;
  std::map<std::string, std::string> dir_of_name;
  for (const std::string& arg : args)
    for (const std::string& dir : run_dirs_of(arg)) {
      runs.push_back(load_run(dir, sel));
      const auto [it, fresh] = dir_of_name.emplace(runs.back().name, dir);
      if (!fresh)
        fail("report: two runs are named ", it->first, " (", it->second, " and ", dir,
             "); the tables name runs by their directory");
    }
  if (!sel.allow_mixed_base)
    for (const ReportRun& r : runs)
      if (r.base != runs.front().base)
        fail("report: runs ", runs.front().name, " (base ", runs.front().base, ") and ", r.name,
             " (base ", r.base,
             ") start from different models; --allow-mixed-base tabulates "
             "them together");
  return runs;
}

}  // namespace condense::exp
