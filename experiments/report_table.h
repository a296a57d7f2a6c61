// `condense report`'s tables: per task, every run's records as one Markdown table and
// CSV (rows sorted by metric, then by memory), a row for each run that has no record
// of the task saying why, and a plot of quality against memory bytes per metric with
// the Pareto front (eval/pareto_plot.h); and the index of tasks and runs.
#pragma once
#include <string>
#include <vector>

#include "experiments/report_runs.h"

namespace condense::exp {

struct TaskReport {
  std::string task;
  std::vector<std::string> metrics;  // in table order
  int scored_runs = 0;
  std::string markdown;  // "## task", a note on the columns, the table
  std::string csv;
  std::string svg;
};

// One report per task any run has, by task name.
std::vector<TaskReport> task_reports(const std::vector<ReportRun>& runs);

// README.md of the report directory: the tasks (with their files) and the runs.
std::string report_index(const std::vector<ReportRun>& runs, const std::vector<TaskReport>& tasks);

}  // namespace condense::exp
