// AutoCompressors (Chevalier et al., EMNLP'23) and their baseline, the Recurrent
// Memory Transformer, as one method under two names:
//   autocompressor: summary vectors accumulate over the segments, randomized segment
//                   lengths, 2 substeps of 2 segments (a detach between substeps);
//   rmt:            only the last κ summary vectors are passed on, fixed segments, one
//                   substep (no stop-gradient).
// Training reads windows of long documents (a books / text dataset; a window never
// crosses a document) and trains the whole model and the κ×D summary table (every row
// starting as the EOS embedding), or LoRA on q,k,v,o and the table over a frozen base.
// mode = full_attention trains the reference: each window one plain segment, no
// summary. The last_segment task scores held-out documents (data.valid): the NLL of a
// target segment after the context compressed, in full, and without it; the facts task
// (facts_task.h, data.facts) the answers to questions about facts stated segments back.
// The icl task scores classification sets (data.icl): accuracy with k demonstrations
// compressed, in plain text, and without them (icl.h).
// The step is a pass graph (segments reading earlier segments' summary rows), so it
// trains at one rank and on every grid: tensor, data and pipeline parallelism, where
// the documents of a step's micro-batches fill the stages while σ travels.
// `condense bench --method autocompressor|rmt` times compression and answering with
// σ against the full context (bench.cpp).
#include <algorithm>
#include <filesystem>
#include <memory>

#include "core/atomic_file.h"
#include "core/checkpoint.h"
#include "core/error.h"
#include "datasets/icl.h"
#include "datasets/token_dataset.h"
#include "datasets/tokenizer.h"
#include "experiments/methods/autocompressor/bench.h"
#include "experiments/methods/autocompressor/facts_task.h"
#include "experiments/methods/autocompressor/icl.h"
#include "experiments/methods/autocompressor/last_segment.h"
#include "experiments/methods/autocompressor/report.h"
#include "experiments/methods/autocompressor/summary_passes.h"
#include "experiments/methods/autocompressor/training.h"
#include "experiments/methods/method.h"
#include "experiments/model_dir.h"
#include "experiments/result_record.h"
#include "experiments/run_dir.h"

namespace condense::autocompressor {
namespace {

namespace fs = std::filesystem;

struct Options {
  std::string train, valid, tokenizer;
  std::string mode = "compress";
  int64_t kappa = 50;
  bool accumulate = true;
  int64_t substeps = 2;
  int64_t segments = 2;
  bool randomize = true;
  std::string segment_lengths;
  int64_t lora_r = 0;
  float lora_alpha = 16;
  std::string eval_contexts = "128,256,512";
  int64_t eval_target = 128, eval_segment = 128, eval_windows = 32, eval_batch = 8;
  // "DEMOS.h5,QUERIES.h5[,K]" per classification set, ';' between sets (one string, as
  // a run's resolved config writes it)
  std::string icl;
  int64_t icl_demos = 8, icl_queries = 500, icl_seed = 1;
};

// One classification set of the icl task: its demonstration pool and its queries.
struct IclSet {
  data::IclExamples pool, tests;
  int64_t demos = 0;  // k
};

// The pieces of `text` between the `sep`s.
std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out(1);
  for (char c : text) {
    if (c == sep)
      out.emplace_back();
    else
      out.back().push_back(c);
  }
  return out;
}

std::shared_ptr<data::TokenDataset> open_documents(const std::string& path,
                                                   const data::Tokenizer& tok) {
  return std::make_shared<data::TokenDataset>(data::TokenDataset::open(path, tok));
}

// Windows of `length` tokens of `set`'s documents, or an error naming `what` when no
// document is that long.
std::unique_ptr<data::DocumentWindows> windows_of(const data::TokenDataset& set, int64_t length,
                                                  const std::string& who, const std::string& what) {
  int64_t longest = 0;
  const std::vector<int64_t>& off = set.offsets();
  for (size_t i = 0; i + 1 < off.size(); ++i) longest = std::max(longest, off[i + 1] - off[i]);
  if (longest < length)
    fail(who, ": no document of ", set.path(), " has the ", length, " tokens ", what,
         " (its longest has ", longest, ")");
  return std::make_unique<data::DocumentWindows>(set, length);
}

class AutoCompressor : public methods::Method {
 public:
  AutoCompressor(const char* name, const Options& defaults) : name_(name), o_(defaults) {}

