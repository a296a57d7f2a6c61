// In-context-learning accuracy as the AutoCompressor authors measure it (METHODS.md
// §3.4, their evaluate_icl.py): a classification set's test examples are answered
// after k demonstrations drawn from its training split, which reach the answer
//   - compressed: read in segments (as many whole demonstrations as fit a segment),
//     σ accumulated over them (AutoCompressor) or the last segment's (RMT), the
//     query after σ;
//   - plain: in full before the query, one causal sequence (full attention);
//   - none: not at all, the query alone.
// Prompts are the authors' templates ("Sentence: {x}\nSentiment: {answer}", ...), the
// demonstrations joined by "\n\n", BOS before the first token of the whole prompt
// only. Each option scores the mean NLL of its tokens after the query; the prediction
// is argmin over options of (NLL - calibration NLL), the calibration NLL being the
// option's after the same context with the query's input replaced by "N/A" (computed
// once per context, as the authors do for these sets).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model.h"
#include "datasets/icl.h"
#include "datasets/tokenizer.h"

namespace condense::autocompressor {

// A task's template: input_prefix + input + answer_prefix [+ " " + option].
struct IclPrompt {
  std::string input_prefix, answer_prefix;
  bool balanced = false;  // demonstrations drawn label by label in turn (else at random)
};
// sst2, agnews, mr, subj (the authors' templates); another task is an error.
const IclPrompt& icl_prompt(const std::string& task);

struct IclOptions {
  int64_t demos = 8;       // k
  int64_t queries = 500;   // test examples scored (a seeded draw; 0 or more than the set: all)
  int64_t segment = 128;   // the longest segment the demonstrations are compressed in
  uint64_t seed = 1;       // the draws of demonstrations and queries
  bool accumulate = true;  // AutoCompressor (else RMT: the last segment's σ)
};

// Example i of `ex` as the template writes it; `na` puts "N/A" in place of its input
// (the calibration), option < 0 leaves the answer out.
std::string icl_text(const IclPrompt& p, const data::IclExamples& ex, size_t i, bool na,
                     int64_t option);

// The k demonstrations drawn from `pool` (indices): among the examples whose text fits
// one segment, label by label in turn from a random start when `p.balanced`, else at
// random. Throws (one line) when fewer than k fit.
std::vector<size_t> draw_demonstrations(const IclPrompt& p, const data::IclExamples& pool,
                                        const data::Tokenizer& tok, const IclOptions& o);

struct IclContextIds {
  std::vector<std::vector<int32_t>> segments;  // compressed: BOS + the first, then the rest
  std::vector<int32_t> plain;                  // BOS + every demonstration
};
// The demonstrations' ids, each followed by "\n\n", packed greedily into segments of
// at most o.segment tokens.
IclContextIds icl_context_ids(const IclPrompt& p, const data::IclExamples& pool,
                              const std::vector<size_t>& demos, const data::Tokenizer& tok,
                              int64_t segment);

// What the options are scored after: per layer the keys/values of `length` columns,
// `rows` rows alike (undefined / 0: nothing).
struct IclContext {
  std::vector<LayerKV> kv;
  int64_t length = 0;
};
// σ of the segments (chained, accumulated or not) in the cache, `rows` copies.
IclContext compressed_context(const Llama& model, const Tensor& table,
                              const std::vector<std::vector<int32_t>>& segments, bool accumulate,
                              int64_t rows);
// The tokens themselves in the cache, `rows` copies.
IclContext plain_context(const Llama& model, const std::vector<int32_t>& ids, int64_t rows);

// The rows to score for example i: its text with each option, BOS first when `bos`
// (nothing before it), and the number of option tokens at each row's end.
struct IclRows {
  std::vector<std::vector<int32_t>> ids;
  std::vector<int64_t> option_tokens;
};
IclRows icl_rows(const IclPrompt& p, const data::IclExamples& ex, size_t i, bool na, bool bos,
                 const data::Tokenizer& tok);

// Per row, the mean NLL of its last option_tokens tokens, each predicted by the token
// before it, the rows read after `ctx` (as many rows as it has).
std::vector<double> option_nlls(const Llama& model, const IclContext& ctx, const IclRows& rows);

// argmin over options of nll - calibration (empty calibration: of nll); the first on a tie.
int64_t icl_predict(const std::vector<double>& nll, const std::vector<double>& calibration);

struct IclConditionScore {
  std::string condition;                 // compressed | plain | none
  std::vector<double> calibration;       // per option
  std::vector<std::vector<double>> nll;  // [query][option]
  int64_t correct = 0, correct_uncalibrated = 0;
  // Per option, the queries whose (calibrated) prediction it was: a model that answers
  // one label whatever the query scores that label's share, not what it learned.
  std::vector<int64_t> predicted;
  int64_t memory_vectors = 0;  // σ vectors or demonstration tokens the answer reads
  double seconds = 0;          // scoring every query (the context built once, not counted)
};

struct IclTaskScore {
  std::string task;
  std::vector<std::string> options;     // the label names, in option order
  std::vector<size_t> demos;            // pool indices
  std::vector<int64_t> segment_tokens;  // the compressed segments' lengths
  int64_t demo_tokens = 0;              // the plain context's, BOS included
  std::vector<size_t> queries;          // test indices scored
  int64_t skipped = 0;        // drawn queries left out: a row would pass the model's positions
  std::vector<int64_t> gold;  // per option, the scored queries whose gold label it is
  int64_t majority = 0;       // scored queries of the most frequent gold label
  std::vector<IclConditionScore> conditions;  // compressed (with a table), plain, none
  double accuracy(const IclConditionScore& c) const;
  double accuracy_uncalibrated(const IclConditionScore& c) const;
  double std_error(const IclConditionScore& c) const;  // of accuracy(c), binomial
};

// `table` [κ,D] or undefined (a model without summary tokens: no compressed condition).
IclTaskScore score_icl_task(const Llama& model, const Tensor& table, const data::Tokenizer& tok,
                            const data::IclExamples& pool, const data::IclExamples& tests,
                            const IclOptions& o);

}  // namespace condense::autocompressor
