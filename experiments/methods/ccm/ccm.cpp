// CCM (Kim et al., ICLR'24) as a method: dialogues (the DailyDialog converter's format,
// or the synthetic recall set) become one-pass batches of every time step (batch.h),
// trained on the target turn through a conditional LoRA and a separate <COMP>/<SUM>
// table over a frozen base (adapter.h). A step is the engine's plain one: the batches
// name the table rows of their <COMP>/<SUM> tokens, which the model's first stage
// embeds, so it trains at one rank and on any tp × pp × dp grid.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "core/atomic_file.h"
#include "core/error.h"
#include "datasets/token_dataset.h"
#include "datasets/tokenizer.h"
#include "eval/kv_prefix.h"
#include "eval/std_error.h"
#include "experiments/methods/ccm/adapter.h"
#include "experiments/methods/ccm/batch.h"
#include "experiments/methods/ccm/commands.h"
#include "experiments/methods/ccm/icl.h"
#include "experiments/methods/ccm/layout.h"
#include "experiments/methods/ccm/run.h"
#include "experiments/methods/ccm/score.h"
#include "experiments/methods/ccm/stream.h"
#include "experiments/methods/method.h"
#include "experiments/result_record.h"
#include "experiments/run_dir.h"

namespace condense::ccm {
namespace {

struct Options {
  std::string train, valid, tokenizer;
  int64_t eval_dialogues = 200, eval_batch = 8;
  std::string attn = "concat_recur";
  int64_t n_tok = 2;
  bool sink = false;
  int64_t lora_r = 8;
  float lora_alpha = 16;
  int64_t min_turns = 3;
  bool train_base = false;
  std::string eval_turns;  // "3,4,6,10,15": score each dialogue cut to n turns; "": whole
  bool eval_generate = true;
  int64_t max_turn_tokens = 0;
};

// A dialogue dataset's turns, per dialogue.
struct Dialogues {
  std::vector<std::vector<std::span<const int32_t>>> turns;
  std::shared_ptr<data::TokenDataset> set;  // owns the tokens the spans point into
  int64_t dropped = 0;                      // dialogues left out for a turn too long
  std::vector<size_t> records;              // the record of each dialogue kept
  std::string separator = "\nA:";           // between turns (the dataset's own, if it says)
  std::optional<IclChoices> icl;            // the options of an ICL-episode dataset
  // The task its scores count for in a report: the dataset's result_task attribute
  // (instruction records as dialogues are scored as their instruction task), else "dialogue".
  std::string task = "dialogue";
};

// Leaves out the dialogues with a turn longer than `max_turn_tokens` (0: none), as the
// reference filters DailyDialog (METHODS.md §2.9).
Dialogues read_dialogues(const std::string& path, const data::Tokenizer& tok,
                         int64_t max_turn_tokens) {
  Dialogues d;
  d.set = std::make_shared<data::TokenDataset>(data::TokenDataset::open(path, tok));
  if (d.set->info().kind != "dialogue" || !d.set->has_spans("turn"))
    fail("ccm: ", path, " is a '", d.set->info().kind,
         "' dataset, not a dialogue dataset with turn offsets (condense data "
         "dialogue|recall|icl-episodes)");
  if (has_root_attr(*d.set, "separator")) {
    try {
      d.separator = nlohmann::json::parse(d.set->attr("separator")).get<std::string>();
    } catch (const nlohmann::json::exception&) {
      fail("ccm: ", path, ": attribute separator is not a JSON string");
    }
  }
  if (is_icl_episodes(*d.set)) d.icl = read_icl_choices(*d.set);
  if (has_root_attr(*d.set, "result_task")) d.task = d.set->attr("result_task");
  const std::vector<int64_t> off = d.set->int64s("/turn_offsets");
  for (size_t i = 0; i + 1 < off.size(); ++i) {
    if (off[i + 1] - off[i] < 2)
      fail("ccm: dialogue ", i, " of ", path, " has fewer than 2 turns (a query and a target)");
    std::vector<std::span<const int32_t>> t;
    bool too_long = false;
    for (int64_t r = off[i]; r < off[i + 1]; ++r) {
      t.push_back(d.set->span_tokens("turn", r));
      too_long |= max_turn_tokens > 0 && static_cast<int64_t>(t.back().size()) > max_turn_tokens;
    }
    if (too_long) {
      ++d.dropped;
    } else {
      d.turns.push_back(std::move(t));
      d.records.push_back(i);
    }
  }
  if (d.turns.empty())
    fail("ccm: ", path, " has no dialogue",
         d.dropped ? " with every turn within --ccm.max_turn_tokens" : "");
  return d;
}

// Global batch b is rows [b*B, (b+1)*B) of one seeded permutation of the dialogues
// (repeated every epoch); row i keeps the first k turns, k drawn from [min_turns, len]
// by a generator seeded with (seed, b, i) (every turn when min_turns is 0). The last
// two kept turns are the query and the target; earlier ones are the contexts, dropped
// from the front while the sequence is longer than seq_len + 1.
class DialogueBatches : public methods::BatchSource {
 public:
  DialogueBatches(const Dialogues& d, const Layout& l, const Options& o,
                  const exp::TrainLoopOptions& t, int32_t pad, int dp_rank, int dp_size)
      : d_(d), l_(l), o_(o), t_(t), pad_(pad), rank_(dp_rank), world_(dp_size) {
    order_.resize(d_.turns.size());
    for (size_t i = 0; i < order_.size(); ++i) order_[i] = i;
    std::mt19937_64 g(t_.seed);
    for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[g() % i]);
  }

