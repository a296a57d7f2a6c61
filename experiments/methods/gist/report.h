// The gist sweep's results in the shape of gisting's rouge.csv:
// one row per condition × k, ROUGE-L ×100 on seen / unseen / human, as CSV and
// Markdown, and an SVG plot of ROUGE-L against k (one panel per split) with the two
// controls drawn as horizontal lines.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace condense::gist {

struct ResultRow {
  std::string condition;
  int num_tokens = 1;
  int64_t step = 0;
  std::map<std::string, double> rougeL;  // split -> ROUGE-L x100 (missing: not evaluated)
  // Completion loss on validation_unseen at `step` (metrics.jsonl val_loss), if logged:
  // a finer signal than ROUGE of whether a small model reads the instruction.
  std::optional<double> val_loss;
};

// The newest eval/summary-{step}.json of a run directory (and its val_loss), if any.
std::optional<ResultRow> read_run_result(const std::string& run_dir);

// pos_control first, then gist by k, then neg_control (the paper's order).
void sort_rows(std::vector<ResultRow>& rows);

// condition,num_gist_tokens,steps,seen,unseen,human
void write_results_csv(const std::string& path, const std::vector<ResultRow>& rows);
std::string results_markdown(const std::vector<ResultRow>& rows);
void write_results_svg(const std::string& path, const std::vector<ResultRow>& rows,
                       const std::string& title);

}  // namespace condense::gist