  const char* name() const override { return name_; }

  void add_options(cli::po::options_description& desc) override {
    namespace po = cli::po;
    const std::string n = name_;
    auto opt = [&](const char* key) { return n + "." + key; };
    desc.add_options()("data.train", po::value(&o_.train)->required(),
                       "long documents .h5 (condense data books | text): training windows")(
        "data.tokenizer", po::value(&o_.tokenizer)->required(), "SentencePiece .model")(
        "data.valid", po::value(&o_.valid)->default_value(""),
        "held-out documents .h5 the last_segment task scores")(
        "data.icl", po::value(&o_.icl)->default_value(""),
        "the icl task's classification sets (condense data icl), DEMOS.h5,QUERIES.h5[,K] "
        "each, ';' between sets: K demonstrations (default: icl_demos) drawn from the first, "
        "the second's examples answered")(
        opt("mode").c_str(), po::value(&o_.mode)->default_value(o_.mode),
        "compress (summary vectors) | full_attention (the reference: one plain segment)")(
        opt("kappa").c_str(), po::value(&o_.kappa)->default_value(o_.kappa),
        "summary vectors per segment")(
        opt("accumulate").c_str(), po::value(&o_.accumulate)->default_value(o_.accumulate),
        "pass on every summary vector so far (else only the last segment's)")(
        opt("substeps").c_str(), po::value(&o_.substeps)->default_value(o_.substeps),
        "slices of a window with a stop-gradient between them")(
        opt("segments").c_str(), po::value(&o_.segments)->default_value(o_.segments),
        "segments per substep")(opt("randomize").c_str(),
                                po::value(&o_.randomize)->default_value(o_.randomize),
                                "random segment lengths (else equal ones)")(
        opt("segment_lengths").c_str(),
        po::value(&o_.segment_lengths)->default_value(o_.segment_lengths),
        "fixed segment lengths of every substep, comma list (in place of --segments; the "
        "window keeps its last tokens)")(
        opt("lora_r").c_str(), po::value(&o_.lora_r)->default_value(o_.lora_r),
        "0: fine-tune every weight; r > 0: LoRA of rank r on q,k,v,o over a frozen base")(
        opt("lora_alpha").c_str(), po::value(&o_.lora_alpha)->default_value(o_.lora_alpha),
        "LoRA alpha")(opt("eval_contexts").c_str(),
                      po::value(&o_.eval_contexts)->default_value(o_.eval_contexts),
                      "last_segment: context budgets (tokens before the target), comma list")(
        opt("eval_target").c_str(), po::value(&o_.eval_target)->default_value(o_.eval_target),
        "last_segment: target segment tokens")(
        opt("eval_segment").c_str(), po::value(&o_.eval_segment)->default_value(o_.eval_segment),
        "last_segment: the longest segment a context is compressed in")(
        opt("eval_windows").c_str(), po::value(&o_.eval_windows)->default_value(o_.eval_windows),
        "last_segment: windows scored (the first of data.valid)")(
        opt("eval_batch").c_str(), po::value(&o_.eval_batch)->default_value(o_.eval_batch),
        "last_segment: windows scored together")(
        opt("icl_demos").c_str(), po::value(&o_.icl_demos)->default_value(o_.icl_demos),
        "icl: demonstrations (k) of a set that names none, compressed in segments of at most "
        "eval_segment tokens")(opt("icl_queries").c_str(),
                               po::value(&o_.icl_queries)->default_value(o_.icl_queries),
                               "icl: queries scored per set (a seeded draw; 0: all)")(
        opt("icl_seed").c_str(), po::value(&o_.icl_seed)->default_value(o_.icl_seed),
        "icl: seed of the demonstration and query draws");
    facts_.add_options(desc);
  }