  data::TokenBatch next(int64_t& tokens) override {
    const int64_t B = t_.batch_size;
    std::vector<Sequence> rows;
    for (int64_t i = 0; i < B; ++i) {
      const auto& turns = d_.turns[order_[(served_ * B + i) % order_.size()]];
      const int64_t len = static_cast<int64_t>(turns.size());
      int64_t k = len;
      if (o_.min_turns > 0) {
        std::mt19937_64 g(t_.seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(served_ + 1)) ^
                          static_cast<uint64_t>(i));
        const int64_t lo = std::min(o_.min_turns, len);
        k = lo + static_cast<int64_t>(g() % static_cast<uint64_t>(len - lo + 1));
      }
      std::vector<std::span<const int32_t>> ctx(turns.begin(), turns.begin() + (k - 2));
      Sequence s = build_sequence(l_, ctx, turns[k - 2], turns[k - 1]);
      while (static_cast<int64_t>(s.tokens.size()) > t_.seq_len + 1 && !ctx.empty()) {
        ctx.erase(ctx.begin());
        s = build_sequence(l_, ctx, turns[k - 2], turns[k - 1]);
      }
      if (static_cast<int64_t>(s.tokens.size()) > t_.seq_len + 1)
        fail("ccm: a query and target of ", s.tokens.size(), " tokens exceed --train.seq_len ",
             t_.seq_len);
      tokens += static_cast<int64_t>(s.tokens.size());
      rows.push_back(std::move(s));
    }
    ++served_;
    const data::TokenBatch all = one_pass_batch(l_, rows, pad_);
    return data::rows_of(all, data::shard_begin(B, rank_, world_),
                         data::shard_end(B, rank_, world_));
  }
  int64_t position() const override { return served_; }
  void set_position(int64_t p) override { served_ = p; }

 private:
  const Dialogues& d_;
  Layout l_;
  Options o_;
  exp::TrainLoopOptions t_;
  int32_t pad_;
  int rank_, world_;
  std::vector<size_t> order_;
  int64_t served_ = 0;
};

class Ccm : public methods::Method {
 public:
  const char* name() const override { return "ccm"; }

