// Language-model training on a token dataset (the method without --method): every
// window of train.seq_len + 1 tokens, packed record after record, is plain causal
// text with a target at every position. Nothing is added to the model.
#include <memory>
#include <sstream>

#include "core/error.h"
#include "datasets/packed_loader.h"
#include "datasets/token_dataset.h"
#include "datasets/tokenizer.h"
#include "experiments/methods/method.h"
#include "experiments/model_dir.h"

namespace condense::methods {
namespace {

class PackedBatches : public BatchSource {
 public:
  PackedBatches(const data::TokenDataset& set, const exp::TrainLoopOptions& t, int dp_rank,
                int dp_size)
      : loader_(set, t.batch_size, t.seq_len, dp_rank, dp_size),
        tokens_(t.batch_size * t.seq_len) {}
  data::TokenBatch next(int64_t& tokens) override {
    tokens += tokens_;
    return loader_.next();
  }
  int64_t position() const override { return loader_.position(); }
  void set_position(int64_t p) override { loader_.set_position(p); }

 private:
  data::PackedLoader loader_;
  int64_t tokens_;
};

class LanguageModel : public Method {
 public:
  const char* name() const override { return "lm"; }

  void add_options(cli::po::options_description& desc) override {
    desc.add_options()("data.train", cli::po::value(&train_path_)->required(), "training .h5")(
        "data.valid", cli::po::value(&valid_path_)->default_value(""), "validation .h5")(
        "data.tokenizer", cli::po::value(&tokenizer_path_)->required(), "SentencePiece .model");
  }

  void open(const exp::TrainLoopOptions& train, bool training) override {
    t_ = train;
    tokenizer_ = std::make_unique<data::Tokenizer>(data::Tokenizer::load(tokenizer_path_));
    if (!training) return;
    train_set_ =
        std::make_unique<data::TokenDataset>(data::TokenDataset::open(train_path_, *tokenizer_));
    if (!valid_path_.empty())
      valid_set_ =
          std::make_unique<data::TokenDataset>(data::TokenDataset::open(valid_path_, *tokenizer_));
  }

  std::string tokenizer_path() const override { return tokenizer_path_; }

  ModelStart model_start(const LlamaConfig& requested, const std::string& init_from) override {
    ModelStart start;
    start.config = requested;
    if (start.config.vocab_size == 0) start.config.vocab_size = tokenizer_->vocab_size();
    if (start.config.vocab_size < tokenizer_->vocab_size())
      fail("train: --model.vocab_size ", start.config.vocab_size,
           " is smaller than the tokenizer's ", tokenizer_->vocab_size());
    if (!init_from.empty()) start.checkpoint = exp::checkpoint_in(init_from);
    return start;
  }

  std::string describe_model(const LlamaConfig&) const override {
    return "; " + std::to_string(t_.batch_size * t_.seq_len * t_.grad_accum) + " tokens/step";
  }

  std::unique_ptr<BatchSource> batches(int dp_rank, int dp_size) override {
    return std::make_unique<PackedBatches>(*train_set_, t_, dp_rank, dp_size);
  }

  double step_flops(exp::Engine& engine) const override {
    return engine.flops_per_step(t_.batch_size * t_.grad_accum, t_.seq_len);
  }

  // The first eval_batches packed batches of the validation set.
  std::optional<double> validation_loss(exp::Engine& engine, int dp_rank, int dp_size) override {
    if (!valid_set_) return std::nullopt;
    data::PackedLoader loader(*valid_set_, t_.batch_size, t_.seq_len, dp_rank, dp_size);
    double sum = 0;
    for (int64_t b = 0; b < t_.eval_batches; ++b) sum += engine.eval_loss(loader.next());
    return sum / static_cast<double>(t_.eval_batches);
  }

 private:
  std::string train_path_, valid_path_, tokenizer_path_;
  exp::TrainLoopOptions t_;
  std::unique_ptr<data::Tokenizer> tokenizer_;
  std::unique_ptr<data::TokenDataset> train_set_, valid_set_;
};

}  // namespace

std::unique_ptr<Method> make_lm() {
  return std::make_unique<LanguageModel>();
}

}  // namespace condense::methods
