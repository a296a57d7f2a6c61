// condense eval rouge --csv FILE [--csv FILE ...] [--postprocess]
// Scores outputs CSVs (columns y_pred and y_true, as in gisting's
// outputs-{step}-validation_{split}.csv) with ROUGE as the gisting paper reports it
// (eval/rouge.h). Writes one summary line per file to stderr; stdout ends with
// `rouge1=<n> rouge2=<n> rougeL=<n> rougeLsum=<n>`: x100, the mean over all rows of all files.
#include <iomanip>
#include <iostream>
#include <sstream>

#include "core/error.h"
#include "eval/csv.h"
#include "eval/rouge.h"
#include "experiments/cli.h"

namespace condense::cmd {
namespace {

std::string format_scores(const eval::RougeScores& s) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(4) << "rouge1=" << 100 * s.rouge1
     << " rouge2=" << 100 * s.rouge2 << " rougeL=" << 100 * s.rougeL
     << " rougeLsum=" << 100 * s.rougeLsum;
  return os.str();
}

}  // namespace

int eval_rouge(const cli::Args& args) {
  std::vector<std::string> files;
  bool postprocess = false;
  cli::po::options_description desc("eval rouge");
  desc.add_options()("csv", cli::po::value(&files)->required()->composing(),
                     "outputs CSV with columns y_pred and y_true (repeatable)")(
      "postprocess", cli::po::bool_switch(&postprocess),
      "first apply gisting's post-processing (drop \"\xE2\x81\x87\", strip, one sentence per "
      "line) to both columns; gisting's own CSVs already hold text in that form");
  cli::po::variables_map vm;
  if (!cli::parse("eval rouge", desc, args, vm)) return 0;

  eval::RougeScores sum;
  size_t total_rows = 0;
  for (const std::string& path : files) {
    const eval::CsvTable table = eval::read_csv(path);
    const size_t pred_col = table.column("y_pred");
    const size_t true_col = table.column("y_true");
    if (table.rows.empty()) fail("eval rouge: ", path, ": no rows to score");
    std::vector<std::string> preds, targets;
    for (const auto& row : table.rows) {
      preds.push_back(postprocess ? eval::postprocess_output(row[pred_col]) : row[pred_col]);
      targets.push_back(postprocess ? eval::postprocess_output(row[true_col]) : row[true_col]);
    }
    const eval::RougeScores mean = eval::mean_rouge(preds, targets);
    std::cerr << path << ": " << table.rows.size() << " rows, " << format_scores(mean) << "\n";
    // Weighting each file's mean by its rows gives the mean over all rows without rescoring.
    const double n = double(table.rows.size());
    sum.rouge1 += n * mean.rouge1;
    sum.rouge2 += n * mean.rouge2;
    sum.rougeL += n * mean.rougeL;
    sum.rougeLsum += n * mean.rougeLsum;
    total_rows += table.rows.size();
  }
  const double n = double(total_rows);
  std::cout << format_scores({sum.rouge1 / n, sum.rouge2 / n, sum.rougeL / n, sum.rougeLsum / n})
            << std::endl;
  return 0;
}

}  // namespace condense::cmd