  void open(const exp::TrainLoopOptions& train, bool training) override {
    t_ = train;
    const std::string n = name_;
    if (o_.mode != "compress" && o_.mode != "full_attention")
      fail(n, ": --", n, ".mode must be compress or full_attention, not '", o_.mode, "'");
    if (o_.kappa < 1) fail(n, ": --", n, ".kappa must be at least 1, got ", o_.kappa);
    if (o_.lora_r < 0) fail(n, ": --", n, ".lora_r must be 0 or more, got ", o_.lora_r);
    rule_.accumulate = o_.accumulate;
    rule_.summarize = o_.mode == "compress";
    segmenting_ = Segmenting{};
    if (rule_.summarize) {
      segmenting_.substeps = o_.substeps;
      segmenting_.segments = o_.segments;
      if (!o_.segment_lengths.empty())
        segmenting_.fixed = cli::parse_int_list(n + ".segment_lengths", o_.segment_lengths, 1);
      else if (!o_.randomize && o_.segments >= 1 && o_.substeps >= 1)
        segmenting_.fixed = equal_split(t_.seq_len / o_.substeps, o_.segments);
    } else {
      segmenting_.substeps = segmenting_.segments = 1;
    }
    rule_.substeps = segmenting_.substeps;
    // Every segmenting error shows here, before anything is written (the position
    // limit, which needs the model, is checked again in model_start).
    segmenting_.max_segment = t_.seq_len;
    if (training) plan_window(t_.seq_len, segmenting_, 0, n);
    eval_.contexts = cli::parse_int_list(n + ".eval_contexts", o_.eval_contexts, 1);
    eval_.target = o_.eval_target;
    eval_.segment = o_.eval_segment;
    eval_.windows = o_.eval_windows;
    eval_.batch = o_.eval_batch;
    eval_.accumulate = o_.accumulate;
    if (eval_.target < 2 || eval_.segment < 1 || eval_.windows < 1 || eval_.batch < 1)
      fail(n, ": --", n, ".eval_target must be at least 2 and eval_segment, eval_windows, ",
           "eval_batch at least 1");
    tok_ = std::make_unique<data::Tokenizer>(data::Tokenizer::load(o_.tokenizer));
    facts_.open(*tok_, eval_.batch, o_.accumulate);
    open_icl();
    if (training) {
      train_set_ = open_documents(o_.train, *tok_);
      train_windows_ = windows_of(*train_set_, t_.seq_len + 1, n,
                                  "a training window takes (--train.seq_len + 1)");
      if (!t_.init_from.empty()) check_init_table(exp::checkpoint_in(t_.init_from));
      // A resumed run gets no model_start: its segments follow its checkpoint's model.
      const std::string resumed = t_.resume ? exp::latest_checkpoint(t_.run_dir) : "";
      if (!resumed.empty()) limit_segments(read_checkpoint_config(resumed));
    }
    if (!o_.valid.empty()) {
      valid_set_ = open_documents(o_.valid, *tok_);
      const int64_t largest = *std::max_element(eval_.contexts.begin(), eval_.contexts.end());
      valid_windows_ = windows_of(*valid_set_, largest + eval_.target, n,
                                  "the last_segment task takes (the largest context + target)");
    }
  }

  std::string tokenizer_path() const override { return o_.tokenizer; }

  methods::ModelStart model_start(const LlamaConfig& requested,
                                  const std::string& init_from) override {
    methods::ModelStart start =
        methods::start_with_weights(requested, init_from, tok_->vocab_size(), name_);
    limit_segments(start.config);
    if (!rule_.summarize) return start;
    table_init_ = init_table_.defined() ? init_table_
                                        : eos_rows(methods::start_embedding(start, t_.seed),
                                                   tok_->eos_id(), o_.kappa);
    return start;
  }

