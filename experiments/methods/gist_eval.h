// Gisting evaluation (METHODS.md §1.7): greedy generation on the validation splits
// (seen, unseen, human), ROUGE as rouge_score computes it (eval/rouge.h), gisting's
// outputs-{step}-validation_{split}.csv (columns x, y_pred, y_true) and a summary
// JSON per step. A split whose CSV already exists is rescored, not regenerated, so
// an interrupted evaluation resumes where it stopped.
#pragma once
#include <string>
#include <vector>

#include "eval/rouge.h"
#include "experiments/methods/gist_batch.h"
#include "experiments/methods/gist_options.h"

namespace condense::data {
class Tokenizer;
}

namespace condense::gist {

struct SplitScores {
  std::string split;  // seen | unseen | human
  int64_t examples = 0;
  eval::RougeScores rouge;
  double gen_len = 0;  // mean generated tokens (EOS not counted)
  double seconds = 0;  // generation time (0 when rescored from an existing CSV)
};

// The cache mode `eval.cache` names for a condition ("auto": gist caching for the
// gist condition, where it is exact; no cache for the controls).
CacheMode eval_cache_mode(const std::string& name, Condition c);

std::string outputs_csv(const std::string& out_dir, int64_t step, const std::string& split);
std::string summary_json(const std::string& out_dir, int64_t step);

// Evaluates `model` on every split file present in data_dir; writes the CSVs and
// summary-{step}.json into out_dir and returns the scores.
std::vector<SplitScores> evaluate(const Llama& model, const Method& m, CacheMode mode,
                                  const data::Tokenizer& tokenizer, const std::string& data_dir,
                                  const EvalOptions& options, int64_t step,
                                  const std::string& out_dir);

// "seen_rougeL=… unseen_rougeL=… human_rougeL=…" (x100).
std::string format_scores(const std::vector<SplitScores>& scores);

}  // namespace condense::gist
