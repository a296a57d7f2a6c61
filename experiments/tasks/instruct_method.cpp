#include "experiments/tasks/instruct_method.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <sstream>

#include "core/atomic_file.h"
#include "core/checkpoint.h"
#include "core/error.h"
#include "datasets/tokenizer.h"
#include "eval/csv.h"
#include "eval/kv_prefix.h"
#include "experiments/model_dir.h"
#include "experiments/result_record.h"
#include "experiments/run_dir.h"
#include "experiments/tasks/length_sampler.h"

namespace condense::instruct {
namespace fs = std::filesystem;
namespace po = cli::po;

InstructMethod::InstructMethod() = default;
InstructMethod::~InstructMethod() = default;

void InstructMethod::add_options(po::options_description& desc) {
  add_data_options(desc, data_dir_, prepare_);
  add_eval_options(desc, eval_);
}

void InstructMethod::open(const exp::TrainLoopOptions& train, bool training) {
  train_ = train;
  const DataFiles files = DataFiles::in(data_dir_);
  tokenizer_ = std::make_unique<data::Tokenizer>(data::Tokenizer::load(files.tokenizer));
  template_ = Template::make(*tokenizer_);
  configure();
  if (!training) return;
  train_set_ = std::make_unique<Split>(load_split(files.train, *tokenizer_, template_));
  // train.seq_len is the longest training sequence (gisting's max_length).
  auto length = [&](const Example& e) { return prompt_length(e); };
  items_ = trainable(*train_set_, length, train.seq_len);
  lengths_.clear();
  for (int64_t i : items_) {
    const Example& e = train_set_->examples[i];
    lengths_.push_back(
        std::min<int64_t>(train.seq_len, length(e) + static_cast<int64_t>(e.completion.size())));
  }
  if (train.eval_every > 0 && fs::exists(files.eval[1]))
    valid_set_ = std::make_unique<Split>(load_split(files.eval[1], *tokenizer_, template_));
}

std::string InstructMethod::tokenizer_path() const {
  return DataFiles::in(data_dir_).tokenizer;
}

void InstructMethod::prepare_data(bool may_build) {
  const DataFiles files = DataFiles::in(data_dir_);
  if (may_build && !prepare_.train_json.empty()) {
    PrepareOptions p = prepare_;
    p.out = data_dir_;
    prepare(p);
  } else if (!fs::exists(files.train)) {
    fail(files.train, " is missing and no --prepare.train_json was given to build it");
  }
}

// The vocabulary is --model.vocab_size when given (say, a multiple of --tp: tensor
// parallelism splits it), else the tokenizer's plus the method's rows; rows a
// pretrained model lacks are set to the mean of its rows.
methods::ModelStart InstructMethod::model_start(const LlamaConfig& requested,
                                                const std::string& init_from) {
  const int64_t need = tokenizer_->vocab_size() + extra_vocab();
  const int64_t vocab = requested.vocab_size > 0 ? requested.vocab_size : need;
  if (vocab < need)
    fail("train: --model.vocab_size ", vocab, " leaves no room for the ", extra_vocab(),
         " row(s) method ", name(), " adds (need ", need, ")");
  methods::ModelStart start;
  if (!init_from.empty()) {
    const std::string ckpt = exp::checkpoint_in(init_from);
    const int64_t V = read_checkpoint_config(ckpt).vocab_size;
    if (V < tokenizer_->vocab_size() || V > vocab)
      fail("train: ", ckpt, " has vocab ", V, " but the tokenizer has ", tokenizer_->vocab_size(),
           " tokens and the model will have ", vocab);
    start.weights = std::make_unique<Llama>(exp::load_model(ckpt, Device::cpu));
    start.weights->resize_vocab(vocab);
    start.config = start.weights->config();
    return start;
  }
  start.config = requested;
  start.config.vocab_size = vocab;
  return start;
}

std::string InstructMethod::describe_data() const {
  std::ostringstream os;
  os << name() << ": " << items_.size() << " of " << train_set_->examples.size() << " examples fit "
     << train_.seq_len << " tokens";
  const std::string s = settings();
  if (!s.empty()) os << "; " << s;
  return os.str();
}

namespace {

// Length-grouped batches of the trainable examples; every rank draws the same global
// batch and keeps its rows.
class Batches : public methods::BatchSource {
 public:
  using RowsOf = std::function<TrainingRows(const Records&, int64_t)>;
  Batches(const Split& set, const std::vector<int64_t>& items, const std::vector<int64_t>& lengths,
          const exp::TrainLoopOptions& t, int dp_rank, int dp_size, RowsOf rows)
      : set_(set),
        sampler_(items, lengths, t.batch_size, t.seed),
        max_length_(t.seq_len),
        dp_rank_(dp_rank),
        dp_size_(dp_size),
        rows_(std::move(rows)) {}
  data::TokenBatch next(int64_t& tokens) override {
    Records records;
    for (int64_t i : sampler_.next()) records.push_back(&set_.examples[i]);
    const TrainingRows b = rows_(records, max_length_);
    tokens += b.tokens;
    return data::rows_of(b.rows, data::shard_begin(b.rows.rows, dp_rank_, dp_size_),
                         data::shard_end(b.rows.rows, dp_rank_, dp_size_));
  }
  int64_t position() const override { return sampler_.position(); }
  void set_position(int64_t p) override { sampler_.set_position(p); }