  void extend(Llama& shard) const override {
    if (o_.lora_r > 0) {
      for (const Param& p : shard.params()) shard.set_trainable(p.name, false);
      LoraSpec lora;
      lora.targets = {"q_proj", "k_proj", "v_proj", "o_proj"};
      lora.rank = o_.lora_r;
      lora.alpha = o_.lora_alpha;
      lora.seed = t_.seed;
      shard.add_lora(lora);
    }
    if (!rule_.summarize) return;
    ParamSpec table;
    table.name = kTableName;
    // Resuming or evaluating: the checkpoint holds the table, any value of its shape will do.
    table.value =
        table_init_.defined() ? table_init_ : Tensor::zeros({o_.kappa, shard.config().dim});
    shard.add_param(table);
  }

  std::string describe_data() const override {
    return "data: " + std::to_string(train_windows_->size()) + " windows of " +
           std::to_string(t_.seq_len) + " tokens from " + std::to_string(train_set_->size()) +
           " documents of " + o_.train;
  }

  std::string describe_model(const LlamaConfig&) const override {
    std::string d = "; " + std::string(name_) + " ";
    if (!rule_.summarize) {
      d += "full attention (one segment, no summary)";
    } else {
      d += "kappa " + std::to_string(o_.kappa) + (o_.accumulate ? " accumulated" : " replaced") +
           ", " + std::to_string(segmenting_.substeps) + " substeps x ";
      d += segmenting_.fixed.empty() ? std::to_string(segmenting_.segments) + " random"
                                     : std::to_string(segmenting_.fixed.size()) + " fixed";
      d += " segments";
    }
    d += o_.lora_r > 0 ? ", LoRA r " + std::to_string(o_.lora_r) + " on q,k,v,o, base frozen"
                       : ", full fine-tune";
    return d + "; " + std::to_string(t_.batch_size * t_.seq_len * t_.grad_accum) + " tokens/step";
  }

  std::unique_ptr<methods::BatchSource> batches(int dp_rank, int dp_size) override {
    return std::make_unique<WindowBatches>(*train_windows_, segmenting_, t_.batch_size, t_.seed,
                                           dp_rank, dp_size, name_);
  }

  std::pair<double, float> train_step(exp::Engine& engine,
                                      const std::vector<data::TokenBatch>& batches) override {
    return engine.step_graph(
        name_, training_graph(batches, rule_, engine.micro_batches(), o_.kappa, engine.device()));
  }

  // ---- evaluation

  std::vector<std::string> tasks() const override {
    std::vector<std::string> t;
    if (!o_.valid.empty()) t.push_back("last_segment");
    if (facts_.enabled()) t.push_back("facts");
    if (!o_.icl.empty()) t.push_back("icl");
    return t;
  }

  bool evaluated(const std::string& run_dir, int64_t step) const override {
    return (o_.valid.empty() || fs::exists(summary_path(run_dir, step))) &&
           facts_.evaluated(run_dir, step) &&
           (o_.icl.empty() || fs::exists(icl_summary_path(run_dir, step)));
  }

  std::string evaluate(const std::string& task, const Llama& model, int64_t step,
                       const std::string& run_dir, const exp::RunDir* metrics) override {
    if (task == "icl") return evaluate_icl(model, step, run_dir, metrics);
    const Tensor table = rule_.summarize ? model.param(kTableName).var.value() : Tensor();
    if (task == "facts")
      return facts_.evaluate(model, table, step, run_dir, metrics,
                             step * t_.batch_size * t_.seq_len * t_.grad_accum);
    if (task != "last_segment") return Method::evaluate(task, model, step, run_dir, metrics);
    if (!valid_windows_) fail(name_, ": the last_segment task needs --data.valid");
    const LastSegmentScore s = score_last_segment(model, table, *valid_windows_, eval_);
    const LastSegmentReport r = report_last_segment(
        s, eval_, {name_, o_.mode, rule_.summarize ? o_.kappa : 0, o_.accumulate, step});
    fs::create_directories(run_dir + "/eval");
    write_file_atomically(summary_path(run_dir, step), r.summary.dump(2) + "\n");
    if (metrics) metrics->log(r.metrics);
    append_last_segment_results(s, run_dir, step, rule_.summarize, model.config());
    return r.line;
  }

