// What every method trained and evaluated on instruction data shares: the data options
// ([data] dir, [prepare], [eval]), the tokenizer and splits, length-grouped training
// batches, the validation loss on validation_unseen, the ROUGE task, a pretrained start
// with the method's extra vocabulary rows, and a generic sweep table. A method derives
// from it and says how its records become training rows and how it answers.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>

#include "experiments/methods/method.h"
#include "experiments/tasks/instruct.h"
#include "experiments/tasks/rouge_task.h"

namespace condense::data {
class Tokenizer;
}

namespace condense::instruct {

using methods::Records;

// A training batch of a method: the rows as the engines take them, and its real tokens.
struct TrainingRows {
  data::TokenBatch rows;
  int64_t tokens = 0;
};

class InstructMethod : public methods::Method {
 public:
  InstructMethod();
  ~InstructMethod() override;

  void add_options(cli::po::options_description& desc) override;
  void open(const exp::TrainLoopOptions& train, bool training) override;
  std::string tokenizer_path() const override;
  void prepare_data(bool may_build) override;

  methods::ModelStart model_start(const LlamaConfig& requested,
                                  const std::string& init_from) override;
  std::string describe_data() const override;
  std::unique_ptr<methods::BatchSource> batches(int dp_rank, int dp_size) override;
  std::optional<double> validation_loss(exp::Engine& engine, int dp_rank, int dp_size) override;

  std::vector<std::string> tasks() const override { return {"rouge"}; }
  int64_t eval_every() const override { return eval_.every; }
  bool evaluated(const std::string& run_dir, int64_t step) const override;
  std::string evaluate(const std::string& task, const Llama& model, int64_t step,
                       const std::string& run_dir, const exp::RunDir* metrics) override;
  std::string sweep_table(const std::string& sweep_dir,
                          const std::vector<std::string>& run_dirs) const override;

 protected:
  // Called by open() once the tokenizer and template are loaded, before the data: where
  // a method derives what prompt_length() and training_rows() need.
  virtual void configure() {}
  // Vocabulary rows the method appends after the tokenizer's (its own tokens).
  virtual int64_t extra_vocab() const { return 0; }
  // Training rows of `records`: prompt ⊕ completion cut to max_length, targets on the
  // completion only.
  virtual TrainingRows training_rows(const Records& records, int64_t max_length) const = 0;
  // The method's settings, for the banner ("k=1 condition gist") and the evaluation
  // summary (a JSON object).
  virtual std::string settings() const { return ""; }
  virtual nlohmann::json about() const { return nlohmann::json::object(); }

  const data::Tokenizer& tokenizer() const { return *tokenizer_; }
  const Template& templ() const { return template_; }
  const std::string& data_dir() const { return data_dir_; }

 private:
  std::string data_dir_;
  PrepareOptions prepare_;
  EvalOptions eval_;
  exp::TrainLoopOptions train_;
  std::unique_ptr<data::Tokenizer> tokenizer_;
  Template template_;
  std::unique_ptr<Split> train_set_, valid_set_;
  std::vector<int64_t> items_, lengths_;  // the trainable training examples and their lengths
};

}  // namespace condense::instruct