  void add_options(cli::po::options_description& desc) override {
    namespace po = cli::po;
    desc.add_options()("data.train", po::value(&o_.train)->required(),
                       "dialogue .h5 (condense data dialogue | recall)")(
        "data.tokenizer", po::value(&o_.tokenizer)->required(), "SentencePiece .model")(
        "data.valid", po::value(&o_.valid)->default_value(""),
        "dialogue .h5 the dialogue task scores (the runs' end, condense eval)")(
        "ccm.eval_dialogues", po::value(&o_.eval_dialogues)->default_value(o_.eval_dialogues),
        "dialogues of data.valid the dialogue task scores (its first ones)")(
        "ccm.eval_batch", po::value(&o_.eval_batch)->default_value(o_.eval_batch),
        "dialogues scored together")(
        "ccm.attn", po::value(&o_.attn)->default_value(o_.attn),
        "concat_recur | merge_recur | concat | merge | gist | pos_control | neg_control | no")(
        "ccm.n_tok", po::value(&o_.n_tok)->default_value(o_.n_tok), "<COMP> tokens per context")(
        "ccm.sink", po::value(&o_.sink)->default_value(o_.sink), "BOS always visible")(
        "ccm.lora_r", po::value(&o_.lora_r)->default_value(o_.lora_r), "conditional LoRA rank")(
        "ccm.lora_alpha", po::value(&o_.lora_alpha)->default_value(o_.lora_alpha),
        "conditional LoRA alpha")("ccm.min_turns", po::value(&o_.min_turns)->default_value(3),
                                  "training keeps the first k turns, k uniform in [min_turns, "
                                  "len] (0: every turn; the recall set needs all)")(
        "ccm.train_base", po::value(&o_.train_base)->default_value(false),
        "train every base weight, no LoRA (the full-context fine-tune a CCM base gets first)")(
        "ccm.eval_turns", po::value(&o_.eval_turns)->default_value(""),
        "the dialogue task scores each dialogue cut to its first n turns, for each n of this "
        "list (dialogues shorter than n are left out of n); empty: each dialogue whole")(
        "ccm.eval_generate", po::value(&o_.eval_generate)->default_value(true),
        "the dialogue task also decodes greedily for exact match (false: perplexity only)")(
        "ccm.max_turn_tokens", po::value(&o_.max_turn_tokens)->default_value(0),
        "leave out dialogues with a turn longer than this, in training and evaluation (0: "
        "keep all)");
    add_stream_options(desc, stream_);
  }

  void open(const exp::TrainLoopOptions& train, bool training) override {
    t_ = train;
    layout_.attn = parse_attn(o_.attn);
    layout_.n_tok = o_.n_tok;
    layout_.sink = o_.sink;
    check_layout(layout_);
    // The run's table has table_rows(attn, n_tok) rows whatever the type, `no` included.
    if (o_.n_tok < 1)
      fail("ccm: --ccm.n_tok must be at least 1 (rows of the <COMP>/<SUM> table), got ", o_.n_tok);
    if (o_.min_turns < 0) fail("ccm: --ccm.min_turns must be 0 or more, got ", o_.min_turns);
    eval_turn_counts();  // fails now on a malformed list
    tok_ = std::make_unique<data::Tokenizer>(data::Tokenizer::load(o_.tokenizer));
    layout_.bos = tok_->bos_id();
    layout_.eos = tok_->eos_id();
    if (o_.max_turn_tokens < 0)
      fail("ccm: --ccm.max_turn_tokens must be 0 (no limit) or more, got ", o_.max_turn_tokens);
    if (training) dialogues_ = read_dialogues(o_.train, *tok_, o_.max_turn_tokens);
    if (!o_.valid.empty()) valid_ = read_dialogues(o_.valid, *tok_, o_.max_turn_tokens);
    if (training && !o_.valid.empty() && dialogues_.separator != valid_.separator)
      fail("ccm: ", o_.train, " and ", o_.valid,
           " join their turns differently (dialogue vs ICL episodes)");
    layout_.sep = tok_->encode_continuation(training ? dialogues_.separator : valid_.separator);
  }

  std::string tokenizer_path() const override { return o_.tokenizer; }

  // The table starts from the embedding of the model the run starts from (§2.1).
  methods::ModelStart model_start(const LlamaConfig& requested,
                                  const std::string& init_from) override {
    methods::ModelStart start =
        methods::start_with_weights(requested, init_from, tok_->vocab_size(), "ccm");
    table_init_ = comp_table_init(methods::start_embedding(start, t_.seed),
                                  table_rows(layout_.attn, layout_.n_tok));
    return start;
  }

  void extend(Llama& shard) const override {
    AdapterOptions a;
    a.lora_r = o_.lora_r;
    a.lora_alpha = o_.lora_alpha;
    a.seed = t_.seed;
    a.train_base = o_.train_base;
    // Resuming: the checkpoint holds the table, any value of its shape will do here.
    const Tensor init =
        table_init_.defined()
            ? table_init_
            : Tensor::zeros({table_rows(layout_.attn, layout_.n_tok), shard.config().dim});
    extend_model(shard, init, a);
  }

  std::string describe_data() const override {
    return "data: " + std::to_string(dialogues_.turns.size()) + " dialogues from " + o_.train +
           (dialogues_.dropped ? " (" + std::to_string(dialogues_.dropped) +
                                     " left out: a turn over --ccm.max_turn_tokens)"
                               : "");
  }
  std::string describe_model(const LlamaConfig&) const override {
    return "; ccm " + std::string(attn_name(layout_.attn)) + " n_tok " + std::to_string(o_.n_tok) +
           (o_.sink ? " sink" : "") +
           (o_.train_base ? ", every weight trained"
                          : ", LoRA r " + std::to_string(o_.lora_r) + " on q,k,v,o, base frozen");
  }