  // ---- sweep

  // The comparison at κ 4, 16, 50 and the full-attention reference; every run's
  // evaluation also scores the model without context.
  std::string default_grid() const override {
    const std::string n = name_;
    return n + ".mode=compress " + n + ".kappa=4,16,50; " + n + ".mode=full_attention";
  }

  // last_segment.csv / .md: per run and context budget, the newest evaluation's perplexities
  // (none without --data.valid: the facts results are tools/ac_facts_results.py's).
  std::string sweep_table(const std::string& sweep_dir,
                          const std::vector<std::string>& run_dirs) const override {
    return o_.valid.empty() ? std::string() : last_segment_tables(sweep_dir, run_dirs);
  }

  int bench(const cli::Args& args) override {
    return autocompressor::bench(args, name_, o_.accumulate);
  }

 private:
  // The data.icl sets, read (and their templates checked) before anything is scored.
  void open_icl() {
    const std::string n = name_;
    if (o_.icl_demos < 1) fail(n, ": --", n, ".icl_demos must be at least 1, got ", o_.icl_demos);
    if (o_.icl_queries < 0)
      fail(n, ": --", n, ".icl_queries must be 0 (all) or more, got ", o_.icl_queries);
    icl_sets_.clear();
    if (o_.icl.empty()) return;
    for (const std::string& arg : split(o_.icl, ';')) {
      const std::vector<std::string> parts = split(arg, ',');
      if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
        fail(n, ": --data.icl expects DEMOS.h5,QUERIES.h5[,K], got '", arg, "'");
      auto read = [&](const std::string& path) {
        return data::read_icl_dataset(data::TokenDataset::open(path, *tok_));
      };
      const int64_t k =
          parts.size() == 3 ? cli::parse_int_list("data.icl", parts[2], 1).at(0) : o_.icl_demos;
      IclSet set{read(parts[0]), read(parts[1]), k};
      if (set.pool.task != set.tests.task)
        fail(n, ": --data.icl '", arg, "' pairs demonstrations of ", set.pool.task,
             " with queries of ", set.tests.task);
      icl_prompt(set.tests.task);
      icl_sets_.push_back(std::move(set));
    }
  }

  std::string evaluate_icl(const Llama& model, int64_t step, const std::string& run_dir,
                           const exp::RunDir* metrics) {
    if (icl_sets_.empty()) fail(name_, ": the icl task needs --data.icl");
    IclOptions o;
    o.queries = o_.icl_queries;
    o.segment = o_.eval_segment;
    o.seed = static_cast<uint64_t>(o_.icl_seed);
    o.accumulate = o_.accumulate;
    const Tensor table = rule_.summarize ? model.param(kTableName).var.value() : Tensor();
    std::vector<IclTaskScore> scores;
    for (const IclSet& set : icl_sets_) {
      o.demos = set.demos;
      scores.push_back(score_icl_task(model, table, *tok_, set.pool, set.tests, o));
    }
    const IclReport r =
        report_icl(scores, o, {name_, o_.mode, rule_.summarize ? o_.kappa : 0, o_.accumulate, step},
                   model.config());
    fs::create_directories(run_dir + "/eval");
    write_file_atomically(icl_summary_path(run_dir, step), r.summary.dump(2) + "\n");
    for (const exp::ResultRecord& rec : r.records) exp::append_result(run_dir, rec);
    if (metrics) metrics->log(r.metrics);
    return r.line;
  }

