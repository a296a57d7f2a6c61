#include "experiments/report_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "eval/csv.h"
#include "eval/pareto_plot.h"

namespace condense::exp {
namespace {

constexpr const char* kUnknown = "—";

std::string printf_text(const char* format, double v) {
  char s[64];
  std::snprintf(s, sizeof s, format, v);
  return s;
}

// Whole numbers without decimals, others with one.
std::string count_text(double v) {
  return v == std::round(v) ? printf_text("%.0f", v) : printf_text("%.1f", v);
}

// The cells of a record: Markdown (unknown as "—") or CSV (unknown empty, numbers raw).
struct Cells {
  std::vector<std::string> md, csv;
};

Cells cells(const ReportRun& run, const ResultRecord& r) {
  auto known = [](double v, const std::string& text) { return v != 0 ? text : kUnknown; };
  auto raw = [](double v) { return v != 0 ? printf_text("%.9g", v) : ""; };
  const bool ratio = r.memory_vectors > 0 && r.context_tokens > 0;
  const double compression = ratio ? r.context_tokens / r.memory_vectors : 0;
  Cells c;
  c.md = {
      run.name,
      run.method,
      r.condition,
      r.metric,
      printf_text("%.3f", r.value) + (r.std_error > 0 ? printf_text(" ± %.3f", r.std_error) : ""),
      known(static_cast<double>(r.n), std::to_string(r.n)),
      count_text(r.memory_vectors),
      eval::bytes_text(r.memory_bytes),
      known(compression, printf_text("%.1f×", compression)),
      known(r.flops_per_query, printf_text("%.3g", r.flops_per_query)),
      known(r.seconds_per_query, printf_text("%.3g", r.seconds_per_query)),
      known(static_cast<double>(r.train_tokens), std::to_string(r.train_tokens))};
  c.csv = {run.name,
           run.method,
           r.condition,
           r.metric,
           r.higher_is_better ? "1" : "0",
           printf_text("%.9g", r.value),
           raw(r.std_error),
           raw(static_cast<double>(r.n)),
           printf_text("%.9g", r.memory_vectors),
           printf_text("%.9g", r.memory_bytes),
           raw(r.context_tokens),
           raw(compression),
           raw(r.flops_per_query),
           raw(r.seconds_per_query),
           raw(static_cast<double>(r.train_tokens)),
           std::to_string(r.step),
           ""};
  return c;
}

// Why a run has no row for a task: the tasks its method scores.
std::string not_scored(const ReportRun& run) {
  if (run.method_tasks.empty())
    return "not scored: method " + run.method + " lists no task with its default options";
  std::string tasks;
  for (const std::string& t : run.method_tasks) tasks += (tasks.empty() ? "" : ", ") + t;
  return "not scored: method " + run.method + " has tasks " + tasks;
}

const std::vector<std::string> kMdHeader = {
    "run",          "method",      "condition",   "metric",  "value ± s.e.", "n", "memory vectors",
    "memory bytes", "compression", "FLOPs/query", "s/query", "train tokens"};
const std::vector<std::string> kCsvHeader = {"run",
                                             "method",
                                             "condition",
                                             "metric",
                                             "higher_is_better",
                                             "value",
                                             "std_error",
                                             "n",
                                             "memory_vectors",
                                             "memory_bytes",
                                             "context_tokens",
                                             "compression",
                                             "flops_per_query",
                                             "seconds_per_query",
                                             "train_tokens",
                                             "step",
                                             "note"};

std::string md_row(const std::vector<std::string>& cells) {
  std::string row = "|";
  for (const std::string& c : cells) row += " " + c + " |";
  return row + "\n";
}

TaskReport task_report(const std::string& task, const std::vector<ReportRun>& runs) {
  struct Row {
    const ReportRun* run;
    const ResultRecord* record;
  };
  std::vector<Row> rows;
  std::vector<const ReportRun*> missing;
  TaskReport t;
  t.task = task;
  std::set<std::string> metrics;
  for (const ReportRun& run : runs) {
    const size_t before = rows.size();
    for (const ResultRecord& r : run.records)
      if (r.task == task) {
        rows.push_back({&run, &r});
        metrics.insert(r.metric);
      }
    if (rows.size() == before)
      missing.push_back(&run);
    else
      ++t.scored_runs;
  }
  t.metrics.assign(metrics.begin(), metrics.end());
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    const ResultRecord &x = *a.record, &y = *b.record;
    if (x.metric != y.metric) return x.metric < y.metric;
    if (x.memory_bytes != y.memory_bytes) return x.memory_bytes < y.memory_bytes;
    if (x.memory_vectors != y.memory_vectors) return x.memory_vectors < y.memory_vectors;
    if (a.run->name != b.run->name) return a.run->name < b.run->name;
    return x.condition < y.condition;
  });

