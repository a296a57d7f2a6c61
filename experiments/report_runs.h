// The runs `condense report` tabulates: each argument a run directory (it has
// config.cfg) or a directory of run directories (a sweep's), each run's method (from
// config.cfg), base (base.json, experiments/run_base.h) and result records
// (results.jsonl) at the step tabulated. Everything that would make a table wrong is a
// one-line error naming the run, found before anything is written.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/result_record.h"

namespace condense::exp {

struct ReportRun {
  std::string name;  // the directory's name: the table's run column
  std::string dir;
  std::string method;
  std::string base;                       // base id, "unknown" without base.json
  int64_t step = 0;                       // the step tabulated
  std::vector<ResultRecord> records;      // those of `step`
  std::vector<std::string> method_tasks;  // what the method scores (Method::tasks())
};

struct ReportSelection {
  bool allow_mixed_base = false;
  int64_t step = -1;  // -1: each run's newest scored step
};

std::vector<ReportRun> load_report_runs(const std::vector<std::string>& args,
                                        const ReportSelection& selection);

}  // namespace condense::exp
