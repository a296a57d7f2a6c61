// The ROUGE task on instruction data: greedy answers to the validation splits (seen,
// unseen, human) through a method's compress() and answer(), ROUGE as rouge_score
// computes it (eval/rouge.h), outputs-{step}-validation_{split}.csv (columns x,
// y_pred, y_true, as the gisting paper's code writes them) and a summary JSON per
// step. A split whose CSV already exists is rescored, not regenerated, so an
// interrupted evaluation resumes where it stopped.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/rouge.h"
#include "experiments/cli.h"
#include "experiments/methods/method.h"

namespace condense::data {
class Tokenizer;
}

namespace condense::instruct {

struct EvalOptions {
  int64_t max_examples = 0;  // per split, after a seeded shuffle (0: all)
  int64_t batch_size = 16;
  int64_t max_new_tokens = 128;
  int64_t every = 0;  // evaluation every N training steps (0: at the end only)
};

// [eval] max_examples, batch_size, max_new_tokens, every.
void add_eval_options(cli::po::options_description& desc, EvalOptions& o);

struct SplitScores {
  std::string split;  // seen | unseen | human
  int64_t examples = 0;
  eval::RougeScores rouge;
  double exact_match = 0;  // eval::exact_match: the fraction of answers exactly right
  double gen_len = 0;      // mean generated tokens (EOS not counted)
  double seconds = 0;      // generation time (0 when rescored from a CSV no summary times)
  double rougeL_std_error = 0, exact_match_std_error = 0;
  // Means over the examples: the method's memory_entries() and the instruction's tokens.
  double memory_entries = 0, context_tokens = 0;
};

std::string outputs_csv(const std::string& out_dir, int64_t step, const std::string& split);
std::string summary_json(const std::string& out_dir, int64_t step);

// Evaluates `model` under `method` on every split file present in data_dir; writes the
// CSVs and summary-{step}.json (with `about`'s fields: the method's settings) into
// out_dir and returns the scores.
std::vector<SplitScores> evaluate_rouge(const Llama& model, const methods::Method& method,
                                        const data::Tokenizer& tokenizer,
                                        const std::string& data_dir, const EvalOptions& options,
                                        int64_t step, const std::string& out_dir,
                                        const nlohmann::json& about);

// "seen_rougeL=… unseen_rougeL=… human_rougeL=…" (x100).
std::string format_scores(const std::vector<SplitScores>& scores);

}  // namespace condense::instruct
