// Gisting (Mu et al. 2023) as a method: k <GIST> tokens (one new vocabulary row)
// between instruction and input, a mask through which what follows them sees the
// instruction only through the gists (layout.h, mask.h), full fine-tuning on the
// completion loss (batch.h), and inference that compresses the instruction to the
// gists' keys/values (inference.h). The controls (pos_control, neg_control) share
// everything but the mask.
#include <iostream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "datasets/tokenizer.h"
#include "experiments/methods/gist/inference.h"
#include "experiments/methods/gist/options.h"
#include "experiments/methods/gist/report.h"
#include "experiments/tasks/instruct_method.h"

namespace condense::gist {

int bench(const cli::Args& args);

namespace {

class Gist : public instruct::InstructMethod {
 public:
  const char* name() const override { return "gist"; }

  void add_options(cli::po::options_description& desc) override {
    gist::add_options(desc, o_);
    InstructMethod::add_options(desc);
  }

  // The options are checked before any data are read.
  void open(const exp::TrainLoopOptions& train, bool training) override {
    if (o_.num_tokens <= 0) fail("gist.num_tokens must be positive");
    parse_condition(o_.condition);
    InstructMethod::open(train, training);
  }

  std::string describe_model(const LlamaConfig&) const override {
    return " (<GIST> = " + std::to_string(m_.layout.gist_id) + ")";
  }

  void check_model(const LlamaConfig& c, const std::string& checkpoint) const override {
    if (c.vocab_size <= m_.layout.gist_id)
      fail(checkpoint, " has no <GIST> row (vocab ", c.vocab_size, ", tokenizer ",
           tokenizer().vocab_size(), ")");
  }

  int64_t prompt_length(const Example& e) const override { return m_.layout.prompt_length(e); }

  // What the answer reads of the instruction: the k gists' entries (gist), the whole
  // instruction and the gists (pos_control), nothing (neg_control).
  int64_t memory_entries(const Example& e) const override {
    const int64_t k = m_.layout.num_tokens;
    if (m_.condition == Condition::gist) return k;
    return m_.condition == Condition::pos_control ? static_cast<int64_t>(e.instruction.size()) + k
                                                  : 0;
  }

  std::string prompt_text(const std::string& instruction, const std::string& input) const override {
    return gist::prompt_text(instruction, input, m_.layout.num_tokens);
  }

  methods::Memory compress(const Llama& model, const methods::Records& records) const override {
    return {gist::compress(model, m_, records, cache_)};
  }

  eval::BatchGenerateResult answer(const Llama& model, const methods::Memory& memory,
                                   const methods::Records& records,
                                   const eval::BatchGenerateConfig& cfg) const override {
    const Batch b = query_batch(m_, records, cache_, model.device());
    return eval::generate_batch(model, memory.kv.empty() ? nullptr : &memory.kv, as_prompt(b), cfg);
  }

  std::string default_grid() const override {
    return "gist.condition=gist gist.num_tokens=1,2,5,10; "
           "gist.condition=pos_control,neg_control gist.num_tokens=1";
  }

  // Gisting's rouge.csv (condition × k × seed; ROUGE-L, exact match), tables, a plot.
  std::string sweep_table(const std::string& sweep_dir,
                          const std::vector<std::string>& run_dirs) const override {
    std::vector<ResultRow> rows;
    for (const std::string& dir : run_dirs) {
      const auto r = read_run_result(dir);
      if (!r) fail("sweep: run ", dir, " left no evaluation summary");
      rows.push_back(*r);
    }
    sort_rows(rows);
    const std::string out = sweep_dir + "/";
    write_results_csv(out + "rouge.csv", rows);
    const std::string md = results_markdown(rows);
    write_file_atomically(out + "rouge.md",
                          "Exact match (EM) and ROUGE-L (x100) on the validation splits, mean "
                          "over seeds ± standard error, greedy decoding (gist runs with gist "
                          "caching); unseen loss: mean completion cross-entropy on "
                          "validation_unseen.\n\n" +
                              md);
    write_results_svg(out + "rouge.svg", rows, "ROUGE-L vs gist tokens (" + sweep_dir + ")");
    return md;
  }

  int bench(const cli::Args& args) override { return gist::bench(args); }

 protected:
  void configure() override {
    const Condition c = parse_condition(o_.condition);
    m_ = {{o_.num_tokens, gist_token_id(tokenizer())}, c, templ().eos};
    cache_ = eval_cache_mode(o_.cache, c);
  }

  int64_t extra_vocab() const override { return 1; }

  instruct::TrainingRows training_rows(const methods::Records& records,
                                       int64_t max_length) const override {
    TrainingBatch b = training_batch(m_, records, max_length);
    return {std::move(b.rows), b.tokens};
  }

  std::string settings() const override {
    return "k=" + std::to_string(o_.num_tokens) + " condition " + o_.condition;
  }

  nlohmann::json about() const override {
    return {{"condition", condition_name(m_.condition)},
            {"num_tokens", m_.layout.num_tokens},
            {"cache", cache_mode_name(cache_)}};
  }

 private:
  Options o_;
  gist::Method m_;
  CacheMode cache_ = CacheMode::none;
};

}  // namespace
}  // namespace condense::gist

namespace condense::methods {
std::unique_ptr<Method> make_gist() {
  return std::make_unique<gist::Gist>();
}
}  // namespace condense::methods
