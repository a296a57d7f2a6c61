// The gist sweep's results in the shape of gisting's rouge.csv: one row per run
// (condition × k × train.seed), ROUGE-L and exact match ×100 on seen / unseen / human
// as CSV; as Markdown, one row per condition × k with the mean over seeds ± its
// standard error, and each condition's paired difference to pos_control (seed by
// seed); an SVG plot of mean ROUGE-L against k (one panel per split) with the two
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
  int64_t seed = 0;                           // train.seed (config.cfg)
  std::map<std::string, double> rougeL;       // split -> ROUGE-L x100 (missing: not evaluated)
  std::map<std::string, double> exact_match;  // split -> exact match x100
  // Completion loss on validation_unseen at `step` (metrics.jsonl val_loss), if logged:
  // a finer signal than ROUGE of whether a small model reads the instruction.
  std::optional<double> val_loss;
};

// The newest eval/summary-{step}.json of a run directory (and its val_loss, and the
// train.seed of its config.cfg), if any.
std::optional<ResultRow> read_run_result(const std::string& run_dir);

// pos_control first, then gist by k, then neg_control (the paper's order), by seed.
void sort_rows(std::vector<ResultRow>& rows);

// A mean over seeds and its standard error (sample sd / sqrt(n); 0 when n = 1).
struct MeanSe {
  double mean = 0, se = 0;
  int64_t n = 0;
};
MeanSe mean_se(const std::vector<double>& values);

// condition,num_gist_tokens,steps,seen,unseen,human (ROUGE-L, as gisting's rouge.csv),
// then seed,exact_match_seen,exact_match_unseen,exact_match_human.
void write_results_csv(const std::string& path, const std::vector<ResultRow>& rows);
// Rows sorted by sort_rows. Standard errors are over seeds (cells without one: a
// single seed); the paired table needs pos_control runs and pairs runs of equal seed.
std::string results_markdown(const std::vector<ResultRow>& rows);
void write_results_svg(const std::string& path, const std::vector<ResultRow>& rows,
                       const std::string& title);

}  // namespace condense::gist
