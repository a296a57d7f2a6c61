// `condense report RUN_OR_SWEEP_DIR... --out DIR [--allow-mixed-base] [--step N]`:
// the comparison table of runs of any methods, from their result records
// (experiments/result_record.h). DIR gets per task TASK.md, TASK.csv and TASK.svg, and
// README.md (the tasks, the runs and their bases); the tables go to stdout too. Bad
// input is found before anything is written, and every file is written aside and
// renamed.
#include <filesystem>
#include <iostream>

#include "core/atomic_file.h"
#include "experiments/cli.h"
#include "experiments/report_runs.h"
#include "experiments/report_table.h"

namespace condense::cmd {

int report(const cli::Args& args) {
  namespace po = cli::po;
  std::vector<std::string> dirs;
  std::string out;
  exp::ReportSelection sel;
  po::options_description desc("report options");
  desc.add_options()("runs", po::value(&dirs)->multitoken(),
                     "run directories, or directories of run directories (also as plain words)")(
      "out", po::value(&out)->required(), "directory of the report")(
      "allow-mixed-base", po::bool_switch(&sel.allow_mixed_base),
      "tabulate runs that start from different models (base.json)")(
      "step", po::value(&sel.step)->default_value(-1),
      "the step to tabulate (-1: each run's newest)");
  po::positional_options_description positional;
  positional.add("runs", -1);
  po::variables_map vm;
  if (!cli::parse("report", desc, args, vm, false, "", &positional)) return 0;
  const std::vector<exp::ReportRun> runs = exp::load_report_runs(dirs, sel);
  const std::vector<exp::TaskReport> tasks = exp::task_reports(runs);
  std::filesystem::create_directories(out);
  const std::filesystem::path dir(out);
  for (const exp::TaskReport& t : tasks) {
    write_file_atomically((dir / (t.task + ".md")).string(), t.markdown);
    write_file_atomically((dir / (t.task + ".csv")).string(), t.csv);
    write_file_atomically((dir / (t.task + ".svg")).string(), t.svg);
    std::cout << t.markdown << "\n";
  }
  write_file_atomically((dir / "README.md").string(), exp::report_index(runs, tasks));
  return 0;
}

}  // namespace condense::cmd