 private:
  const Split& set_;
  BatchSampler sampler_;
  int64_t max_length_;
  int dp_rank_, dp_size_;
  RowsOf rows_;
};

}  // namespace

std::unique_ptr<methods::BatchSource> InstructMethod::batches(int dp_rank, int dp_size) {
  return std::make_unique<Batches>(
      *train_set_, items_, lengths_, train_, dp_rank, dp_size,
      [this](const Records& r, int64_t max_length) { return training_rows(r, max_length); });
}

// Mean completion loss over the first eval_batches batches of validation_unseen (fixed
// examples, in file order).
std::optional<double> InstructMethod::validation_loss(exp::Engine& engine, int dp_rank,
                                                      int dp_size) {
  if (!valid_set_) return std::nullopt;
  auto length = [&](const Example& e) { return prompt_length(e); };
  const std::vector<int64_t> idx = trainable(*valid_set_, length, train_.seq_len);
  const int64_t bs = train_.batch_size;
  double sum = 0;
  int64_t n = 0;
  for (int64_t b = 0; b < train_.eval_batches && (b + 1) * bs <= int64_t(idx.size()); ++b, ++n) {
    Records rows;
    for (int64_t r = 0; r < bs; ++r) rows.push_back(&valid_set_->examples[idx[b * bs + r]]);
    const TrainingRows t = training_rows(rows, train_.seq_len);
    sum += engine.eval_loss(data::rows_of(t.rows, data::shard_begin(t.rows.rows, dp_rank, dp_size),
                                          data::shard_end(t.rows.rows, dp_rank, dp_size)));
  }
  return n ? sum / double(n) : std::nan("");
}

bool InstructMethod::evaluated(const std::string& run_dir, int64_t step) const {
  return fs::exists(summary_json(run_dir + "/eval", step));
}

std::string InstructMethod::evaluate(const std::string& task, const Llama& model, int64_t step,
                                     const std::string& run_dir, const exp::RunDir* metrics) {
  if (task != "rouge") return Method::evaluate(task, model, step, run_dir, metrics);
  const std::vector<SplitScores> scores =
      evaluate_rouge(model, *this, *tokenizer_, data_dir_, eval_, step, run_dir + "/eval", about());
  if (metrics) {
    nlohmann::json j = {{"step", step}};
    for (const SplitScores& s : scores) {
      j[s.split + "_rouge1"] = 100 * s.rouge.rouge1;
      j[s.split + "_rouge2"] = 100 * s.rouge.rouge2;
      j[s.split + "_rougeL"] = 100 * s.rouge.rougeL;
      j[s.split + "_rougeLsum"] = 100 * s.rouge.rougeLsum;
    }
    metrics->log(j);
  }
  // Results records: per split, ROUGE-L and exact match (fractions) of the method's
  // condition (gist's own: gist, pos_control, neg_control; else the method's name).
  const nlohmann::json settings = about();
  const std::string condition = settings.value("condition", std::string(name()));
  for (const SplitScores& s : scores) {
    exp::ResultRecord r = exp::record_at(run_dir, step);
    r.task = "instruct_" + s.split;
    r.condition = condition;
    r.n = s.examples;
    r.memory_vectors = s.memory_entries;
    r.memory_bytes =
        s.memory_entries * static_cast<double>(eval::kv_bytes_per_token(model.config()));
    r.context_tokens = s.context_tokens;
    r.seconds_per_query = s.examples ? s.seconds / static_cast<double>(s.examples) : 0;
    r.metric = "rouge_l";
    r.value = s.rouge.rougeL;
    r.std_error = s.rougeL_std_error;
    exp::append_result(run_dir, r);
    r.metric = "exact_match";
    r.value = s.exact_match;
    r.std_error = s.exact_match_std_error;
    exp::append_result(run_dir, r);
  }
  return format_scores(scores);
}

// run,steps,seen,unseen,human: ROUGE-L x100 of each run's newest evaluation.
std::string InstructMethod::sweep_table(const std::string& sweep_dir,
                                        const std::vector<std::string>& run_dirs) const {
  std::vector<std::vector<std::string>> rows;
  std::ostringstream md;
  md << "| run | steps | seen | unseen | human |\n|---|---:|---:|---:|---:|\n";
  for (const std::string& dir : run_dirs) {
    int64_t newest = -1;
    for (const auto& e : fs::directory_iterator(fs::path(dir) / "eval")) {
      const std::string n = e.path().filename().string();
      if (n.rfind("summary-", 0) == 0 && e.path().extension() == ".json")
        newest = std::max<int64_t>(newest, std::stoll(n.substr(8, n.size() - 13)));
    }
    if (newest < 0) fail("sweep: ", dir, " has no evaluation summary");
    std::ifstream in(summary_json(dir + "/eval", newest));
    const nlohmann::json j = nlohmann::json::parse(in);
    std::vector<std::string> row = {fs::path(dir).filename().string(), std::to_string(newest)};
    for (const std::string& split : kEvalSplits) {
      std::ostringstream v;
      if (j.contains("splits") && j["splits"].contains(split))
        v << std::fixed << std::setprecision(2) << j["splits"][split]["rougeL"].get<double>();
      row.push_back(v.str());
    }
    md << "| " << row[0] << " | " << row[1] << " | " << row[2] << " | " << row[3] << " | " << row[4]
       << " |\n";
    rows.push_back(std::move(row));
  }
  const fs::path out(sweep_dir);
  eval::write_csv((out / "rouge.csv").string(), {"run", "steps", "seen", "unseen", "human"}, rows);
  write_file_atomically((out / "rouge.md").string(),
                        "ROUGE-L (x100) on the validation splits, greedy decoding.\n\n" + md.str());
  return md.str();
}

}  // namespace condense::instruct
