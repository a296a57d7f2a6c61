// The facts task (issue 15): documents of `condense data facts` state facts in their
// first segment and ask them in their last (datasets/facts.h). Like last_segment, the
// question segment is the target and a context budget of c tokens is read before it,
// here the fact segment followed by the c - segment filler tokens right before the
// questions, so the facts lie c / segment segments back:
// - full@c: context ⊕ target as one causal sequence (full attention);
// - compressed@c: the context in segments of `segment` tokens, σ the target's soft prompt;
// - control@c: the σ of the next document's context in the batch (its facts, not these);
// - none: the target alone (chance: the answer is a random number).
// Only the answer tokens are scored, under teacher forcing: a question is an exact
// match when every answer token is the argmax (what greedy decoding of the answer
// would give), and its NLL is the answer's summed over its tokens (nats per answer).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/model.h"
#include "datasets/token_dataset.h"
#include "experiments/cli.h"

namespace condense::exp {
class RunDir;
}
namespace condense::data {
class Tokenizer;
}

namespace condense::autocompressor {

struct FactsEvalOptions {
  std::vector<int64_t> contexts{128, 256, 512};  // multiples of the documents' segment
  int64_t documents = 64;                        // the first ones of the dataset
  int64_t batch = 8;
  bool accumulate = true;
};

struct FactsCondition {
  std::string condition;   // full@c, compressed@c, control@c, none
  int64_t context = 0;     // context tokens it stands for
  int64_t softprompt = 0;  // σ vectors the target read
  int64_t questions = 0, exact = 0;
  double nll = 0, nll_std_error = 0;  // per answer, mean over questions
  double exact_match() const;
  double exact_std_error() const;
};

struct FactsScore {
  int64_t documents = 0, segment = 0;
  std::vector<FactsCondition> conditions;  // none, then per budget full, compressed, control
};

// `table` [κ,D] or undefined (no compressed or control condition). Throws (one line)
// when a budget is not a whole number of segments between 1 and the filler's.
FactsScore score_facts(const Llama& model, const Tensor& table, const data::TokenDataset& docs,
                       const FactsEvalOptions& o);

// The task as the autocompressor and rmt methods register it: its options
// (--data.facts, --<method>.facts_contexts, --<method>.facts_documents), its data, and
// its outputs (eval/facts-<step>.json, a metrics line, a ResultRecord per condition
// and metric in results.jsonl).
class FactsTask {
 public:
  explicit FactsTask(std::string method) : method_(std::move(method)) {}
  void add_options(cli::po::options_description& desc);
  // Opens --data.facts (when given) and checks the budgets against it.
  void open(const data::Tokenizer& tok, int64_t batch, bool accumulate);
  // Configured (--data.facts given): the method has the task. Known before open().
  bool enabled() const { return !path_.empty(); }
  bool evaluated(const std::string& run_dir, int64_t step) const;
  std::string evaluate(const Llama& model, const Tensor& table, int64_t step,
                       const std::string& run_dir, const exp::RunDir* metrics,
                       int64_t train_tokens) const;

 private:
  std::string method_, path_, contexts_ = "128,256,512";
  FactsEvalOptions o_;
  std::unique_ptr<data::TokenDataset> docs_;
};

}  // namespace condense::autocompressor