  std::unique_ptr<methods::BatchSource> batches(int dp_rank, int dp_size) override {
    return std::make_unique<DialogueBatches>(dialogues_, layout_, o_, t_, tok_->eos_id(), dp_rank,
                                             dp_size);
  }

  // The dialogue task: perplexity of the last turn (EOS excluded), exact match of the
  // greedy answer and the memory the answer reads (score.h), on data.valid.
  // With --ccm.stream_data, also the stream task (stream.h): CCM vs window-only.
  std::vector<std::string> tasks() const override {
    std::vector<std::string> t;
    if (!o_.valid.empty()) t.push_back("dialogue");
    // Before open() too (condense eval checks the task first): the file says its format.
    if (!o_.valid.empty() && is_icl_episodes_file(o_.valid)) t.push_back("icl");
    if (!stream_.data.empty()) t.push_back("stream");
    return t;
  }

  // Before `condense eval` loads a run: its table must have the rows of the layout asked
  // for, and a base named with --train.init_from must be the one it was trained over
  // (unless the run trained the base itself).
  void check_model(const LlamaConfig&, const std::string& checkpoint) const override {
    check_table(checkpoint, layout_);
    if (!t_.init_from.empty() && !o_.train_base) check_base(checkpoint, t_.init_from);
  }

  int chat(const cli::Args& args) override { return ccm::chat(args); }
  int bench(const cli::Args& args) override { return ccm::bench(args); }

  bool evaluated(const std::string& run_dir, int64_t step) const override {
    return std::filesystem::exists(summary(run_dir, step));
  }

  std::string evaluate(const std::string& task, const Llama& model, int64_t step,
                       const std::string& run_dir, const exp::RunDir* metrics) override {
    if (task == "stream")
      return evaluate_stream(stream_, model, model.param(kTableName).var.value(), layout_.n_tok,
                             *tok_, step, run_dir);
    if (task == "icl") return evaluate_icl(model, step, run_dir, metrics);
    if (task != "dialogue") return Method::evaluate(task, model, step, run_dir, metrics);
    if (valid_.turns.empty()) fail("ccm: the dialogue task needs --data.valid");
    const std::vector<DialogueTurns> d = eval_dialogues();
    const auto t0 = std::chrono::steady_clock::now();
    const DialogueScores scores =
        score_dialogues(model, model.param(kTableName).var.value(), layout_, d, o_.eval_batch,
                        tok_->eos_id(), o_.eval_generate);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const DialogueScore& s = scores.all;
    const int64_t bytes = eval::kv_bytes_per_token(model.config());
    nlohmann::json by_turns = nlohmann::json::object();
    for (const auto& [t, b] : scores.by_context_turns)
      by_turns[std::to_string(t)] = {{"dialogues", b.dialogues},
                                     {"target_tokens", b.tokens},
                                     {"ppl", b.ppl()},
                                     {"exact_match", b.exact_match()},
                                     {"memory_entries", b.mean_memory()}};
    const nlohmann::json j = {{"step", step},
                              {"valid", o_.valid},
                              {"kv_bytes_per_entry", bytes},
                              {"by_context_turns", by_turns},
                              {"attn", attn_name(layout_.attn)},
                              {"n_tok", layout_.n_tok},
                              {"sink", layout_.sink},
                              {"dialogues", s.dialogues},
                              {"target_tokens", s.tokens},
                              {"ppl", s.ppl()},
                              {"exact_match", s.exact_match()},
                              {"memory_entries", s.mean_memory()},
                              {"memory_bytes", s.mean_memory() * static_cast<double>(bytes)}};
    std::filesystem::create_directories(run_dir + "/eval");
    write_file_atomically(summary(run_dir, step), j.dump(2) + "\n");
    if (metrics)
      metrics->log({{"step", step},
                    {"dialogue_ppl", s.ppl()},
                    {"dialogue_exact_match", s.exact_match()},
                    {"dialogue_memory_entries", s.mean_memory()}});
    // Results records: the context is the turns before the query.
    exp::ResultRecord r = exp::record_at(run_dir, step);
    r.task = valid_.task;
    r.condition = attn_name(layout_.attn);
    r.n = s.dialogues;
    r.memory_vectors = s.mean_memory();
    r.memory_bytes = s.mean_memory() * static_cast<double>(bytes);
    for (const DialogueTurns& t : d)
      for (size_t i = 0; i + 2 < t.size(); ++i)
        r.context_tokens += static_cast<double>(t[i].size()) / static_cast<double>(d.size());
    r.seconds_per_query = s.dialogues ? seconds / static_cast<double>(s.dialogues) : 0;
    r.metric = "ppl";
    r.higher_is_better = false;
    r.value = s.ppl();
    exp::append_result(run_dir, r);
    if (o_.eval_generate) {
      r.metric = "exact_match";
      r.higher_is_better = true;
      r.value = s.exact_match();
      r.std_error = eval::fraction_std_error(s.exact, s.dialogues);
      exp::append_result(run_dir, r);
    }
    char line[200];
    std::snprintf(line, sizeof line, "dialogue: ppl %.3f, exact match %.3f, memory %.1f KV entries",
                  s.ppl(), s.exact_match(), s.mean_memory());
    return line;
  }