  std::string md = "## " + task +
                   "\n\nRows by metric, then memory: the key/value entries per layer (or "
                   "soft-prompt vectors) an answer reads of its context, and their bytes; "
                   "compression = context tokens / memory vectors; — = not known.\n\n";
  md += md_row(kMdHeader);
  md += "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  std::vector<std::vector<std::string>> csv_rows;
  std::map<std::string, eval::PlotPanel> panels;
  for (const Row& row : rows) {
    const Cells c = cells(*row.run, *row.record);
    md += md_row(c.md);
    csv_rows.push_back(c.csv);
    eval::PlotPanel& p = panels[row.record->metric];
    p.metric = row.record->metric;
    p.higher_is_better = row.record->higher_is_better;
    p.points.push_back({row.record->memory_bytes, row.record->value,
                        row.run->name + " (" + row.record->condition + ")"});
  }
  for (const ReportRun* run : missing) {
    std::vector<std::string> md_cells(kMdHeader.size(), "");
    md_cells[0] = run->name;
    md_cells[1] = run->method;
    md_cells[2] = not_scored(*run);
    md += md_row(md_cells);
    std::vector<std::string> csv_cells(kCsvHeader.size(), "");
    csv_cells[0] = run->name;
    csv_cells[1] = run->method;
    csv_cells.back() = not_scored(*run);
    csv_rows.push_back(csv_cells);
  }
  t.markdown = md;
  std::ostringstream csv;
  eval::write_csv(csv, kCsvHeader, csv_rows);
  t.csv = csv.str();
  std::vector<eval::PlotPanel> ordered;
  for (const std::string& m : t.metrics) ordered.push_back(panels[m]);
  t.svg = eval::pareto_svg(task + ": quality against memory", ordered);
  return t;
}

}  // namespace

std::vector<TaskReport> task_reports(const std::vector<ReportRun>& runs) {
  std::set<std::string> tasks;
  for (const ReportRun& run : runs)
    for (const ResultRecord& r : run.records) tasks.insert(r.task);
  std::vector<TaskReport> out;
  for (const std::string& task : tasks) out.push_back(task_report(task, runs));
  return out;
}

std::string report_index(const std::vector<ReportRun>& runs, const std::vector<TaskReport>& tasks) {
  std::string md =
      "# Results report\n\nWritten by `condense report` from the runs' results.jsonl "
      "(one table per task: TASK.md and TASK.csv; quality against memory with the Pareto "
      "front: TASK.svg).\n\n## Tasks\n\n| task | metrics | runs scored | files "
      "|\n|---|---|---:|---|\n";
  for (const TaskReport& t : tasks) {
    std::string metrics;
    for (const std::string& m : t.metrics) metrics += (metrics.empty() ? "" : ", ") + m;
    md += md_row({t.task, metrics,
                  std::to_string(t.scored_runs) + " of " + std::to_string(runs.size()),
                  "[" + t.task + ".md](" + t.task + ".md), [csv](" + t.task + ".csv), [svg](" +
                      t.task + ".svg)"});
  }
  md += "\n## Runs\n\n| run | method | base | step | directory |\n|---|---|---|---:|---|\n";
  for (const ReportRun& r : runs)
    md += md_row({r.name, r.method, r.base, std::to_string(r.step), r.dir});
  return md;
}

}  // namespace condense::exp