  // The longest segment `model` allows: the positions left after its soft prompt and
  // <Sum> rows. Throws when the training windows cannot be cut within it.
  void limit_segments(const LlamaConfig& model) {
    segmenting_.max_segment = model.max_seq_len - soft_prompt_room();
    plan_window(t_.seq_len, segmenting_, 0, name_);
  }

  // Positions a segment's soft prompt and <Sum> rows take at most, in this window's
  // plan: κ <Sum> rows, and σ of κ per earlier segment (accumulated) or κ (replaced).
  int64_t soft_prompt_room() const {
    if (!rule_.summarize) return 0;
    const int64_t per_substep = segmenting_.fixed.empty()
                                    ? segmenting_.segments
                                    : static_cast<int64_t>(segmenting_.fixed.size());
    const int64_t total = per_substep * segmenting_.substeps;
    const int64_t sigma = total <= 1 ? 0 : (o_.accumulate ? total - 1 : 1) * o_.kappa;
    return sigma + o_.kappa;
  }

  static std::vector<int64_t> equal_split(int64_t length, int64_t parts) {
    const std::vector<int64_t> b = slice_bounds(length, parts);
    std::vector<int64_t> out;
    for (size_t i = 0; i + 1 < b.size(); ++i) out.push_back(b[i + 1] - b[i]);
    return out;
  }

  // κ copies of the EOS row of `embedding` [V,D].
  static Tensor eos_rows(const Tensor& embedding, int64_t eos, int64_t kappa) {
    const int64_t D = embedding.dim(1);
    const std::vector<float> e = embedding.to(Device::cpu).to_vector();
    std::vector<float> out;
    for (int64_t j = 0; j < kappa; ++j)
      out.insert(out.end(), e.begin() + eos * D, e.begin() + (eos + 1) * D);
    return Tensor::from_f32(out, {kappa, D});
  }

  // A checkpoint to start from may hold a summary table (a compressor trained before):
  // it must be κ × the model's width; it is then trained on.
  void check_init_table(const std::string& checkpoint) {
    if (!rule_.summarize) return;
    const CheckpointContents c = read_checkpoint(checkpoint, false);
    const auto it = c.params.find(kTableName);
    if (it == c.params.end()) return;
    const Shape want{o_.kappa, c.config.dim};
    if (it->second.shape() != want)
      fail(name_, ": the summary table of ", checkpoint, " is ", shape_str(it->second.shape()),
           ", expected ", shape_str(want), " (--", name_, ".kappa ", o_.kappa, ", model dim ",
           c.config.dim, ")");
    init_table_ = it->second;
  }

  const char* name_;
  Options o_;
  exp::TrainLoopOptions t_;
  Segmenting segmenting_;
  TrainingRule rule_;
  LastSegmentOptions eval_;
  std::unique_ptr<data::Tokenizer> tok_;
  std::shared_ptr<data::TokenDataset> train_set_, valid_set_;
  std::unique_ptr<data::DocumentWindows> train_windows_, valid_windows_;
  std::vector<IclSet> icl_sets_;
  Tensor init_table_, table_init_;
  FactsTask facts_{name_};
};

}  // namespace
}  // namespace condense::autocompressor

namespace condense::methods {

std::unique_ptr<Method> make_autocompressor() {
  return std::make_unique<autocompressor::AutoCompressor>("autocompressor",
                                                          autocompressor::Options{});
}

// RMT as the authors' baseline: no accumulation, fixed (equal) segments, one substep.
std::unique_ptr<Method> make_rmt() {
  autocompressor::Options o;
  o.accumulate = false;
  o.randomize = false;
  o.substeps = 1;
  o.segments = 4;
  return std::make_unique<autocompressor::AutoCompressor>("rmt", o);
}

}  // namespace condense::methods