  // The comparison: CCM-concat and CCM-merge and the gist (fixed) compression at
  // n_tok 1, 2, 8, against full context (no) and no context (neg_control).
  std::string default_grid() const override {
    return "ccm.attn=concat_recur,merge_recur,gist ccm.n_tok=1,2,8; "
           "ccm.attn=no,neg_control ccm.n_tok=1";
  }

  // dialogue.csv / dialogue.md: each run's newest dialogue evaluation.
  std::string sweep_table(const std::string& sweep_dir,
                          const std::vector<std::string>& run_dirs) const override {
    std::string csv = "run,step,attn,n_tok,sink,ppl,exact_match,memory_entries,memory_bytes\n";
    std::string md =
        "| run | step | attention | n_tok | sink | ppl | exact match | KV entries | KV bytes |\n"
        "|---|---|---|---|---|---|---|---|---|\n";
    for (const std::string& dir : run_dirs) {
      std::string newest;
      int64_t step = -1;
      if (std::filesystem::exists(dir + "/eval"))
        for (const auto& e : std::filesystem::directory_iterator(dir + "/eval")) {
          const std::string f = e.path().filename().string();
          if (f.rfind("dialogue-", 0) != 0 || e.path().extension() != ".json") continue;
          const int64_t at = std::stoll(f.substr(9, f.size() - 14));
          if (at > step) step = at, newest = e.path().string();
        }
      if (newest.empty()) fail("sweep: run ", dir, " left no dialogue evaluation");
      std::ifstream in(newest);
      const nlohmann::json j = nlohmann::json::parse(in);
      char row[400];
      const std::string name = std::filesystem::path(dir).filename().string();
      std::snprintf(row, sizeof row, "%s,%lld,%s,%lld,%d,%.4f,%.4f,%.1f,%.0f\n", name.c_str(),
                    static_cast<long long>(step), j["attn"].get<std::string>().c_str(),
                    static_cast<long long>(j["n_tok"].get<int64_t>()),
                    j["sink"].get<bool>() ? 1 : 0, j["ppl"].get<double>(),
                    j["exact_match"].get<double>(), j["memory_entries"].get<double>(),
                    j["memory_bytes"].get<double>());
      csv += row;
      std::snprintf(
          row, sizeof row, "| %s | %lld | %s | %lld | %s | %.3f | %.3f | %.1f | %.0f |\n",
          name.c_str(), static_cast<long long>(step), j["attn"].get<std::string>().c_str(),
          static_cast<long long>(j["n_tok"].get<int64_t>()), j["sink"].get<bool>() ? "yes" : "no",
          j["ppl"].get<double>(), j["exact_match"].get<double>(), j["memory_entries"].get<double>(),
          j["memory_bytes"].get<double>());
      md += row;
    }
    write_file_atomically(sweep_dir + "/dialogue.csv", csv);
    write_file_atomically(sweep_dir + "/dialogue.md",
                          "Dialogue task on data.valid: perplexity of the last turn (EOS "
                          "excluded), exact match of the greedy answer, mean KV entries the "
                          "answer reads.\n\n" +
                              md);
    return md;
  }

 private:
  Options o_;
  exp::TrainLoopOptions t_;
  Layout layout_;
  std::unique_ptr<data::Tokenizer> tok_;
  // The first ccm.eval_dialogues dialogues of data.valid, whole or cut to each of
  // ccm.eval_turns.
  std::vector<DialogueTurns> eval_dialogues() const {
    const size_t n = std::min<size_t>(valid_.turns.size(), o_.eval_dialogues);
    std::vector<DialogueTurns> d(valid_.turns.begin(), valid_.turns.begin() + n);
    if (o_.eval_turns.empty()) return d;
    std::vector<DialogueTurns> cut;
    for (const int64_t turns : eval_turn_counts())
      for (const DialogueTurns& t : d)
        if (static_cast<int64_t>(t.size()) >= turns) cut.emplace_back(t.begin(), t.begin() + turns);
    return cut;
  }
  std::vector<int64_t> eval_turn_counts() const {
    if (o_.eval_turns.empty()) return {};
    std::vector<int64_t> n = cli::parse_int_list("ccm.eval_turns", o_.eval_turns);
    for (const int64_t turns : n)
      if (turns < 2)
        fail("ccm: --ccm.eval_turns counts a query and a target at least, got ", turns);
    return n;
  }
  // The ICL task: accuracy per task over the first ccm.eval_dialogues episodes of each
  // task of data.valid (icl.h), in eval/icl-<step>.json.
  std::string evaluate_icl(const Llama& model, int64_t step, const std::string& run_dir,
                           const exp::RunDir* metrics) const {
    const IclChoices& c = *valid_.icl;
    std::vector<DialogueTurns> episodes;
    std::vector<size_t> records;
    std::map<int32_t, int64_t> taken;
    for (size_t e = 0; e < valid_.turns.size(); ++e) {
      const size_t rec = valid_.records[e];
      if (taken[c.task[rec]]++ >= o_.eval_dialogues) continue;
      episodes.push_back(valid_.turns[e]);
      records.push_back(rec);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::map<std::string, IclAccuracy> acc =
        score_icl(model, model.param(kTableName).var.value(), layout_, episodes, records, c,
                  o_.eval_batch, tok_->eos_id());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json by_task = nlohmann::json::object();
    std::string line = "icl:";
    for (const auto& [name, a] : acc) {
      by_task[name] = {{"episodes", a.episodes},
                       {"accuracy", a.accuracy()},
                       {"accuracy_norm", a.accuracy_norm()},
                       {"majority", a.majority_accuracy()},
                       {"memory_entries", a.mean_memory()}};
      char part[120];
      std::snprintf(part, sizeof part, " %s %.3f (%lld)", name.c_str(), a.accuracy(),
                    static_cast<long long>(a.episodes));
      line += part;
      // Results records: accuracy per ICL task ("icl_all": every episode).
      exp::ResultRecord r = exp::record_at(run_dir, step);
      r.task = "icl_" + name;
      r.condition = attn_name(layout_.attn);
      r.metric = "accuracy";
      r.value = a.accuracy();
      r.std_error = eval::fraction_std_error(a.correct, a.episodes);
      r.n = a.episodes;
      r.memory_vectors = a.mean_memory();
      r.memory_bytes =
          a.mean_memory() * static_cast<double>(eval::kv_bytes_per_token(model.config()));
      r.seconds_per_query = seconds / static_cast<double>(episodes.size());
      exp::append_result(run_dir, r);
    }
    const nlohmann::json j = {{"step", step},
                              {"valid", o_.valid},
                              {"attn", attn_name(layout_.attn)},
                              {"n_tok", layout_.n_tok},
                              {"sink", layout_.sink},
                              {"kv_bytes_per_entry", eval::kv_bytes_per_token(model.config())},
                              {"by_task", by_task}};
    std::filesystem::create_directories(run_dir + "/eval");
    write_file_atomically(run_dir + "/eval/icl-" + std::to_string(step) + ".json",
                          j.dump(2) + "\n");
    if (metrics) metrics->log({{"step", step}, {"icl_accuracy", acc.at("all").accuracy()}});
    return line;
  }
  static std::string summary(const std::string& run_dir, int64_t step) {
    return run_dir + "/eval/dialogue-" + std::to_string(step) + ".json";
  }

  Dialogues dialogues_, valid_;
  StreamTask stream_;
  Tensor table_init_;
};

}  // namespace
}  // namespace condense::ccm

namespace condense::methods {
std::unique_ptr<Method> make_ccm() {
  return std::make_unique<ccm::Ccm>();
}
}  // namespace condense::methods
